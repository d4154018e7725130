package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/wire"
)

// encode answers v as application/json with status.
func encode[T any](w http.ResponseWriter, status int, v T) {
	w.Header().Set("Content-Type", "application/json")
	writeJSONBody(w, status, v)
}

// writeJSONBody marshals v and writes it with status. Content-Type must be
// set by the caller. Marshalling the answer types cannot fail; should it,
// the client gets a bare 500 rather than half a body.
func writeJSONBody(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		w.Header().Del("Content-Type")
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	b = append(b, '\n')
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// statusBody is the body of answers that only report a status.
type statusBody struct {
	Status string `json:"status"`
}

// tokenBody is api.md's token answer.
type tokenBody struct {
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type"`
	ExpiresIn    int       `json:"expires_in"`
	RefreshToken string    `json:"refresh_token"`
	User         wire.User `json:"user"`
}

// writeTokens answers a token pair: the JSON body, the Authorization header
// and the no-store cache headers (RFC 6749 §5.1).
func writeTokens(w http.ResponseWriter, status int, p *auth.TokenPair) {
	typ := p.TokenType
	if typ == "" {
		typ = "Bearer"
	}
	h := w.Header()
	h.Set("Authorization", "Bearer "+p.AccessToken)
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	encode(w, status, tokenBody{
		AccessToken:  p.AccessToken,
		TokenType:    typ,
		ExpiresIn:    p.ExpiresIn,
		RefreshToken: p.RefreshToken,
		User:         wire.NewUser(p.User),
	})
}

// sessionBody is one entry of GET /v1/sessions.
type sessionBody struct {
	ID         string `json:"id"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at"`
	UserAgent  string `json:"user_agent"`
	IP         string `json:"ip"`
	Current    bool   `json:"current"`
}

type sessionsBody struct {
	Sessions []sessionBody `json:"sessions"`
}
