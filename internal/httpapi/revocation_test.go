package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/revfeed"
	"github.com/latchauth/latch/internal/wire"
)

// feedEnv is a transport with the revocation feed on, and one user whose
// session "s1" was revoked a minute ago.
func feedEnv(t *testing.T, hcfg Config) *env {
	t.Helper()
	var e *env
	feedCfg := revfeed.Config{PollInterval: 20 * time.Millisecond}
	// The feed needs the env's store and clock, the env needs the feed:
	// build the env first with a placeholder, then the real handler.
	e = newEnv(t, auth.Config{}, Config{})
	feedCfg.Store, feedCfg.Now = e.db, e.clock.Now
	feed := revfeed.New(feedCfg)
	t.Cleanup(feed.Close)
	hcfg.Service, hcfg.Revocations = e.svc, feed
	e.h, e.logs = newTransport(t, hcfg)

	ctx := context.Background()
	now := e.clock.Now()
	err := e.db.Tx(ctx, func(tx auth.Tx) error {
		if err := tx.CreateUser(ctx, &auth.User{ID: "u1", Email: "a@example.com", EmailNorm: "a@example.com", CreatedAt: now, TokensValidAfter: now.Add(-2*time.Minute + 500*time.Millisecond)}); err != nil {
			return err
		}
		if err := tx.CreateSession(ctx, &auth.Session{ID: "s1", UserID: "u1", CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			return err
		}
		_, err := tx.RevokeSession(ctx, "s1", now.Add(-time.Minute))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestRevocationsEndpoint(t *testing.T) {
	e := feedEnv(t, Config{})
	w := do(e.h, "GET", "/v1/revocations", nil, nil)
	if w.Code != 200 {
		t.Fatalf("status %d, want 200 (body %s)", w.Code, w.Body)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	var body revocationsBody
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	wantSess := []revokedSessionBody{{SID: "s1", Until: wire.Time(now.Add(14 * time.Minute))}}
	wantUsers := []revokedUserBody{{Sub: "u1", NotBefore: wire.Time(now.Add(-2 * time.Minute)), Until: wire.Time(now.Add(13*time.Minute + time.Second))}}
	if !equalJSON(t, body.Sessions, wantSess) || !equalJSON(t, body.Users, wantUsers) || body.Cursor == "" || body.PollAfterMS != 0 {
		t.Errorf("answer %s\nwant sessions %+v users %+v, a cursor, poll_after_ms 0", w.Body, wantSess, wantUsers)
	}
	if strings.Contains(w.Body.String(), "example.com") {
		t.Errorf("the feed leaks an email: %s", w.Body)
	}

	// With the cursor and wait=0: the delta, at once (nothing new).
	w = do(e.h, "GET", "/v1/revocations?wait=0&since="+body.Cursor, nil, nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"sessions":[]`) {
		t.Errorf("delta: status %d body %s, want 200 and no sessions", w.Code, w.Body)
	}

	for _, q := range []string{"since=garbage", "since=" + body.Cursor + "&wait=26", "wait=-1", "wait=x"} {
		w := do(e.h, "GET", "/v1/revocations?"+q, nil, nil)
		wantProblem(t, w, http.StatusBadRequest, "invalid_request")
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	x, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(x) == string(y)
}

func TestRevocationsEndpointKey(t *testing.T) {
	e := feedEnv(t, Config{RevocationKey: "rev-key", AdminKey: "admin-key"})
	tests := []struct {
		auth   string
		status int
	}{
		{"", 401},
		{"Bearer wrong", 401},
		{"Basic cmV2LWtleQ==", 401},
		{"Bearer rev-key", 200},
		{"Bearer admin-key", 200},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.auth != "" {
			h.Set("Authorization", tt.auth)
		}
		w := do(e.h, "GET", "/v1/revocations", nil, h)
		if w.Code != tt.status {
			t.Errorf("Authorization %q: status %d, want %d", tt.auth, w.Code, tt.status)
		}
		if w.Code == 401 {
			wantProblem(t, w, 401, "invalid_token")
			if w.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("Authorization %q: 401 without WWW-Authenticate", tt.auth)
			}
		}
	}
}

func TestRevocationsEndpointOff(t *testing.T) {
	e := newEnv(t, auth.Config{}, Config{})
	wantProblem(t, do(e.h, "GET", "/v1/revocations", nil, nil), http.StatusNotFound, "not_found")
}
