package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// An access token checked before is still refused at its exp.
func TestVerifiedTokenStillExpires(t *testing.T) {
	t.Parallel()
	f, _ := cachedFixture(t, func(c *auth.Config) { c.AccessTTL = 5 * time.Minute })
	f.confirmed(t, "exp@example.com")
	p := f.login(t, "exp@example.com")
	f.principal(t, p.AccessToken)
	f.clock.Advance(5*time.Minute - time.Second)
	f.principal(t, p.AccessToken)
	f.clock.Advance(time.Second)
	_, err := f.svc.Authenticate(context.Background(), p.AccessToken)
	wantCode(t, err, auth.CodeTokenExpired)
}

// Only the exact token verified is answered from memory: any change to
// it, in the signature or the claims, is verified afresh and refused.
func TestVerifiedTokenExactBytes(t *testing.T) {
	t.Parallel()
	f, _ := cachedFixture(t, nil)
	f.confirmed(t, "exact@example.com")
	p := f.login(t, "exact@example.com")
	f.principal(t, p.AccessToken)
	f.principal(t, p.AccessToken)
	tok := []byte(p.AccessToken)
	flip := func(i int) string {
		b := append([]byte(nil), tok...)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	dot := 0
	for i, c := range tok {
		if c == '.' {
			dot = i
			break
		}
	}
	for name, bad := range map[string]string{
		"signature": flip(len(tok) - 2),
		"claims":    flip(dot + 5),
		"appended":  p.AccessToken + "A",
	} {
		_, err := f.svc.Authenticate(context.Background(), bad)
		if got := auth.ErrorCode(err); got != auth.CodeInvalidBearer {
			t.Errorf("token with its %s changed: %v, want %s", name, err, auth.CodeInvalidBearer)
		}
	}
	// The roles of a principal are its caller's to change.
	pr := f.principal(t, p.AccessToken)
	want := append([]string(nil), pr.Roles...)
	for i := range pr.Roles {
		pr.Roles[i] = "admin"
	}
	if got := f.principal(t, p.AccessToken).Roles; len(got) != len(want) || (len(got) > 0 && got[0] != want[0]) {
		t.Errorf("roles %v after a caller changed its copy, want %v", got, want)
	}
}
