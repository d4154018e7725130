package auth_test

import (
	"context"
	"sync"
	"testing"

	"github.com/latchauth/latch/internal/auth"
)

// refreshAtOnce presents one refresh token in n concurrent Refresh calls.
func refreshAtOnce(f *fixture, tok string, n int) ([]*auth.TokenPair, []error) {
	pairs, errs := make([]*auth.TokenPair, n), make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			pairs[i], errs[i] = f.svc.Refresh(auth.ContextWithClient(context.Background(), client), tok)
		})
	}
	close(start)
	wg.Wait()
	return pairs, errs
}

// Within the grace window, concurrent presentations of one token are one
// rotation and its retries: every caller gets the same successor, and the
// session goes on.
func TestConcurrentRefreshWithinGraceShareOneSuccessor(t *testing.T) {
	f := newFixture(t, nil) // grace 5 s, the clock stands still
	p0 := f.confirmed(t, "together@example.com")
	pairs, errs := refreshAtOnce(f, p0.RefreshToken, 10)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if pairs[i].RefreshToken != pairs[0].RefreshToken {
			t.Fatalf("call %d got another successor than call 0: the token was rotated twice", i)
		}
	}
	if _, err := f.svc.Refresh(auth.ContextWithClient(context.Background(), client), pairs[0].RefreshToken); err != nil {
		t.Fatalf("the shared successor: %v", err)
	}
}

// Without a grace window exactly one concurrent presentation rotates the
// token; every other one is a reuse, which ends the session, so the
// winner's successor is refused too.
func TestConcurrentRefreshWithoutGraceOneWinsThenReuseEnds(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) { c.RefreshGrace = -1 })
	p0 := f.confirmed(t, "apart@example.com")
	pairs, errs := refreshAtOnce(f, p0.RefreshToken, 10)
	var winner *auth.TokenPair
	for i, err := range errs {
		switch {
		case err == nil && winner == nil:
			winner = pairs[i]
		case err == nil:
			t.Fatalf("two calls rotated the same token")
		default:
			if auth.ErrorCode(err) != auth.CodeInvalidBearer {
				t.Fatalf("call %d: %v, want invalid_bearer", i, err)
			}
		}
	}
	if winner == nil {
		t.Fatal("no call rotated the token")
	}
	_, err := f.svc.Refresh(auth.ContextWithClient(context.Background(), client), winner.RefreshToken)
	wantCode(t, err, auth.CodeInvalidBearer)
	if _, err := f.svc.Authenticate(context.Background(), winner.AccessToken); err == nil {
		t.Error("the ended session's access token still authenticates")
	}
}
