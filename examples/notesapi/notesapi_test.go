package notesapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/token"
	"github.com/latchauth/latch/verify"
)

// TestNotes drives the example's routes with tokens signed by latch's own
// token package and keys served from a JWKS stub. The end-to-end test
// against a real latch is cmd/latch's TestVerifyEndToEnd.
func TestNotes(t *testing.T) {
	key, err := token.GenerateKey(token.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := token.JWKS([]*token.Key{key})
		w.Write(b)
	}))
	defer jwks.Close()
	v, err := verify.New(verify.Config{Issuer: "https://auth.example.com", Audience: "notes", JWKSURL: jwks.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	h := NewHandler(v)
	tok := func(sub string, roles ...string) string {
		now := time.Now()
		s, err := token.Sign(key, &token.Claims{
			Issuer: "https://auth.example.com", Subject: sub, Audience: []string{"notes"},
			IssuedAt: now, ExpiresAt: now.Add(time.Minute), ID: "j-" + sub, SessionID: "s-" + sub, Roles: roles,
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	call := func(method, path, bearer, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequestWithContext(context.Background(), method, path, strings.NewReader(body))
		if bearer != "" {
			r.Header.Set("Authorization", "Bearer "+bearer)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	alice, bob, root := tok("alice", "user"), tok("bob", "user"), tok("root", "user", "admin")
	steps := []struct {
		method, path, bearer, body string
		status                     int
		contains                   string
	}{
		{"GET", "/healthz", "", "", 200, `"ok"`},
		{"GET", "/notes", "", "", 401, `"invalid_token"`},
		{"POST", "/notes", alice, `{"text":"milk"}`, 201, `"milk"`},
		{"POST", "/notes", alice, `{}`, 400, `error`},
		{"POST", "/notes", bob, `{"text":"eggs"}`, 201, `"eggs"`},
		{"GET", "/notes", alice, "", 200, `{"notes":[{"text":"milk"}],"user":"alice"}`},
		{"GET", "/admin/notes", alice, "", 403, `"insufficient_scope"`},
		{"GET", "/admin/notes", root, "", 200, `"bob":[{"text":"eggs"}]`},
	}
	for _, s := range steps {
		w := call(s.method, s.path, s.bearer, s.body)
		if w.Code != s.status || !strings.Contains(w.Body.String(), s.contains) {
			t.Errorf("%s %s: status %d body %s, want %d containing %s", s.method, s.path, w.Code, w.Body, s.status, s.contains)
		}
		if w.Code < 400 && !json.Valid(w.Body.Bytes()) {
			t.Errorf("%s %s: body is not JSON: %s", s.method, s.path, w.Body)
		}
	}
}
