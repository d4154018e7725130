package httpapi

import (
	"net/http"
)

// discoveryBody is the authorization server metadata (RFC 8414), served
// both as /.well-known/oauth-authorization-server and, for OpenID Connect
// clients such as github.com/coreos/go-oidc, as
// /.well-known/openid-configuration.
//
// latch has no authorization endpoint (no browser redirect flows), so
// authorization_endpoint is absent and response_types_supported is empty;
// it issues no ID tokens, but its access tokens are JWTs that OpenID
// libraries verify like ID tokens, which is what
// id_token_signing_alg_values_supported is for: the algorithms of the
// published keys, the current key's first.
type discoveryBody struct {
	Issuer                   string   `json:"issuer"`
	TokenEndpoint            string   `json:"token_endpoint"`
	RevocationEndpoint       string   `json:"revocation_endpoint"`
	IntrospectionEndpoint    string   `json:"introspection_endpoint"`
	JWKSURI                  string   `json:"jwks_uri"`
	GrantTypesSupported      []string `json:"grant_types_supported"`
	ResponseTypesSupported   []string `json:"response_types_supported"`
	TokenAuthMethods         []string `json:"token_endpoint_auth_methods_supported"`
	RevocationAuthMethods    []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionAuthMethods []string `json:"introspection_endpoint_auth_methods_supported"`
	IDTokenSigningAlgs       []string `json:"id_token_signing_alg_values_supported"`
	SubjectTypesSupported    []string `json:"subject_types_supported"`
	ClaimsSupported          []string `json:"claims_supported"`
}

// handleDiscovery answers the metadata document, cacheable for five
// minutes like the JWKS.
func (s *server) handleDiscovery() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		iss := s.svc.Issuer()
		methods := []string{authNone}
		introspection := []string{}
		if len(s.oauthClients) > 0 {
			methods = append(methods, authBasic, authPost)
			introspection = append(introspection, authBasic)
		}
		algs := s.svc.SigningAlgs()
		if algs == nil {
			algs = []string{}
		}
		w.Header().Set("Cache-Control", "public, max-age=300")
		encode(w, http.StatusOK, discoveryBody{
			Issuer:                   iss,
			TokenEndpoint:            iss + "/oauth/token",
			RevocationEndpoint:       iss + "/oauth/revoke",
			IntrospectionEndpoint:    iss + "/oauth/introspect",
			JWKSURI:                  iss + "/.well-known/jwks.json",
			GrantTypesSupported:      []string{"password", "refresh_token", grantMFA},
			ResponseTypesSupported:   []string{},
			TokenAuthMethods:         methods,
			RevocationAuthMethods:    methods,
			IntrospectionAuthMethods: introspection,
			IDTokenSigningAlgs:       algs,
			SubjectTypesSupported:    []string{"public"},
			ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti",
				"sid", "roles", "email", "email_verified"},
		})
		return nil
	})
}
