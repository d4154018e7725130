package auth_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
)

// gatedStore holds every transaction while closed, so that the background
// jobs of forgot-password pile up.
type gatedStore struct {
	auth.Store
	closed  atomic.Bool
	gate    chan struct{}
	blocked atomic.Int32
}

func (s *gatedStore) Tx(ctx context.Context, fn func(auth.Tx) error) error {
	if s.closed.Load() {
		s.blocked.Add(1)
		<-s.gate
	}
	return s.Store.Tx(ctx, fn)
}

// A burst of forgot-password requests larger than the background slots:
// every request still gets its reset mail (the requests past the slots wait
// for one instead of being dropped).
func TestForgotBurstDropsNoMail(t *testing.T) {
	const n = 100 // more than the 64 background slots
	gs := &gatedStore{gate: make(chan struct{})}
	fx := authtest.New(t, auth.Config{PublicURL: "https://auth.example.com"},
		authtest.WithDeps(func(d *auth.Deps) { gs.Store = d.Store; d.Store = gs }))
	ctx := context.Background()
	addr := func(i int) string { return fmt.Sprintf("burst%03d@example.com", i) }
	err := fx.DB.Tx(ctx, func(tx auth.Tx) error {
		for i := range n {
			now := fx.Clock.Now()
			u := &auth.User{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Email: addr(i), EmailNorm: addr(i),
				PasswordHash:   "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
				EmailConfirmed: true, Roles: []string{"user"}, CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	gs.closed.Store(true)
	full := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			if i == 64 {
				close(full) // every slot is about to be taken
			}
			errs[i] = fx.Service.ForgotPassword(auth.ContextWithClient(ctx, auth.ClientInfo{IP: "192.0.2.1"}), addr(i))
		}
	}()
	<-full
	for gs.blocked.Load() < 64 {
		time.Sleep(time.Millisecond)
	}
	// Every slot is taken: a request that cannot wait any longer (here:
	// its client went away) is told to come back, never silently dropped.
	gone, cancel := context.WithCancel(ctx)
	cancel()
	err = fx.Service.ForgotPassword(auth.ContextWithClient(gone, auth.ClientInfo{IP: "192.0.2.1"}), "late@example.com")
	wantCode(t, err, auth.CodeUnavailable)
	var ae *auth.Error
	if !errors.As(err, &ae) || ae.RetryAfter <= 0 {
		t.Errorf("busy answer %v has no Retry-After", err)
	}
	close(gs.gate)
	wg.Wait()
	fx.Service.Close()
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	msgs := authtest.PeekMail(t, fx.DB, fx.Clock.Now())
	for i := range n {
		if got := len(authtest.MailTokens(msgs, addr(i), "")); got != 1 {
			t.Errorf("%s got %d reset mails, want 1", addr(i), got)
		}
	}
}
