package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// A rotated client secret: the new one works at once, the old one while
// the overlap lasts and not a second after; a rotation ends a secret an
// earlier one left valid, and one without an overlap ends the old secret
// at once.
func TestRotateClientSecret(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	c, first, err := f.svc.AdminCreateClient(ctx, auth.ActorCLI, auth.NewClient{Name: "Billing",
		Type: auth.ClientConfidential, RedirectURIs: []string{"https://billing.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	accepted := func(secret string) bool {
		t.Helper()
		reg, err := f.svc.RegisteredClient(ctx, c.ID)
		if err != nil || reg == nil {
			t.Fatalf("RegisteredClient: %v %v", reg, err)
		}
		return f.svc.CheckClientSecret(reg, secret)
	}
	rotate := func(overlap time.Duration) string {
		t.Helper()
		got, secret, err := f.svc.AdminRotateClientSecret(ctx, auth.ActorCLI, c.ID, overlap)
		if err != nil {
			t.Fatal(err)
		}
		want := time.Time{}
		if overlap > 0 {
			want = f.clock.Now().Add(overlap)
		}
		if secret == "" || !got.PreviousSecretUntil.Equal(want) {
			t.Fatalf("rotation by %v: secret %q, previous until %v (want %v)", overlap, secret, got.PreviousSecretUntil, want)
		}
		return secret
	}

	second := rotate(time.Hour)
	if second == first || !accepted(second) || !accepted(first) {
		t.Fatal("right after a rotation with an overlap, both secrets should be accepted")
	}
	f.clock.Advance(time.Hour - time.Second)
	if !accepted(first) {
		t.Fatal("the old secret was refused before its overlap ended")
	}
	f.clock.Advance(time.Second)
	if accepted(first) || !accepted(second) {
		t.Fatal("when the overlap ends, only the new secret should be accepted")
	}

	third := rotate(time.Hour)
	fourth := rotate(0)
	if accepted(second) || accepted(third) || !accepted(fourth) {
		t.Fatal("a rotation without an overlap should leave only the new secret")
	}
	if third2 := rotate(auth.MaxSecretOverlap); !accepted(fourth) || !accepted(third2) {
		t.Fatal("the longest overlap should keep both")
	}

	// Refusals change nothing.
	for _, overlap := range []time.Duration{-time.Second, auth.MaxSecretOverlap + time.Second} {
		_, _, err := f.svc.AdminRotateClientSecret(ctx, auth.ActorCLI, c.ID, overlap)
		wantCode(t, err, auth.CodeInvalidRequest)
	}
	_, _, err = f.svc.AdminRotateClientSecret(ctx, auth.ActorCLI, "nope", 0)
	wantCode(t, err, auth.CodeNotFound)
	pub, _, err := f.svc.AdminCreateClient(ctx, auth.ActorCLI, auth.NewClient{Name: "SPA",
		Type: auth.ClientPublic, RedirectURIs: []string{"https://spa.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = f.svc.AdminRotateClientSecret(ctx, auth.ActorCLI, pub.ID, 0)
	wantCode(t, err, auth.CodeInvalidRequest)
	if !accepted(fourth) {
		t.Fatal("a refused rotation changed the secret")
	}
}
