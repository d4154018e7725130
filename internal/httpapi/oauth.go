package httpapi

import (
	"errors"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// The OAuth 2.0 endpoints: token (RFC 6749 §4.3 and §6), revocation
// (RFC 7009) and introspection (RFC 7662). They read
// application/x-www-form-urlencoded bodies and answer errors as RFC 6749
// §5.2 JSON {"error", "error_description"} instead of problem details.

// oauthCodes are the error codes of RFC 6749 §5.2 (and §4.1.2.1's
// temporarily_unavailable and server_error) that the OAuth endpoints answer.
var oauthCodes = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true,
	"unauthorized_client": true, "unsupported_grant_type": true, "invalid_scope": true,
	"temporarily_unavailable": true, "server_error": true,
}

// oauthErr makes an apiError with an RFC 6749 code and a description safe
// to show.
func oauthErr(status int, code, description string) *apiError {
	return &apiError{status: status, code: code, detail: description}
}

// oauthFormat answers RFC 6749 §5.2 JSON: the OAuth endpoints.
var oauthFormat = errorFormat{classify: toOAuthError, write: writeOAuthError}

// toOAuthError maps any error of an OAuth handler to the answer. Domain
// errors of the password and refresh grants become invalid_grant (bad
// credentials, a bad, used or expired refresh token, an unconfirmed or
// disabled account: each with its own description); limits answer 429 and
// an unavailable store 503, both temporarily_unavailable with Retry-After.
func toOAuthError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		if oauthCodes[ae.code] {
			return ae
		}
		if ae.status < 500 {
			// The transport's own refusals (body too large, unreadable).
			return &apiError{status: ae.status, code: "invalid_request", detail: ae.detail}
		}
	}
	var de *auth.Error
	if errors.As(err, &de) {
		switch de.Code {
		case auth.CodeInvalidCredentials, auth.CodeInvalidBearer, auth.CodeTokenExpired, auth.CodeInvalidToken,
			auth.CodeEmailNotConfirmed, auth.CodeAccountDisabled:
			return &apiError{status: http.StatusBadRequest, code: "invalid_grant", detail: de.Message, cause: err}
		case auth.CodeMFARequired:
			e := &apiError{status: http.StatusForbidden, code: "mfa_required", detail: de.Message, cause: err}
			if errors.As(err, &e.mfa) {
				e.detail = "this account has a second factor: complete the login with grant_type=" + grantMFA + ", mfa_token and otp (or recovery_code"
				if slices.Contains(e.mfa.Methods, auth.MethodPasskey) {
					e.detail += ", or challenge_id and credential of a passkey begun at POST /v1/passkeys/login/begin with the mfa_token"
				}
				e.detail += ")"
			}
			return e
		case auth.CodeInvalidRequest, auth.CodeInvalidEmail:
			return &apiError{status: http.StatusBadRequest, code: "invalid_request", detail: de.Message, cause: err}
		case auth.CodeRateLimited:
			return &apiError{status: http.StatusTooManyRequests, code: "temporarily_unavailable",
				detail: de.Message, retryAfter: max(de.RetryAfter, time.Second), cause: err}
		case auth.CodeUnavailable:
			return &apiError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable",
				detail: de.Message, retryAfter: max(de.RetryAfter, time.Second), cause: err}
		}
	}
	if auth.ErrorCode(err) == auth.CodeUnavailable {
		return &apiError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable",
			detail: detailUnavailable, retryAfter: time.Second, cause: err}
	}
	return &apiError{status: http.StatusInternalServerError, code: "server_error", detail: detailInternal, cause: err}
}

// oauthErrorBody is RFC 6749 §5.2's error answer.
type oauthErrorBody struct {
	Error       string   `json:"error"`
	Description string   `json:"error_description,omitempty"`
	MFAToken    string   `json:"mfa_token,omitempty"`
	Methods     []string `json:"methods,omitempty"` // with mfa_token: the second factors the account has
}

// writeOAuthError writes e as RFC 6749 §5.2 JSON with its headers.
func writeOAuthError(w http.ResponseWriter, e *apiError) {
	setErrorHeaders(w, e)
	b := oauthErrorBody{Error: e.code, Description: e.detail}
	if e.mfa != nil {
		b.MFAToken, b.Methods = e.mfa.Token, e.mfa.Methods
	}
	encode(w, e.status, b)
}

// handleOAuth adapts an OAuth handler: every answer is marked no-store
// (RFC 6749 §5.1) and an error is answered as §5.2 JSON.
func (s *server) handleOAuth(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		if err := h(w, r); err != nil {
			s.writeErrorAs(w, r, oauthFormat, err)
		}
	})
}

// readOAuthForm reads an OAuth request's form body: Content-Type
// application/x-www-form-urlencoded (a charset, if any, UTF-8), at most
// 64 KiB (413), no parameters in the query string (credentials do not
// belong in URLs), no parameter twice.
func readOAuthForm(w http.ResponseWriter, r *http.Request) (map[string]string, error) {
	if r.URL.RawQuery != "" {
		return nil, oauthErr(http.StatusBadRequest, "invalid_request",
			"parameters must be sent in the request body, not the query string")
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, oauthErr(http.StatusBadRequest, "invalid_request",
			"Content-Type must be application/x-www-form-urlencoded")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return nil, oauthErr(http.StatusBadRequest, "invalid_request", "the form must be UTF-8")
	}
	b, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	form, err := parseOAuthForm(string(b))
	if err != nil {
		desc := "malformed form body"
		if errors.Is(err, errFormDuplicate) {
			desc = "a parameter is given more than once: " + strings.TrimPrefix(err.Error(), errFormDuplicate.Error()+": ")
		}
		return nil, &apiError{status: http.StatusBadRequest, code: "invalid_request", detail: desc, cause: err}
	}
	return form, nil
}

// readClientRequest reads the form of a client's request to the token or
// revocation endpoint and authenticates the client it names.
func (s *server) readClientRequest(w http.ResponseWriter, r *http.Request) (map[string]string, oauthClient, error) {
	form, err := readOAuthForm(w, r)
	if err != nil {
		return nil, oauthClient{}, err
	}
	cl, err := s.authenticateClient(r, form)
	if err != nil {
		return nil, oauthClient{}, err
	}
	return form, cl, nil
}

// oauthTokenBody is RFC 6749 §5.1's successful answer.
type oauthTokenBody struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

// handleOAuthToken is the token endpoint: the password grant (RFC 6749
// §4.3) and the refresh token grant (§6), for public clients (no or only a
// client_id) and confidential ones (LATCH_OAUTH_CLIENTS). The scope
// parameter is accepted and ignored: latch has no scopes, what a token
// allows is in its roles.
func (s *server) handleOAuthToken() http.Handler {
	return s.handleOAuth(func(w http.ResponseWriter, r *http.Request) error {
		form, caller, err := s.readClientRequest(w, r)
		if err != nil {
			return err
		}
		if g := form["grant_type"]; g != "" && knownGrant(g) && !caller.allows(g, s.passwordGrantOff) {
			return oauthErr(http.StatusBadRequest, "unauthorized_client", "this client may not use grant_type="+g)
		}
		cl := caller.auth()
		// Sessions started here are bound to the client, and refreshed
		// only through it: the caller's client info gains the client.
		c := auth.ClientFromContext(r.Context())
		c.OAuthClient = cl
		ctx := auth.ContextWithClient(r.Context(), c)
		missing := func(name string) error {
			return oauthErr(http.StatusBadRequest, "invalid_request", "missing parameter "+name)
		}
		var p *auth.TokenPair
		switch grant := form["grant_type"]; grant {
		case "":
			return missing("grant_type")
		case "password":
			if form["username"] == "" {
				return missing("username")
			}
			if form["password"] == "" {
				return missing("password")
			}
			p, err = s.svc.Login(ctx, form["username"], form["password"])
		case "refresh_token":
			if form["refresh_token"] == "" {
				return missing("refresh_token")
			}
			p, err = s.svc.Refresh(ctx, form["refresh_token"])
		case grantMFA:
			p, err = s.oauthMFAGrant(ctx, form)
		case auth.GrantAuthorizationCode:
			return s.codeGrant(ctx, w, form, caller)
		default:
			return oauthErr(http.StatusBadRequest, "unsupported_grant_type",
				"grant_type must be authorization_code, password, refresh_token or "+grantMFA)
		}
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, oauthTokenBody{
			AccessToken:  p.AccessToken,
			TokenType:    "Bearer",
			ExpiresIn:    p.ExpiresIn,
			RefreshToken: p.RefreshToken,
		})
		return nil
	})
}

// handleOAuthRevoke is the revocation endpoint (RFC 7009). Public clients
// may call it; credentials, when given, must be right. The token may be an
// access or a refresh token (token_type_hint is not needed: the two look
// different); either ends its session. The answer is 200 whether or not
// the token was known.
func (s *server) handleOAuthRevoke() http.Handler {
	return s.handleOAuth(func(w http.ResponseWriter, r *http.Request) error {
		form, caller, err := s.readClientRequest(w, r)
		if err != nil {
			return err
		}
		cl := caller.auth()
		tok := form["token"]
		if tok == "" {
			return oauthErr(http.StatusBadRequest, "invalid_request", "missing parameter token")
		}
		if err := s.svc.RevokeToken(r.Context(), cl, tok); err != nil {
			return err
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return nil
	})
}

// introspectionBody is RFC 7662 §2.2's answer; an inactive token answers
// only {"active": false}.
type introspectionBody struct {
	Active        bool     `json:"active"`
	TokenType     string   `json:"token_type,omitempty"`
	Sub           string   `json:"sub,omitempty"`
	Username      string   `json:"username,omitempty"`
	Exp           int64    `json:"exp,omitempty"`
	Iat           int64    `json:"iat,omitempty"`
	Nbf           int64    `json:"nbf,omitempty"`
	Iss           string   `json:"iss,omitempty"`
	Aud           any      `json:"aud,omitempty"`
	Jti           string   `json:"jti,omitempty"`
	Sid           string   `json:"sid,omitempty"`
	Roles         []string `json:"roles,omitempty"`
	EmailVerified *bool    `json:"email_verified,omitempty"`
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// handleOAuthIntrospect is the introspection endpoint (RFC 7662): only for
// the admin key (Authorization: Bearer) or a confidential client's HTTP
// Basic credentials; anyone else gets 401 invalid_client.
func (s *server) handleOAuthIntrospect() http.Handler {
	return s.handleOAuth(func(w http.ResponseWriter, r *http.Request) error {
		var by *auth.OAuthClient // nil: the operator, who sees every token
		err := s.adminAttempt(r, func() error {
			if presentsKey(r, s.adminKey) {
				return nil
			}
			cl, err := s.introspectionClient(r)
			if err != nil {
				return err
			}
			by = &cl
			return nil
		})
		if err != nil {
			return err
		}
		form, err := readOAuthForm(w, r)
		if err != nil {
			return err
		}
		tok := form["token"]
		if tok == "" {
			return oauthErr(http.StatusBadRequest, "invalid_request", "missing parameter token")
		}
		info, err := s.svc.Introspect(r.Context(), tok, by)
		if err != nil {
			return err
		}
		if !info.Active {
			encode(w, http.StatusOK, introspectionBody{})
			return nil
		}
		out := introspectionBody{
			Active:   true,
			Sub:      info.Subject,
			Username: info.Username,
			Exp:      unixOrZero(info.ExpiresAt),
			Iat:      unixOrZero(info.IssuedAt),
			Nbf:      unixOrZero(info.NotBefore),
			Iss:      info.Issuer,
			Jti:      info.ID,
			Sid:      info.SessionID,
		}
		switch info.Kind {
		case auth.TokenKindAccess:
			out.TokenType = "Bearer"
			out.Roles = info.Roles
			if out.Roles == nil {
				out.Roles = []string{}
			}
			ev := info.EmailVerified
			out.EmailVerified = &ev
			if len(info.Audience) == 1 {
				out.Aud = info.Audience[0]
			} else if len(info.Audience) > 1 {
				out.Aud = info.Audience
			}
		default:
			out.TokenType = auth.TokenKindRefresh
		}
		encode(w, http.StatusOK, out)
		return nil
	})
}

// introspectionClient checks that r carries a confidential client's HTTP
// Basic credentials and returns that client.
func (s *server) introspectionClient(r *http.Request) (auth.OAuthClient, error) {
	refused := &apiError{status: http.StatusUnauthorized, code: "invalid_client",
		detail:          "introspection needs the admin key or a confidential client's HTTP Basic credentials",
		wwwAuthenticate: basicRealm}
	id, secret, err := basicCredentials(r)
	if err != nil {
		return auth.OAuthClient{}, refused
	}
	if c, ok := s.oauthClients[id]; ok {
		if !c.check(secret) {
			return auth.OAuthClient{}, refused
		}
		return auth.OAuthClient{ID: id, Confidential: true}, nil
	}
	reg, err := s.svc.RegisteredClient(r.Context(), id)
	if err != nil {
		return auth.OAuthClient{}, err
	}
	if reg == nil || !s.svc.CheckClientSecret(reg, secret) {
		return auth.OAuthClient{}, refused
	}
	return auth.OAuthClient{ID: id, Confidential: true}, nil
}

// knownGrant reports whether grant is a grant type the token endpoint
// answers (an unknown one is unsupported_grant_type, not a refusal).
func knownGrant(grant string) bool {
	switch grant {
	case auth.GrantPassword, auth.GrantRefreshToken, auth.GrantAuthorizationCode, grantMFA:
		return true
	}
	return false
}
