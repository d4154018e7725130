package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/examples/notesapi"
	"github.com/latchauth/latch/internal/svctest"
	"github.com/latchauth/latch/verify"
)

// notesClient calls the example service.
type notesClient struct {
	t   *testing.T
	url string
}

func (c notesClient) get(path, bearer string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest("GET", c.url+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate") + " " + string(b)
}

// revocationBound is how soon a revocation must reach a waiting feed
// poll: a second on a quiet machine (LATCH_TEST_TIMING=1); otherwise well
// within the feed's 25 s long poll, which proves the poll was woken by the
// revocation rather than ending by itself.
func revocationBound() time.Duration {
	if svctest.Timing() {
		return time.Second
	}
	return 15 * time.Second
}

// refusedWithin polls path with bearer until the service answers 401 and
// reports how long that took; it fails the test after limit.
func (c notesClient) refusedWithin(path, bearer string, limit time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	for {
		st, body := c.get(path, bearer)
		if st == http.StatusUnauthorized {
			if !strings.Contains(body, `error="invalid_token"`) || !strings.Contains(body, "revoked") {
				c.t.Errorf("refusal %s, want an invalid_token challenge saying revoked", body)
			}
			return time.Since(start)
		}
		if st != http.StatusOK {
			c.t.Fatalf("GET %s: %d %s", path, st, body)
		}
		if el := time.Since(start); el > limit {
			c.t.Fatalf("token still accepted %v after its revocation", el)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestVerifyEndToEnd runs the example service (examples/notesapi) protected
// by package verify against a real latch: a token works, a logged-out
// token is refused within a second, so is one of a user logged out
// everywhere, roles are enforced, and with latch down the cached keys
// keep verifying.
func TestVerifyEndToEnd(t *testing.T) {
	svctest.ParallelUnlessTiming(t)
	s := startServer(t, map[string]string{
		"LATCH_REVOCATION_KEY": "revocation-key",
		"LATCH_ADMIN_KEY":      "admin-key-0123456789",
		"LATCH_RATE_LIMITS":    "false",
	})
	v, err := verify.New(verify.Config{
		Issuer:         "http://latch.test", // LATCH_PUBLIC_URL of the harness
		Audience:       "http://latch.test",
		JWKSURL:        s.URL + "/.well-known/jwks.json",
		RevocationsURL: s.URL + "/v1/revocations",
		RevocationsKey: "revocation-key",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	notes := httptest.NewServer(notesapi.NewHandler(v))
	defer notes.Close()
	c := notesClient{t: t, url: notes.URL}

	addr := "notes.user@example.com"
	conf := s.signupConfirmed(addr, goodPassword)
	login := func() string {
		r := s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": goodPassword}).want(t, 200, "")
		return r.str("access_token")
	}
	a, b := conf.str("access_token"), login()
	userID := conf.Body["user"].(map[string]any)["id"].(string)

	// A token works.
	if st, body := c.get("/notes", a); st != 200 || !strings.Contains(body, userID) {
		t.Fatalf("GET /notes: %d %s", st, body)
	}

	// Logout: that session's token is refused within a second; the other
	// session's is not.
	s.do("POST", "/v1/logout", a, map[string]any{}).want(t, 204, "")
	took := c.refusedWithin("/notes", a, revocationBound())
	t.Logf("logged-out token refused after %v", took)
	if st, body := c.get("/notes", b); st != 200 {
		t.Fatalf("token of the other session: %d %s", st, body)
	}

	// Logout everywhere: every token issued so far is refused; a new login
	// works. (A new token in the cut-off's own second would be refused, as
	// by latch itself, since iat has whole seconds.)
	s.do("POST", "/v1/logout/all", b, nil).want(t, 204, "")
	took = c.refusedWithin("/notes", b, revocationBound())
	t.Logf("force-logged-out token refused after %v", took)
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	fresh := login()
	if st, body := c.get("/notes", fresh); st != 200 {
		t.Fatalf("token of a login after the cut-off: %d %s", st, body)
	}

	// Roles: the admin route needs "admin"; granting it (which cuts off
	// the user's older tokens) and logging in again opens it.
	if st, body := c.get("/admin/notes", fresh); st != 403 || !strings.Contains(body, `error="insufficient_scope"`) {
		t.Fatalf("admin route with a user token: %d %s, want 403 insufficient_scope", st, body)
	}
	s.doWith("PATCH", "/admin/v1/users/"+userID, "admin-key-0123456789", map[string]any{"roles": []string{"user", "admin"}}, nil).want(t, 200, "")
	c.refusedWithin("/notes", fresh, time.Second)
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	adminTok := login()
	if st, body := c.get("/admin/notes", adminTok); st != 200 {
		t.Fatalf("admin route with an admin token: %d %s", st, body)
	}

	// latch goes down: the cached keys keep verifying, locally.
	s.stop()
	if _, err := http.Get(s.URL + "/healthz"); err == nil {
		t.Fatal("latch still answers after stop")
	}
	if st, body := c.get("/notes", adminTok); st != 200 {
		t.Fatalf("with latch down: %d %s", st, body)
	}
	// ...and what the feed said stays in force.
	if st, _ := c.get("/notes", a); st != 401 {
		t.Fatalf("logged-out token with latch down: %d, want 401", st)
	}
}

// TestRevocationFeedE2E checks the feed's wire form on a real latch: the
// key is required, the answer carries no email, and a long poll is
// answered as soon as a session ends.
func TestRevocationFeedE2E(t *testing.T) {
	svctest.ParallelUnlessTiming(t)
	s := startServer(t, map[string]string{"LATCH_REVOCATION_KEY": "rk", "LATCH_RATE_LIMITS": "false"})
	s.do("GET", "/v1/revocations", "", nil).want(t, 401, "invalid_token")
	s.do("GET", "/v1/revocations", "wrong", nil).want(t, 401, "invalid_token")
	addr := "feed.user@example.com"
	conf := s.signupConfirmed(addr, goodPassword)
	first := s.do("GET", "/v1/revocations", "rk", nil).want(t, 200, "")
	cursor := first.str("cursor")
	if cursor == "" || first.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("first answer %s %v", first.Raw, first.Header)
	}

	type answer struct {
		Sessions []struct{ SID, Until string }
	}
	got := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("GET", s.URL+"/v1/revocations?wait=25&since="+cursor, nil)
		req.Header.Set("Authorization", "Bearer rk")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			got <- answer{}
			return
		}
		defer resp.Body.Close()
		var a answer
		b, _ := io.ReadAll(resp.Body)
		if strings.Contains(string(b), "@") {
			t.Errorf("feed answer leaks an email: %s", b)
		}
		_ = json.Unmarshal(b, &a)
		got <- a
	}()
	start := time.Now()
	s.do("POST", "/v1/logout", conf.str("access_token"), map[string]any{}).want(t, 204, "")
	select {
	case a := <-got:
		if len(a.Sessions) != 1 || a.Sessions[0].SID == "" || a.Sessions[0].Until == "" {
			t.Fatalf("long poll answer %+v, want the ended session", a)
		}
		if el := time.Since(start); el > revocationBound() {
			t.Errorf("long poll answered %v after the logout, want under %v", el, revocationBound())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("long poll not answered after a logout")
	}
}
