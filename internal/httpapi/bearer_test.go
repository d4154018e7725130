package httpapi

import (
	"net/http"
	"strings"
	"testing"
)

func TestParseBearer(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   string
		err    error
	}{
		{"none", nil, "", errNoBearer},
		{"plain", []string{"Bearer abc.def-ghi_jkl"}, "abc.def-ghi_jkl", nil},
		{"lower-case scheme", []string{"bearer abc"}, "abc", nil},
		{"upper-case scheme", []string{"BEARER abc"}, "abc", nil},
		{"padding", []string{"Bearer abc+/~=="}, "abc+/~==", nil},
		{"several spaces", []string{"Bearer   abc"}, "abc", nil},
		{"empty header", []string{""}, "", errBadBearer},
		{"scheme only", []string{"Bearer"}, "", errBadBearer},
		{"scheme and space", []string{"Bearer "}, "", errBadBearer},
		{"basic", []string{"Basic dXNlcjpwYXNz"}, "", errBadBearer},
		{"no space", []string{"Bearerabc"}, "", errBadBearer},
		{"tab", []string{"Bearer\tabc"}, "", errBadBearer},
		{"two tokens", []string{"Bearer abc def"}, "", errBadBearer},
		{"trailing space", []string{"Bearer abc "}, "", errBadBearer},
		{"only padding", []string{"Bearer =="}, "", errBadBearer},
		{"padding inside", []string{"Bearer ab=c"}, "", errBadBearer},
		{"bad character", []string{"Bearer ab\"c"}, "", errBadBearer},
		{"non-ASCII", []string{"Bearer abcé"}, "", errBadBearer},
		{"two headers", []string{"Bearer abc", "Bearer def"}, "", errBadBearer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseBearer(tt.values)
			if got != tt.want || err != tt.err {
				t.Errorf("parseBearer(%q) = %q, %v; want %q, %v", tt.values, got, err, tt.want, tt.err)
			}
		})
	}
}

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

func FuzzBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer a.b.c", "Bearer ", "Basic x", "Bearer a b", "Bearer ab==", "Bearer =", "", "Bearer\x00x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, err := parseBearer([]string{h})
		if err != nil {
			if tok != "" {
				t.Fatalf("parseBearer(%q) = %q with error %v", h, tok, err)
			}
			return
		}
		if !isB64Token(tok) || strings.ContainsAny(tok, " \t\r\n") {
			t.Fatalf("parseBearer(%q) = %q, not a b64token", h, tok)
		}
		if !strings.HasSuffix(h, tok) || !strings.EqualFold(h[:len("Bearer ")], "Bearer ") {
			t.Fatalf("parseBearer(%q) = %q, not the header's token", h, tok)
		}
		again, err := parseBearer([]string{"Bearer " + tok})
		if err != nil || again != tok {
			t.Fatalf("round trip of %q = %q, %v", tok, again, err)
		}
	})
}
