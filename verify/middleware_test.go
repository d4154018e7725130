package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/svctest"
	"github.com/latchauth/latch/internal/token"
)

func TestMiddleware(t *testing.T) {
	f := fixtures()
	stub := newLatchStub(t, f.ed)
	v, _ := newVerifier(t, stub, func(c *Config) { c.Realm = "notes" })
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := ClaimsFrom(r.Context())
		if !ok {
			t.Error("no claims in the context")
			return
		}
		fmt.Fprintf(w, "hello %s", c.Subject)
	})
	authn := Middleware(v)
	h := authn(hello)
	admin := authn(RequireRole("admin")(hello))

	user := signed(t, f.ed, nil)
	adm := signed(t, f.ed, func(c *token.Claims) { c.Roles = []string{"user", "admin"} })
	expired := signed(t, f.ed, func(c *token.Claims) { c.ExpiresAt = testNow.Add(-time.Hour); c.IssuedAt = testNow.Add(-2 * time.Hour) })
	tests := []struct {
		name      string
		h         http.Handler
		auth      []string
		status    int
		challenge string // WWW-Authenticate
		code      string // problem code
		body      string
	}{
		{"token", h, []string{"Bearer " + user}, 200, "", "", "hello user-1"},
		{"scheme in any case", h, []string{"bearer " + user}, 200, "", "", "hello user-1"},
		{"no token", h, nil, 401, `Bearer realm="notes"`, "invalid_token", ""},
		{"bad token", h, []string{"Bearer abc.def.ghi"}, 401, `Bearer realm="notes", error="invalid_token", error_description="the access token is invalid"`, "invalid_token", ""},
		{"expired", h, []string{"Bearer " + expired}, 401, `Bearer realm="notes", error="invalid_token", error_description="the access token has expired"`, "invalid_token", ""},
		{"basic scheme", h, []string{"Basic dXNlcjpwYXNz"}, 401, `Bearer realm="notes", error="invalid_token", error_description="the Authorization header is not \"Bearer <token>\""`, "invalid_token", ""},
		{"two headers", h, []string{"Bearer " + user, "Bearer " + user}, 401, "", "invalid_token", ""},
		{"admin route, user token", admin, []string{"Bearer " + user}, 403, `Bearer error="insufficient_scope", error_description="the access token lacks the role \"admin\""`, "insufficient_scope", ""},
		{"admin route, admin token", admin, []string{"Bearer " + adm}, 200, "", "", "hello user-1"},
		{"admin route, no token", admin, nil, 401, `Bearer realm="notes"`, "invalid_token", ""},
		{"role check without the middleware", RequireRole("admin")(hello), []string{"Bearer " + adm}, 401, "", "invalid_token", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/notes", nil)
			for _, a := range tt.auth {
				r.Header.Add("Authorization", a)
			}
			w := httptest.NewRecorder()
			tt.h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d (body %s)", w.Code, tt.status, w.Body)
			}
			if tt.challenge != "" {
				if got := w.Header().Get("WWW-Authenticate"); got != tt.challenge {
					t.Errorf("WWW-Authenticate:\ngot  %s\nwant %s", got, tt.challenge)
				}
			}
			if tt.code == "" {
				if w.Body.String() != tt.body {
					t.Errorf("body %q, want %q", w.Body, tt.body)
				}
				return
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q, want application/problem+json", ct)
			}
			var p problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatalf("problem body %q: %v", w.Body, err)
			}
			if p.Type != "about:blank" || p.Status != tt.status || p.Title != http.StatusText(tt.status) || p.Code != tt.code || p.Detail == "" {
				t.Errorf("problem %+v, want status %d code %q and a detail", p, tt.status, tt.code)
			}
		})
	}
}

// TestRevocationFeed: a Verifier following the feed refuses tokens of ended
// sessions and tokens issued before a user's cut-off as soon as the feed
// answers, forgets entries once no token they void can live, and keeps
// what it knows while latch is down.
func TestRevocationFeed(t *testing.T) {
	f := fixtures()
	stub := newLatchStub(t, f.ed)
	v, clk := newVerifier(t, stub, func(c *Config) {
		c.RevocationsURL = stub.URL + "/v1/revocations"
		c.RevocationsKey = "feed-key"
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	stub.mu.Lock()
	if stub.feedAuth != "Bearer feed-key" {
		t.Errorf("feed Authorization %q, want the key", stub.feedAuth)
	}
	stub.mu.Unlock()

	sess1 := signed(t, f.ed, nil) // sid sess-1, sub user-1, iat testNow
	sess2 := signed(t, f.ed, func(c *token.Claims) { c.SessionID = "sess-2" })
	later := signed(t, f.ed, func(c *token.Claims) { c.SessionID = "sess-3"; c.IssuedAt = testNow.Add(2 * time.Second) })
	other := signed(t, f.ed, func(c *token.Claims) { c.Subject = "user-2"; c.SessionID = "sess-4" })
	for _, tok := range []string{sess1, sess2, later, other} {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("before any revocation: %v", err)
		}
	}
	until := testNow.Add(15 * time.Minute).Format(time.RFC3339)
	stub.feed <- `{"sessions":[{"sid":"sess-1","until":"` + until + `"}],"users":[],"cursor":"c1","poll_after_ms":0}`
	waitRefused(t, v, sess1)
	if _, err := v.Verify(ctx, sess2); err != nil {
		t.Fatalf("another session of the user: %v", err)
	}

	// Logout everywhere: tokens issued before the cut-off are void, later
	// ones (and other users') are not.
	nb := testNow.Add(time.Second).Format(time.RFC3339)
	stub.feed <- `{"sessions":[],"users":[{"sub":"user-1","not_before":"` + nb + `","until":"` + until + `"}],"cursor":"c2","poll_after_ms":0}`
	waitRefused(t, v, sess2)
	for _, tok := range []string{later, other} {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Errorf("token after the cut-off or of another user: %v", err)
		}
	}

	// latch goes down: what is known stays in force.
	stub.setDown(true)
	if _, err := v.Verify(ctx, sess1); !errors.Is(err, ErrRevoked) {
		t.Errorf("with latch down: got %v, want ErrRevoked", err)
	}
	stub.setDown(false)

	// Entries go once no token they void can live (until + leeway); the
	// tokens themselves are expired by then.
	clk.Add(16 * time.Minute)
	stub.feed <- `{"sessions":[],"users":[],"cursor":"c3","poll_after_ms":0}`
	deadline := time.Now().Add(5 * time.Second)
	for {
		v.rev.mu.RLock()
		n := len(v.rev.sessions) + len(v.rev.users)
		v.rev.mu.RUnlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d revocation entries kept past their until", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitRefused waits up to a second (on a quiet machine,
// LATCH_TEST_TIMING=1; otherwise 15 s) for v to refuse tok as revoked.
func waitRefused(t *testing.T, v *Verifier, tok string) {
	t.Helper()
	bound := time.Second
	if !svctest.Timing() {
		bound = 15 * time.Second
	}
	deadline := time.Now().Add(bound)
	for {
		_, err := v.Verify(context.Background(), tok)
		if errors.Is(err, ErrRevoked) {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("revoked error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("got %v, want ErrRevoked", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("token still accepted %v after its revocation was published", bound)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestParseFeed(t *testing.T) {
	good := `{"sessions":[{"sid":"s","until":"2026-03-01T12:15:00Z"}],"users":[{"sub":"u","not_before":"2026-03-01T12:00:00Z","until":"2026-03-01T12:15:00Z"}],"cursor":"c","poll_after_ms":0}`
	if _, err := parseFeed([]byte(good)); err != nil {
		t.Fatalf("parseFeed(good): %v", err)
	}
	for _, bad := range []string{
		``, `[]`, `{"sessions":[],"users":[]}`,
		strings.Replace(good, `"sid":"s"`, `"sid":""`, 1),
		strings.Replace(good, `"until":"2026-03-01T12:15:00Z"}]`, `"until":"yesterday"}]`, 1),
		strings.Replace(good, `"not_before":"2026-03-01T12:00:00Z",`, ``, 1),
		strings.Replace(good, `"poll_after_ms":0`, `"poll_after_ms":-1`, 1),
	} {
		if _, err := parseFeed([]byte(bad)); err == nil {
			t.Errorf("parseFeed(%q): no error", bad)
		}
	}
}
