package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// OutboxStore is a store that also serves the mail worker.
type OutboxStore interface {
	auth.Store
	auth.Outbox
}

// RunOutbox runs the conformance suite for auth.Outbox, its subtests in
// parallel. open must return a fresh, empty store for each call; RunOutbox
// closes it when the subtest ends.
func RunOutbox(t *testing.T, open func(t *testing.T) OutboxStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s OutboxStore)
	}{
		{"EnqueueClaim", testEnqueueClaim},
		{"ClaimLease", testClaimLease},
		{"ClaimLimit", testClaimLimit},
		{"MailFailed", testMailFailed},
		{"MailSent", testMailSent},
		{"MailAbandoned", testMailAbandoned},
		{"EnqueueRollback", testEnqueueRollback},
		{"ConcurrentClaim", testConcurrentClaim},
	}
	runEach(t, open, tests)
}

func newMail(i int, created time.Time) *auth.OutboxMessage {
	return &auth.OutboxMessage{
		Kind: auth.MailReset,
		Message: auth.Message{
			To:      fmt.Sprintf("user%d@example.com", i),
			Subject: fmt.Sprintf("Reset your password (%d)", i),
			Text:    fmt.Sprintf("https://latch.example/reset#token-%d", i),
			HTML:    fmt.Sprintf(`<a href="https://latch.example/reset#token-%d">Reset</a>`, i),
		},
		CreatedAt:     created,
		NextAttemptAt: created,
	}
}

func enqueue(t *testing.T, s OutboxStore, ms ...*auth.OutboxMessage) {
	t.Helper()
	tx(t, s, func(tx auth.Tx) error {
		for _, m := range ms {
			if err := tx.EnqueueMail(context.Background(), m); err != nil {
				return err
			}
		}
		return nil
	})
}

func claim(t *testing.T, s OutboxStore, now time.Time, n int, lease time.Duration) []*auth.OutboxMessage {
	t.Helper()
	got, err := s.ClaimMail(context.Background(), now, n, lease)
	if err != nil {
		t.Fatalf("ClaimMail: %v", err)
	}
	return got
}

func ids(ms []*auth.OutboxMessage) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func depth(t *testing.T, s OutboxStore) int {
	t.Helper()
	n, err := s.OutboxDepth(context.Background())
	if err != nil {
		t.Fatalf("OutboxDepth: %v", err)
	}
	return n
}

func testEnqueueClaim(t *testing.T, s OutboxStore) {
	if n := depth(t, s); n != 0 {
		t.Errorf("OutboxDepth(empty) = %d, want 0", n)
	}
	if got := claim(t, s, t0, 10, time.Minute); len(got) != 0 {
		t.Errorf("ClaimMail(empty) = %v, want none", ids(got))
	}
	a, b := newMail(1, t0.Add(-time.Minute)), newMail(2, t0)
	later := newMail(3, t0)
	later.NextAttemptAt = t0.Add(time.Microsecond)
	enqueue(t, s, a, b, later)
	if a.ID == 0 || !(a.ID < b.ID && b.ID < later.ID) {
		t.Fatalf("EnqueueMail ids: got %d, %d, %d, want increasing and non-zero", a.ID, b.ID, later.ID)
	}
	if n := depth(t, s); n != 3 {
		t.Errorf("OutboxDepth = %d, want 3", n)
	}

	lease := 5 * time.Minute
	got := claim(t, s, t0, 10, lease)
	wantA, wantB := *a, *b
	wantA.NextAttemptAt, wantB.NextAttemptAt = t0.Add(lease), t0.Add(lease)
	if want := []*auth.OutboxMessage{&wantA, &wantB}; show(got) != show(want) {
		t.Errorf("ClaimMail:\ngot  %s\nwant %s", show(got), show(want))
	}
	// Claiming does not deliver.
	if n := depth(t, s); n != 3 {
		t.Errorf("OutboxDepth after claim = %d, want 3", n)
	}
}

func testClaimLease(t *testing.T, s OutboxStore) {
	a, b := newMail(1, t0), newMail(2, t0)
	enqueue(t, s, a, b)
	lease := time.Minute
	if got := claim(t, s, t0, 10, lease); !slices.Equal(ids(got), []int64{a.ID, b.ID}) {
		t.Fatalf("first ClaimMail: got %v, want %v", ids(got), []int64{a.ID, b.ID})
	}
	for _, at := range []time.Time{t0, t0.Add(lease / 2), t0.Add(lease - time.Microsecond)} {
		if got := claim(t, s, at, 10, lease); len(got) != 0 {
			t.Errorf("ClaimMail at %v, within the lease: got %v, want none", at, ids(got))
		}
	}
	// Once the lease ran out (the worker died) the messages are due again.
	got := claim(t, s, t0.Add(lease), 10, lease)
	if !slices.Equal(ids(got), []int64{a.ID, b.ID}) {
		t.Errorf("ClaimMail after the lease: got %v, want %v", ids(got), []int64{a.ID, b.ID})
	}
}

func testClaimLimit(t *testing.T, s OutboxStore) {
	var ms []*auth.OutboxMessage
	for i := range 5 {
		ms = append(ms, newMail(i, t0))
	}
	enqueue(t, s, ms...)
	if got := claim(t, s, t0, 0, time.Minute); len(got) != 0 {
		t.Errorf("ClaimMail(n=0): got %v, want none", ids(got))
	}
	var seen []int64
	for _, n := range []int{2, 2, 2} {
		got := claim(t, s, t0, n, time.Minute)
		seen = append(seen, ids(got)...)
	}
	if want := ids(ms); !slices.Equal(seen, want) {
		t.Errorf("ClaimMail in batches of 2: got %v, want %v in order", seen, want)
	}
}

func testMailFailed(t *testing.T, s OutboxStore) {
	ctx := context.Background()
	m := newMail(1, t0)
	enqueue(t, s, m)
	claim(t, s, t0, 10, time.Minute)

	next := t0.Add(10 * time.Minute)
	long := strings.Repeat("é", 2000) // the store may cut it, at a character boundary
	errText := "421 4.7.0 try again later"
	if err := s.MailFailed(ctx, m.ID, next, errText); err != nil {
		t.Fatalf("MailFailed: %v", err)
	}
	if got := claim(t, s, next.Add(-time.Microsecond), 10, time.Minute); len(got) != 0 {
		t.Errorf("ClaimMail before the retry time: got %v, want none", ids(got))
	}
	got := claim(t, s, next, 10, time.Minute)
	want := *m
	want.Attempts, want.NextAttemptAt, want.LastError = 1, next.Add(time.Minute), errText
	if w := []*auth.OutboxMessage{&want}; show(got) != show(w) {
		t.Errorf("ClaimMail after MailFailed:\ngot  %s\nwant %s", show(got), show(w))
	}

	if err := s.MailFailed(ctx, m.ID, next.Add(time.Hour), long); err != nil {
		t.Fatalf("MailFailed(long error): %v", err)
	}
	got = claim(t, s, next.Add(time.Hour), 10, time.Minute)
	if len(got) != 1 || got[0].Attempts != 2 || !strings.HasPrefix(long, got[0].LastError) || got[0].LastError == "" {
		t.Errorf("after second MailFailed: got %s, want attempts 2 and a prefix of the error", show(got))
	}

	err := s.MailFailed(ctx, m.ID+100, next, "x")
	if !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("MailFailed(missing): got %v, want %v", err, auth.ErrNotFound)
	}
}

func testMailSent(t *testing.T, s OutboxStore) {
	ctx := context.Background()
	a, b := newMail(1, t0), newMail(2, t0)
	enqueue(t, s, a, b)
	claim(t, s, t0, 10, time.Minute)
	if err := s.MailSent(ctx, a.ID); err != nil {
		t.Fatalf("MailSent: %v", err)
	}
	if n := depth(t, s); n != 1 {
		t.Errorf("OutboxDepth after MailSent = %d, want 1", n)
	}
	// A sent message is gone for good, even once its lease ran out.
	if got := claim(t, s, t0.Add(time.Hour), 10, time.Minute); !slices.Equal(ids(got), []int64{b.ID}) {
		t.Errorf("ClaimMail after MailSent: got %v, want %v", ids(got), []int64{b.ID})
	}
	if err := s.MailSent(ctx, a.ID); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("MailSent twice: got %v, want %v", err, auth.ErrNotFound)
	}
}

func testEnqueueRollback(t *testing.T, s OutboxStore) {
	boom := errors.New("boom")
	err := s.Tx(context.Background(), func(tx auth.Tx) error {
		if err := tx.EnqueueMail(context.Background(), newMail(1, t0)); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Tx: got %v, want %v", err, boom)
	}
	if n := depth(t, s); n != 0 {
		t.Errorf("OutboxDepth after rollback = %d, want 0", n)
	}
}

func testConcurrentClaim(t *testing.T, s OutboxStore) {
	var ms []*auth.OutboxMessage
	for i := range racers / 2 {
		ms = append(ms, newMail(i, t0))
	}
	enqueue(t, s, ms...)
	type claimed struct {
		ids []int64
		err error
	}
	results := race(func(int) claimed {
		got, err := s.ClaimMail(context.Background(), t0, 1, time.Minute)
		return claimed{ids(got), err}
	})
	var all []int64
	for _, r := range results {
		if r.err != nil {
			t.Errorf("ClaimMail: %v", r.err)
		}
		all = append(all, r.ids...)
	}
	slices.Sort(all)
	if want := ids(ms); !slices.Equal(all, want) {
		t.Errorf("%d concurrent claims of 1 message: got %v, want each of %v exactly once", racers, all, want)
	}
}

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
