package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// latch's own bearer check ends a session at its idle end like at its
// absolute end or a revocation: an access token still unexpired by its own
// exp is refused once its session has been idle too long.
func TestAuthenticateHonoursIdleTimeout(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) { c.SessionIdle = 10 * time.Minute; c.AccessTTL = 15 * time.Minute })
	ctx := context.Background()
	p := f.confirmed(t, "idle-bearer@example.com")
	f.clock.Advance(9 * time.Minute)
	if _, err := f.svc.Authenticate(ctx, p.AccessToken); err != nil {
		t.Fatalf("within the idle lifetime: %v", err)
	}
	f.clock.Advance(time.Minute)
	_, err := f.svc.Authenticate(ctx, p.AccessToken)
	wantCode(t, err, auth.CodeInvalidBearer)
	// Introspection applies the same check.
	info, err := f.svc.Introspect(ctx, p.AccessToken, nil)
	if err != nil || info.Active {
		t.Fatalf("introspection of an idle session's access token = %+v, %v; want inactive", info, err)
	}
}

// A refresh never mints an access token that outlives its session: near
// the absolute end, exp is the session's end and expires_in says so.
func TestRefreshNeverOutlivesSession(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) { c.SessionMax = 20 * time.Minute; c.AccessTTL = 15 * time.Minute })
	ctx := context.Background()
	start := f.clock.Now()
	p := f.confirmed(t, "abs-end@example.com")
	if p.ExpiresIn != 900 {
		t.Fatalf("expires_in at login = %d, want 900", p.ExpiresIn)
	}
	f.clock.Advance(12*time.Minute + 500*time.Millisecond)
	q, err := f.svc.Refresh(auth.ContextWithClient(ctx, client), p.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	// 7 min 59.5 s remain: whole seconds, rounded down.
	if q.ExpiresIn != 7*60+59 {
		t.Errorf("expires_in 7 min 59.5 s before the session's end = %d, want %d", q.ExpiresIn, 7*60+59)
	}
	info, err := f.svc.Introspect(ctx, q.AccessToken, nil)
	if err != nil || !info.Active {
		t.Fatalf("introspection = %+v, %v", info, err)
	}
	if end := start.Add(20 * time.Minute); !info.ExpiresAt.Equal(end) {
		t.Errorf("access token exp = %s, want the session's end %s", info.ExpiresAt, end)
	}
}
