package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// testMailAbandoned: a message given up on leaves the outbox for good,
// failed or not, and the others stay.
func testMailAbandoned(t *testing.T, s OutboxStore) {
	ctx := context.Background()
	a, b, c := newMail(1, t0), newMail(2, t0), newMail(3, t0)
	enqueue(t, s, a, b, c)
	claim(t, s, t0, 10, time.Minute)
	if err := s.MailFailed(ctx, b.ID, t0.Add(time.Minute), "550 5.1.1 no such user"); err != nil {
		t.Fatalf("MailFailed: %v", err)
	}
	for _, id := range []int64{a.ID, b.ID} {
		if err := s.MailAbandoned(ctx, id); err != nil {
			t.Fatalf("MailAbandoned(%d): %v", id, err)
		}
	}
	if n := depth(t, s); n != 1 {
		t.Errorf("OutboxDepth after two MailAbandoned = %d, want 1", n)
	}
	if got := claim(t, s, t0.Add(time.Hour), 10, time.Minute); !slices.Equal(ids(got), []int64{c.ID}) {
		t.Errorf("ClaimMail after MailAbandoned: got %v, want %v", ids(got), []int64{c.ID})
	}
	if err := s.MailAbandoned(ctx, a.ID); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("MailAbandoned twice: got %v, want %v", err, auth.ErrNotFound)
	}
}
