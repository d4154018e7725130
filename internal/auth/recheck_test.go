package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// The password re-checks of a logged-in user count against login's
// per-account throttle both ways: their failures throttle login and the
// re-checks, and the right password clears the failures like a login.
func TestPasswordRecheckSharesLoginThrottle(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) { c.RateLimits = true })
	ctx := context.Background()
	const addr = "recheck@example.com"
	p := f.confirmed(t, addr)
	me, err := f.svc.Authenticate(ctx, p.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	wrongRecheck := func() error {
		return f.svc.ChangeEmail(auth.ContextWithClient(ctx, client), me, "elsewhere@example.com", "definitely wrong")
	}
	// Four failures, then the right password clears them.
	for range 4 {
		wantCode(t, wrongRecheck(), auth.CodeInvalidCredentials)
	}
	if err := f.svc.ChangeEmail(auth.ContextWithClient(ctx, client), me, "elsewhere@example.com", pw); err != nil {
		t.Fatal(err)
	}
	// So five more failures are free again; the sixth try in a row, even
	// with the right password, is throttled, at login as at the re-check.
	for range 3 {
		wantCode(t, wrongRecheck(), auth.CodeInvalidCredentials)
	}
	for range 2 {
		_, err := f.svc.Login(auth.ContextWithClient(ctx, client), addr, "definitely wrong")
		wantCode(t, err, auth.CodeInvalidCredentials)
	}
	err = f.svc.DeleteAccount(auth.ContextWithClient(ctx, client), me, pw)
	wantCode(t, err, auth.CodeRateLimited)
	var ae *auth.Error
	if !errors.As(err, &ae) || ae.RetryAfter != time.Second {
		t.Fatalf("throttled re-check: %v, want a Retry-After of 1s", err)
	}
	_, err = f.svc.Login(auth.ContextWithClient(ctx, client), addr, pw)
	wantCode(t, err, auth.CodeRateLimited)
	_, err = f.svc.ChangePassword(auth.ContextWithClient(ctx, client), me, pw, "another good passphrase")
	wantCode(t, err, auth.CodeRateLimited)
	// Once the wait is over, the right password works again.
	f.clock.Advance(time.Second)
	if _, err := f.svc.ChangePassword(auth.ContextWithClient(ctx, client), me, pw, "another good passphrase"); err != nil {
		t.Fatal(err)
	}
}
