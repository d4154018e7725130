package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/latchauth/latch/internal/auth"
)

// errNoBearer and errBadBearer are what parseBearer reports.
var (
	errNoBearer  = errors.New("httpapi: no Authorization header")
	errBadBearer = errors.New("httpapi: malformed Authorization header")
)

// parseBearer extracts the token of the request's Authorization header
// (RFC 6750 §2.1): exactly one header, the scheme "Bearer" in any case, one
// or more spaces, then a single b64token. Tokens in query strings or bodies
// are never looked at.
func parseBearer(values []string) (string, error) {
	switch len(values) {
	case 0:
		return "", errNoBearer
	case 1:
	default:
		return "", errBadBearer
	}
	scheme, rest, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", errBadBearer
	}
	tok := strings.TrimLeft(rest, " ")
	if !isB64Token(tok) {
		return "", errBadBearer
	}
	return tok, nil
}

// isB64Token reports whether s matches RFC 6750's
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for i < len(s) {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			i++
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// authedFunc is a handler of a protected route.
type authedFunc func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error

// authed protects h: the request must carry a valid bearer access token of a
// live session. Otherwise it answers 401 invalid_token with a
// WWW-Authenticate challenge carrying error="invalid_token" (api.md), with
// the realm when no token was sent.
func (s *server) authed(h authedFunc) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		tok, err := parseBearer(r.Header.Values("Authorization"))
		switch {
		case errors.Is(err, errNoBearer):
			return &apiError{status: http.StatusUnauthorized, code: codeInvalidToken,
				detail: "an access token is required", wwwAuthenticate: challengeNoToken}
		case err != nil:
			return &apiError{status: http.StatusUnauthorized, code: codeInvalidToken,
				detail: "malformed Authorization header: expected \"Bearer <token>\"", wwwAuthenticate: challengeInvalid}
		}
		p, err := s.svc.Authenticate(r.Context(), tok)
		if err != nil {
			return err
		}
		return h(w, r, p)
	})
}

// handlerFunc is a handler that may fail; handle answers its error.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts h to http.Handler, answering an error h returns as a
// problem. h must not have written anything when it returns an error.
func (s *server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}
