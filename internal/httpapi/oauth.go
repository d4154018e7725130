package httpapi

import (
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// The OAuth 2.0 endpoints: token (RFC 6749 §4.3 and §6), revocation
// (RFC 7009) and introspection (RFC 7662). They read
// application/x-www-form-urlencoded bodies and answer errors as RFC 6749
// §5.2 JSON {"error", "error_description"} instead of problem details.

// oauthError is an error answered as RFC 6749 §5.2 JSON.
type oauthError struct {
	status          int
	code            string // invalid_request, invalid_client, invalid_grant, ...
	description     string // safe to show
	retryAfter      time.Duration
	wwwAuthenticate string
	mfaToken        string // mfa_required: the token for the MFA grant
	cause           error  // logged only
}

func (e *oauthError) Error() string {
	if e.cause != nil {
		return "httpapi: oauth " + e.code + ": " + e.description + ": " + e.cause.Error()
	}
	return "httpapi: oauth " + e.code + ": " + e.description
}

func (e *oauthError) Unwrap() error { return e.cause }

func oauthErr(status int, code, description string) *oauthError {
	return &oauthError{status: status, code: code, description: description}
}

// toOAuthError maps any error of an OAuth handler to the answer. Domain
// errors of the password and refresh grants become invalid_grant (bad
// credentials, a bad, used or expired refresh token, an unconfirmed or
// disabled account: each with its own description); limits answer 429 and
// an unavailable store 503, both temporarily_unavailable with Retry-After.
func toOAuthError(err error) *oauthError {
	var oe *oauthError
	if errors.As(err, &oe) {
		return oe
	}
	var ae *apiError
	if errors.As(err, &ae) && ae.status < 500 {
		// The transport's own refusals (body too large, unreadable).
		return &oauthError{status: ae.status, code: "invalid_request", description: ae.detail}
	}
	var de *auth.Error
	if errors.As(err, &de) {
		switch de.Code {
		case auth.CodeInvalidCredentials, auth.CodeInvalidBearer, auth.CodeTokenExpired, auth.CodeInvalidToken,
			auth.CodeEmailNotConfirmed, auth.CodeAccountDisabled:
			return &oauthError{status: http.StatusBadRequest, code: "invalid_grant", description: de.Message, cause: err}
		case auth.CodeMFARequired:
			e := &oauthError{status: http.StatusForbidden, code: "mfa_required", description: de.Message, cause: err}
			var mr *auth.MFARequiredError
			if errors.As(err, &mr) {
				e.mfaToken = mr.Token
				e.description = "this account has a second factor: complete the login with grant_type=" + grantMFA + ", mfa_token and otp (or recovery_code)"
			}
			return e
		case auth.CodeInvalidRequest, auth.CodeInvalidEmail:
			return &oauthError{status: http.StatusBadRequest, code: "invalid_request", description: de.Message, cause: err}
		case auth.CodeRateLimited:
			return &oauthError{status: http.StatusTooManyRequests, code: "temporarily_unavailable",
				description: de.Message, retryAfter: max(de.RetryAfter, time.Second), cause: err}
		case auth.CodeUnavailable:
			return &oauthError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable",
				description: de.Message, retryAfter: max(de.RetryAfter, time.Second), cause: err}
		}
	}
	if auth.ErrorCode(err) == auth.CodeUnavailable {
		return &oauthError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable",
			description: detailUnavailable, retryAfter: time.Second, cause: err}
	}
	return &oauthError{status: http.StatusInternalServerError, code: "server_error", description: detailInternal, cause: err}
}

// oauthErrorBody is RFC 6749 §5.2's error answer.
type oauthErrorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
	MFAToken    string `json:"mfa_token,omitempty"`
}

// handleOAuth adapts an OAuth handler: every answer is marked no-store
// (RFC 6749 §5.1) and an error is answered as §5.2 JSON; 5xx are logged
// with their cause.
func (s *server) handleOAuth(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		err := h(w, r)
		if err == nil {
			return
		}
		e := toOAuthError(err)
		if e.status >= 500 {
			level := slog.LevelError
			if e.status == http.StatusServiceUnavailable {
				level = slog.LevelWarn
			}
			s.log.Log(r.Context(), level, "httpapi: request failed",
				"request_id", requestIDFrom(r.Context()),
				"method", r.Method,
				"path", r.URL.Path,
				"status", e.status,
				"code", e.code,
				"err", errString(e.cause))
		}
		hd := w.Header()
		if e.retryAfter > 0 {
			hd.Set("Retry-After", strconv.FormatInt(retryAfterSeconds(e.retryAfter), 10))
		}
		if e.wwwAuthenticate != "" {
			hd.Set("WWW-Authenticate", e.wwwAuthenticate)
		}
		hd.Del("Content-Length")
		encode(w, e.status, oauthErrorBody{Error: e.code, Description: e.description, MFAToken: e.mfaToken})
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
		return nil, &oauthError{status: http.StatusBadRequest, code: "invalid_request", description: desc, cause: err}
	}
	return form, nil
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
		form, err := readOAuthForm(w, r)
		if err != nil {
			return err
		}
		cl, err := s.authenticateClient(r, form)
		if err != nil {
			return err
		}
		// Sessions started here are bound to the client, and refreshed
		// only through it.
		c := clientFrom(r.Context())
		c.OAuthClient = cl.auth()
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
			p, err = s.svc.Login(r.Context(), c, form["username"], form["password"])
		case "refresh_token":
			if form["refresh_token"] == "" {
				return missing("refresh_token")
			}
			p, err = s.svc.Refresh(r.Context(), c, form["refresh_token"])
		case grantMFA:
			p, err = s.oauthMFAGrant(r, c, form)
		default:
			return oauthErr(http.StatusBadRequest, "unsupported_grant_type",
				"grant_type must be password, refresh_token or "+grantMFA)
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
		form, err := readOAuthForm(w, r)
		if err != nil {
			return err
		}
		cl, err := s.authenticateClient(r, form)
		if err != nil {
			return err
		}
		tok := form["token"]
		if tok == "" {
			return oauthErr(http.StatusBadRequest, "invalid_request", "missing parameter token")
		}
		if err := s.svc.RevokeToken(r.Context(), cl.auth(), tok); err != nil {
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
			if s.isAdminKey(r) {
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
	refused := &oauthError{status: http.StatusUnauthorized, code: "invalid_client",
		description:     "introspection needs the admin key or a confidential client's HTTP Basic credentials",
		wwwAuthenticate: basicRealm}
	id, secret, err := basicCredentials(r)
	if err != nil {
		return auth.OAuthClient{}, refused
	}
	if c, ok := s.oauthClients[id]; !ok || !c.check(secret) {
		return auth.OAuthClient{}, refused
	}
	return auth.OAuthClient{ID: id, Confidential: true}, nil
}
