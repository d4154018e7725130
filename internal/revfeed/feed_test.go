package revfeed_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/revfeed"
	"github.com/latchauth/latch/internal/sqlstore"
)

// feedFixture is a revocation feed on a real SQLite store with a settable
// clock.
type feedFixture struct {
	db    *sqlstore.DB
	feed  *revfeed.Feed
	clock *authtest.Clock
}

func newFeedFixture(t testing.TB, mod func(*revfeed.Config)) *feedFixture {
	t.Helper()
	db := authtest.OpenStore(t)
	clk := authtest.NewClock(time.Now().UTC().Truncate(time.Second).Add(300 * time.Millisecond))
	cfg := revfeed.Config{Store: db, AccessTTL: 15 * time.Minute, Now: clk.Now, PollInterval: 20 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	f := revfeed.New(cfg)
	t.Cleanup(f.Close)
	return &feedFixture{db: db, feed: f, clock: clk}
}

func (x *feedFixture) user(t *testing.T, id string, cutoff time.Time) {
	t.Helper()
	err := x.db.Tx(context.Background(), func(tx auth.Tx) error {
		return tx.CreateUser(context.Background(), &auth.User{
			ID: id, Email: id + "@example.com", EmailNorm: id + "@example.com",
			CreatedAt: x.clock.Now(), UpdatedAt: x.clock.Now(), TokensValidAfter: cutoff,
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (x *feedFixture) session(t *testing.T, id, userID string, revoked time.Time) {
	t.Helper()
	now := x.clock.Now()
	err := x.db.Tx(context.Background(), func(tx auth.Tx) error {
		return tx.CreateSession(context.Background(), &auth.Session{
			ID: id, UserID: userID, CreatedAt: now.Add(-time.Hour), LastUsedAt: now,
			ExpiresAt: now.Add(time.Hour), RevokedAt: revoked,
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (x *feedFixture) revoke(t *testing.T, id string, at time.Time) {
	t.Helper()
	err := x.db.Tx(context.Background(), func(tx auth.Tx) error {
		_, err := tx.RevokeSession(context.Background(), id, at)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// showFeed prints an answer's entries compactly, times relative to base.
func showFeed(r *revfeed.Answer, base time.Time) string {
	var parts []string
	for _, s := range r.Sessions {
		parts = append(parts, fmt.Sprintf("s:%s@%v-%v", s.SessionID, s.RevokedAt.Sub(base), s.Until.Sub(base)))
	}
	for _, u := range r.Users {
		parts = append(parts, fmt.Sprintf("u:%s nb%v-%v", u.UserID, u.NotBefore.Sub(base), u.Until.Sub(base)))
	}
	return strings.Join(parts, " ")
}

func TestRevocationFeedAnswer(t *testing.T) {
	x := newFeedFixture(t, nil)
	now := x.clock.Now() // a whole second + 300ms
	x.user(t, "u1", time.Time{})
	x.user(t, "cut", now.Add(-time.Minute))            // logged out everywhere a minute ago
	x.user(t, "oldcut", now.Add(-16*time.Minute))      // too long ago to matter
	x.session(t, "live", "u1", time.Time{})            // not revoked
	x.session(t, "ended", "u1", now.Add(-time.Second)) // logged out
	x.session(t, "long-ago", "u1", now.Add(-20*time.Minute))

	ctx := context.Background()
	r, err := x.feed.Poll(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := "s:ended@-1s-14m59s u:cut nb-1m0.3s-14m0s"
	if got := showFeed(r, now); got != want {
		t.Errorf("answer:\ngot  %s\nwant %s", got, want)
	}
	if r.Cursor == "" || r.PollAfter != 0 {
		t.Errorf("cursor %q poll after %v, want a cursor and 0", r.Cursor, r.PollAfter)
	}

	// A deleted account voids every token it had, those of the deletion's
	// own second included (not_before rounded up).
	err = x.db.Tx(ctx, func(tx auth.Tx) error { return tx.DeleteUser(ctx, "u1") })
	if err != nil {
		t.Fatal(err)
	}
	r, err = x.feed.Poll(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Users) != 2 || r.Users[1].UserID != "u1" {
		t.Fatalf("after deleting u1: %s", showFeed(r, now))
	}
	d := r.Users[1]
	if d.NotBefore.Before(d.At) || d.NotBefore.Sub(d.At) >= time.Second || d.NotBefore.Nanosecond() != 0 {
		t.Errorf("deleted user's not_before %v for a deletion at %v: want the next whole second", d.NotBefore, d.At)
	}
	if len(r.Sessions) != 0 {
		t.Errorf("sessions of a deleted user still listed: %s", showFeed(r, now))
	}
}

func TestRevocationFeedLongPoll(t *testing.T) {
	x := newFeedFixture(t, func(c *revfeed.Config) { c.PollInterval = time.Hour })
	now := x.clock.Now()
	x.user(t, "u1", time.Time{})
	x.session(t, "a", "u1", now.Add(-time.Minute))
	x.session(t, "b", "u1", time.Time{})
	ctx := context.Background()
	first, err := x.feed.Poll(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := showFeed(first, now); got != "s:a@-1m0s-14m0s" {
		t.Fatalf("first answer %s", got)
	}

	// Nothing new: the poll waits its full time and answers what the
	// cursor already had (here nothing, "a" is older than the overlap).
	start := time.Now()
	r, err := x.feed.Poll(ctx, first.Cursor, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Errorf("poll with nothing new answered after %v, want it to wait 200ms", el)
	}
	if got := showFeed(r, now); got != "" {
		t.Errorf("answer with nothing new: %s", got)
	}

	// A revocation committed while a poll waits, then Changed: the poll
	// answers with it at once.
	type result struct {
		r   *revfeed.Answer
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := x.feed.Poll(ctx, r.Cursor, 25*time.Second)
		done <- result{r, err}
	}()
	x.revoke(t, "b", now)
	x.feed.Changed()
	select {
	case res := <-done:
		if res.err != nil {
			t.Fatal(res.err)
		}
		if got := showFeed(res.r, now); got != "s:b@0s-15m0s" {
			t.Errorf("answer after revoking b: %s", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiting poll not answered after Changed")
	}
}

// TestRevocationFeedSeesOtherWriters: a revocation made by another process
// (no Changed) reaches waiting polls through the store within PollInterval.
func TestRevocationFeedSeesOtherWriters(t *testing.T) {
	x := newFeedFixture(t, nil) // PollInterval 20ms
	now := x.clock.Now()
	x.user(t, "u1", time.Time{})
	x.session(t, "a", "u1", time.Time{})
	ctx := context.Background()
	first, err := x.feed.Poll(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *revfeed.Answer, 1)
	go func() {
		r, err := x.feed.Poll(ctx, first.Cursor, 25*time.Second)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	x.revoke(t, "a", now)
	select {
	case r := <-done:
		if got := showFeed(r, now); got != "s:a@0s-15m0s" {
			t.Errorf("answer %s", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiting poll never saw the revocation")
	}
}

func TestRevocationFeedCursor(t *testing.T) {
	x := newFeedFixture(t, nil)
	ctx := context.Background()
	for _, bad := range []string{"x", "1", "1.2", "2.1.1", "1.01.1", "1.1.G", "1.-1.1", "1.1.01", strings.Repeat("1", 70)} {
		_, err := x.feed.Poll(ctx, bad, 0)
		if got := auth.ErrorCode(err); got != auth.CodeInvalidRequest {
			t.Errorf("Poll(%q): got %v (code %s), want invalid_request", bad, err, got)
		}
	}
}

func TestRevocationFeedClose(t *testing.T) {
	x := newFeedFixture(t, nil)
	ctx := context.Background()
	first, err := x.feed.Poll(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *revfeed.Answer, 1)
	go func() {
		r, err := x.feed.Poll(ctx, first.Cursor, 25*time.Second)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	// Close may run before or after the poll starts waiting: either way
	// it answers at once, telling the follower to come back later.
	x.feed.Close()
	select {
	case r := <-done:
		if r != nil && r.PollAfter <= 0 {
			t.Errorf("answer on close: poll after %v, want > 0", r.PollAfter)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not answer the waiting poll")
	}
}

func TestRevocationFeedOnEvent(t *testing.T) {
	x := newFeedFixture(t, func(c *revfeed.Config) { c.PollInterval = time.Hour })
	now := x.clock.Now()
	x.user(t, "u1", time.Time{})
	x.session(t, "a", "u1", time.Time{})
	ctx := context.Background()
	first, err := x.feed.Poll(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *revfeed.Answer, 1)
	go func() {
		r, _ := x.feed.Poll(ctx, first.Cursor, 25*time.Second)
		done <- r
	}()
	x.revoke(t, "a", now)
	x.feed.OnEvent(ctx, auth.Event{Type: auth.EventLogin}) // does not revoke: no wake-up
	x.feed.OnEvent(ctx, auth.Event{Type: auth.EventLogout})
	select {
	case r := <-done:
		if r == nil || len(r.Sessions) != 1 {
			t.Errorf("answer after a logout event: %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a logout event did not wake the waiting poll")
	}
}

// FuzzRevocationCursor: any since either is refused as invalid_request or
// answered; a cursor the feed made is always accepted.
func FuzzRevocationCursor(f *testing.F) {
	x := newFeedFixture(f, nil)
	f.Add("1.1741000000000000.1f")
	f.Add("")
	f.Add("1.0.0")
	f.Fuzz(func(t *testing.T, since string) {
		r, err := x.feed.Poll(context.Background(), since, 0)
		if err != nil {
			if auth.ErrorCode(err) != auth.CodeInvalidRequest {
				t.Fatalf("Poll(%q): %v, want invalid_request", since, err)
			}
			return
		}
		if _, err := x.feed.Poll(context.Background(), r.Cursor, 0); err != nil {
			t.Fatalf("the feed's own cursor %q refused: %v", r.Cursor, err)
		}
	})
}
