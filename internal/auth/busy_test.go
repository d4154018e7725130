package auth_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/password"
)

// fullQueue is a Hasher whose queue is always full, as password.Hasher
// reports it, wrapped the way a caller might.
type fullQueue struct{}

func (fullQueue) Hash(context.Context, string) (string, error) {
	return "", fmt.Errorf("hash: %w", password.ErrBusy)
}

func (fullQueue) Verify(context.Context, string, string) (bool, bool, error) {
	return false, false, fmt.Errorf("verify: %w", password.ErrBusy)
}

func (fullQueue) VerifyDummy(context.Context, string) error {
	return fmt.Errorf("verify: %w", password.ErrBusy)
}

// TestHashingQueueFullIsUnavailable: a full hashing queue is a 503 with a
// Retry-After, never an internal error nor a wrong-password answer.
func TestHashingQueueFullIsUnavailable(t *testing.T) {
	fx := authtest.New(t, auth.Config{PublicURL: "https://auth.example.com"},
		authtest.WithDeps(func(d *auth.Deps) { d.Hasher = fullQueue{} }))
	ctx := context.Background()
	c := auth.ClientInfo{IP: "192.0.2.1"}
	for name, call := range map[string]func() error{
		"signup": func() error {
			_, err := fx.Service.Signup(auth.ContextWithClient(ctx, c), "new@example.com", "zebra-lantern-41-quiet")
			return err
		},
		"login of an unknown address": func() error {
			_, err := fx.Service.Login(auth.ContextWithClient(ctx, c), "nobody@example.com", "zebra-lantern-41-quiet")
			return err
		},
		"login with an address latch refuses": func() error {
			_, err := fx.Service.Login(auth.ContextWithClient(ctx, c), "not an address", "zebra-lantern-41-quiet")
			return err
		},
	} {
		err := call()
		if got := auth.ErrorCode(err); got != auth.CodeUnavailable {
			t.Errorf("%s with the hashing queue full: %v (code %s), want %s", name, err, got, auth.CodeUnavailable)
			continue
		}
		if e, ok := err.(*auth.Error); !ok || e.RetryAfter <= 0 {
			t.Errorf("%s with the hashing queue full: %#v, want a Retry-After", name, err)
		}
	}
}
