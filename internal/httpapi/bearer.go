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
		tok, err := jws.ParseBearer(r.Header.Values("Authorization"))
		switch {
		case errors.Is(err, jws.ErrNoBearer):
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
