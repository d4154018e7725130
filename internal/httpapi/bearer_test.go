package httpapi

import (
	"net/http"
	"strings"
	"testing"
)

// TestBearerChallenges checks what a protected route answers before the
// token reaches the service.
func TestBearerChallenges(t *testing.T) {
	h, _ := newTransport(t, Config{})
	tests := []struct {
		name      string
		target    string
		header    http.Header
		challenge string
	}{
		{"no header", "/v1/me", nil, `Bearer realm="latch", error="invalid_token"`},
		{"token in query string only", "/v1/me?access_token=abc", nil, `Bearer realm="latch", error="invalid_token"`},
		{"basic", "/v1/me", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, `Bearer error="invalid_token"`},
		{"empty token", "/v1/sessions", http.Header{"Authorization": {"Bearer "}}, `Bearer error="invalid_token"`},
		{"two tokens", "/v1/logout/all", http.Header{"Authorization": {"Bearer a b"}}, `Bearer error="invalid_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := "GET"
			if strings.HasPrefix(tt.target, "/v1/logout") {
				method = "POST"
			}
			w := do(h, method, tt.target, nil, tt.header)
			wantProblem(t, w, 401, "invalid_token")
			if got := w.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
			}
		})
	}
	// Protected routes check the token before the body.
	w := do(h, "DELETE", "/v1/me", strings.NewReader("not json"), http.Header{"Content-Type": {"text/plain"}})
	wantProblem(t, w, 401, "invalid_token")
}
