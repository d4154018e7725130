package verify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/latchauth/latch/jws"
)

type claimsKey struct{}

// ContextWithClaims returns ctx carrying c, as the middleware does.
func ContextWithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFrom returns the claims the middleware put in ctx.
func ClaimsFrom(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}

// Middleware returns net/http middleware that lets a request through only
// with a valid access token in its Authorization header ("Bearer <token>";
// never a query string), with the claims in the request's context
// (ClaimsFrom). Other requests get 401 with an RFC 6750 challenge and an
// RFC 9457 problem body:
//
//	WWW-Authenticate: Bearer error="invalid_token", error_description="the token has expired"
//	{"type":"about:blank","title":"Unauthorized","status":401,"code":"invalid_token","detail":"..."}
//
// A request without credentials gets the challenge without an error code
// (RFC 6750 §3.1).
func Middleware(v *Verifier) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, err := jws.ParseBearer(r.Header.Values("Authorization"))
			if err != nil {
				if errors.Is(err, jws.ErrNoBearer) {
					v.unauthorized(w, "", "an access token is required")
				} else {
					v.unauthorized(w, "invalid_token", "the Authorization header is not \"Bearer <token>\"")
				}
				return
			}
			c, err := v.Verify(r.Context(), tok)
			if err != nil {
				detail := "the access token is invalid"
				switch {
				case errors.Is(err, ErrExpired):
					detail = "the access token has expired"
				case errors.Is(err, ErrRevoked):
					detail = "the access token was revoked"
				}
				v.unauthorized(w, "invalid_token", detail)
				return
			}
			next.ServeHTTP(w, r.WithContext(ContextWithClaims(r.Context(), c)))
		})
	}
}

// RequireRole returns middleware, to be placed after Middleware, that lets
// a request through only when its token carries role. Otherwise it answers
// 403 with WWW-Authenticate: Bearer error="insufficient_scope" (RFC 6750
// §3.1) and a problem body with code "insufficient_scope"; a request that
// did not pass Middleware gets 401.
func RequireRole(role string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := ClaimsFrom(r.Context())
			if !ok {
				writeChallenge(w, http.StatusUnauthorized, "", "", "invalid_token", "an access token is required")
				return
			}
			if !c.HasRole(role) {
				writeChallenge(w, http.StatusForbidden, "", "insufficient_scope", "insufficient_scope",
					"the access token lacks the role "+strconv.Quote(role))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func (v *Verifier) unauthorized(w http.ResponseWriter, errCode, detail string) {
	writeChallenge(w, http.StatusUnauthorized, v.cfg.Realm, errCode, "invalid_token", detail)
}

// writeChallenge answers status with a Bearer challenge carrying realm and
// errCode (each left out when empty) and a problem body with code.
func writeChallenge(w http.ResponseWriter, status int, realm, errCode, code, detail string) {
	var params []string
	if realm != "" {
		params = append(params, "realm="+strconv.Quote(realm))
	}
	if errCode != "" {
		params = append(params, `error="`+errCode+`"`, "error_description="+strconv.Quote(detail))
	}
	ch := "Bearer"
	if len(params) > 0 {
		ch += " " + strings.Join(params, ", ")
	}
	h := w.Header()
	h.Set("WWW-Authenticate", ch)
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	b, _ := json.Marshal(problem{
		Type:   "about:blank",
		Title:  http.StatusText(status),
		Status: status,
		Code:   code,
		Detail: detail,
	})
	b = append(b, '\n')
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// problem is an RFC 9457 problem body, shaped like latch's own.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail,omitempty"`
}
