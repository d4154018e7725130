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

// saturatedHasher is a real Hasher that reports every slot and queue place
// taken, and counts the hashes it is asked for.
type saturatedHasher struct {
	*password.Hasher
	calls int
}

func (h *saturatedHasher) Saturated() bool { return true }

func (h *saturatedHasher) Verify(ctx context.Context, pw, enc string) (bool, bool, error) {
	h.calls++
	return h.Hasher.Verify(ctx, pw, enc)
}

func (h *saturatedHasher) VerifyDummy(ctx context.Context, pw string) error {
	h.calls++
	return h.Hasher.VerifyDummy(ctx, pw)
}

// lookupCounter counts account lookups by address.
type lookupCounter struct {
	auth.Store
	n int
}

func (l *lookupCounter) LoginUser(ctx context.Context, norm string) (*auth.User, bool, error) {
	l.n++
	return l.Store.LoginUser(ctx, norm)
}

// A saturated hasher refuses a login before it looks the account up or
// hashes anything: 503 with a Retry-After, for known and unknown
// addresses alike.
func TestLoginRefusedBeforeLookupWhenSaturated(t *testing.T) {
	t.Parallel()
	h := &saturatedHasher{Hasher: password.NewHasher(password.Config{})}
	lc := &lookupCounter{}
	fx := authtest.New(t, auth.Config{PublicURL: "https://auth.example.com"},
		authtest.WithDeps(func(d *auth.Deps) { lc.Store = d.Store; d.Store = lc }))
	ctx := context.Background()
	c := auth.ClientInfo{IP: "192.0.2.1"}
	if _, err := fx.Service.Signup(auth.ContextWithClient(ctx, c), "known@example.com", "zebra-lantern-41-quiet"); err != nil {
		t.Fatal(err)
	}
	sat := authtest.New(t, auth.Config{PublicURL: "https://auth.example.com"}, authtest.WithStore(fx.DB), authtest.WithClock(fx.Clock),
		authtest.WithDeps(func(d *auth.Deps) { lc.Store = d.Store; d.Store = lc; d.Hasher = h }))
	lc.n = 0
	for _, addr := range []string{"known@example.com", "unknown@example.com"} {
		_, err := sat.Service.Login(auth.ContextWithClient(ctx, c), addr, "zebra-lantern-41-quiet")
		e, ok := err.(*auth.Error)
		if !ok || e.Code != auth.CodeUnavailable || e.RetryAfter <= 0 {
			t.Errorf("login of %s with the hasher saturated: %#v, want 503 unavailable with a Retry-After", addr, err)
		}
	}
	if lc.n != 0 || h.calls != 0 {
		t.Errorf("refused logins made %d account lookups and %d hashes, want none", lc.n, h.calls)
	}
}
