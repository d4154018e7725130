package httpapi

import (
	"errors"
	"net/http"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/jws"
)

// authedFunc is a handler of a protected route.
type authedFunc func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error

// authed protects h: the request must carry a valid bearer access token of a
// live session. Otherwise it answers 401 invalid_token with a
// WWW-Authenticate challenge carrying error="invalid_token" (api.md), with
// the realm when no token was sent.
func (s *server) authed(h authedFunc) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		tok, err := bearerCredential(r, "an access token is required")
		if err != nil {
			return err
		}
		p, err := s.svc.Authenticate(r.Context(), tok)
		if err != nil {
			return err
		}
		return h(w, r, p)
	})
}

// bearerCredential is the one reader of a request's credential: the token
// of its "Authorization: Bearer" header (RFC 6750 §2.1), be it an access
// token or a configured key. No header answers 401 invalid_token with the
// realm's challenge and missing as the detail; a malformed or repeated
// one, 401 invalid_token.
func bearerCredential(r *http.Request, missing string) (string, error) {
	tok, err := jws.ParseBearer(r.Header.Values("Authorization"))
	switch {
	case errors.Is(err, jws.ErrNoBearer):
		return "", &apiError{status: http.StatusUnauthorized, code: codeInvalidToken,
			detail: missing, wwwAuthenticate: challengeNoToken}
	case err != nil:
		return "", &apiError{status: http.StatusUnauthorized, code: codeInvalidToken,
			detail: "malformed Authorization header: expected \"Bearer <token>\"", wwwAuthenticate: challengeInvalid}
	}
	return tok, nil
}

// presentsKey reports whether r's bearer credential is key (compared in
// constant time); false when no key is configured or none is presented.
func presentsKey(r *http.Request, key auth.Secret) bool {
	tok, err := bearerCredential(r, "")
	return err == nil && key.Matches(tok)
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
