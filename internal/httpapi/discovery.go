package httpapi

import (
	"net/http"

	"github.com/latchauth/latch/internal/auth"
)

// discoveryBody is the authorization server metadata (RFC 8414), served
// both as /.well-known/oauth-authorization-server and, for OpenID Connect
// clients such as github.com/coreos/go-oidc, as
// /.well-known/openid-configuration (OpenID Connect Discovery 1.0).
// id_token_signing_alg_values_supported lists the algorithms of the
// published keys, the current key's first: ID tokens and access tokens
// are signed with the same keys.
type discoveryBody struct {
	Issuer                   string   `json:"issuer"`
	AuthorizationEndpoint    string   `json:"authorization_endpoint"`
	TokenEndpoint            string   `json:"token_endpoint"`
	UserInfoEndpoint         string   `json:"userinfo_endpoint"`
	EndSessionEndpoint       string   `json:"end_session_endpoint"`
	RevocationEndpoint       string   `json:"revocation_endpoint"`
	IntrospectionEndpoint    string   `json:"introspection_endpoint"`
	JWKSURI                  string   `json:"jwks_uri"`
	ScopesSupported          []string `json:"scopes_supported"`
	GrantTypesSupported      []string `json:"grant_types_supported"`
	ResponseTypesSupported   []string `json:"response_types_supported"`
	ResponseModesSupported   []string `json:"response_modes_supported"`
	CodeChallengeMethods     []string `json:"code_challenge_methods_supported"`
	PromptValuesSupported    []string `json:"prompt_values_supported"`
	TokenAuthMethods         []string `json:"token_endpoint_auth_methods_supported"`
	RevocationAuthMethods    []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionAuthMethods []string `json:"introspection_endpoint_auth_methods_supported"`
	IDTokenSigningAlgs       []string `json:"id_token_signing_alg_values_supported"`
	SubjectTypesSupported    []string `json:"subject_types_supported"`
	ClaimsSupported          []string `json:"claims_supported"`
	// RFC 9207: the authorization response carries iss.
	AuthorizationResponseISS bool `json:"authorization_response_iss_parameter_supported"`
}

// handleDiscovery answers the metadata document, cacheable for five
// minutes like the JWKS.
func (s *server) handleDiscovery() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		iss := s.svc.Issuer()
		// Registered confidential clients may appear at any time.
		methods := []string{authNone, authBasic, authPost}
		introspection := []string{authBasic}
		algs := s.svc.SigningAlgs()
		if algs == nil {
			algs = []string{}
		}
		w.Header().Set("Cache-Control", "public, max-age=300")
		encode(w, http.StatusOK, discoveryBody{
			Issuer:                   iss,
			AuthorizationEndpoint:    iss + auth.AuthorizePath,
			TokenEndpoint:            iss + "/oauth/token",
			UserInfoEndpoint:         iss + "/oauth/userinfo",
			EndSessionEndpoint:       iss + "/oauth/logout",
			RevocationEndpoint:       iss + "/oauth/revoke",
			IntrospectionEndpoint:    iss + "/oauth/introspect",
			JWKSURI:                  iss + "/.well-known/jwks.json",
			ScopesSupported:          []string{auth.ScopeOpenID, auth.ScopeEmail, auth.ScopeOffline},
			GrantTypesSupported:      []string{auth.GrantAuthorizationCode, auth.GrantRefreshToken, auth.GrantPassword, grantMFA},
			ResponseTypesSupported:   []string{"code"},
			ResponseModesSupported:   []string{"query"},
			CodeChallengeMethods:     []string{"S256"},
			PromptValuesSupported:    []string{"none", "login", "consent", "select_account"},
			TokenAuthMethods:         methods,
			RevocationAuthMethods:    methods,
			IntrospectionAuthMethods: introspection,
			IDTokenSigningAlgs:       algs,
			SubjectTypesSupported:    []string{"public"},
			ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce",
				"amr", "acr", "sid", "roles", "email", "email_verified"},
			AuthorizationResponseISS: true,
		})
		return nil
	})
}
