package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// Housekeeping.

func testPrune(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	day := 24 * time.Hour
	cutoff := t0.Add(10 * day)

	ended := newSession("ended", "u1", t0)     // revoked before the cut-off
	expired := newSession("expired", "u1", t0) // absolute end before the cut-off
	expired.ExpiresAt = t0.Add(5 * day)
	recent := newSession("recent", "u1", t0) // revoked after the cut-off: kept
	live := newSession("live", "u1", t0)     // kept (ends at t0 + 30 days)
	for _, x := range []*auth.Session{ended, expired, recent, live} {
		createSession(t, s, x)
	}
	rtEnded := &auth.RefreshToken{Hash: hash("rt-ended"), SessionID: "ended", UserID: "u1", CreatedAt: t0}
	rtLive := &auth.RefreshToken{Hash: hash("rt-live"), SessionID: "live", UserID: "u1", CreatedAt: t0}
	otOld := &auth.OneTimeToken{Hash: hash("ot-old"), Kind: auth.KindReset, UserID: "u1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	otUsed := &auth.OneTimeToken{Hash: hash("ot-used"), Kind: auth.KindConfirm, UserID: "u1", CreatedAt: t0.Add(9 * day), ExpiresAt: t0.Add(11 * day)}
	otOpen := &auth.OneTimeToken{Hash: hash("ot-open"), Kind: auth.KindConfirm, UserID: "u1", CreatedAt: t0.Add(9 * day), ExpiresAt: t0.Add(11 * day)}
	tx(t, s, func(tx auth.Tx) error {
		for _, r := range []*auth.RefreshToken{rtEnded, rtLive} {
			if err := tx.CreateRefreshToken(ctx, r); err != nil {
				return err
			}
		}
		for _, o := range []*auth.OneTimeToken{otOld, otUsed, otOpen} {
			if err := tx.CreateOneTimeToken(ctx, o); err != nil {
				return err
			}
		}
		if _, err := tx.ConsumeOneTimeToken(ctx, otUsed.Hash, otUsed.Kind, t0.Add(9*day+time.Hour)); err != nil {
			return err
		}
		if _, err := tx.RevokeSession(ctx, "ended", t0.Add(day)); err != nil {
			return err
		}
		_, err := tx.RevokeSession(ctx, "recent", cutoff.Add(time.Hour))
		return err
	})

	var n int64
	tx(t, s, func(tx auth.Tx) error {
		var err error
		n, err = tx.Prune(ctx, cutoff)
		return err
	})
	// ended, expired, ot-old, ot-used.
	if n != 4 {
		t.Errorf("Prune removed %d rows, want 4", n)
	}
	for _, id := range []string{"ended", "expired"} {
		if _, err := s.SessionByID(ctx, id); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("session %s: got %v, want ErrNotFound", id, err)
		}
	}
	for _, id := range []string{"recent", "live"} {
		if _, err := s.SessionByID(ctx, id); err != nil {
			t.Errorf("session %s was pruned: %v", id, err)
		}
	}
	if _, err := s.RefreshTokenByHash(ctx, rtEnded.Hash); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("refresh token of a pruned session: got %v, want ErrNotFound", err)
	}
	if _, err := s.RefreshTokenByHash(ctx, rtLive.Hash); err != nil {
		t.Errorf("refresh token of a live session was pruned: %v", err)
	}
	for _, h := range [][]byte{otOld.Hash, otUsed.Hash} {
		if _, err := s.OneTimeTokenByHash(ctx, h); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("one-time token kept: %v", err)
		}
	}
	if _, err := s.OneTimeTokenByHash(ctx, otOpen.Hash); err != nil {
		t.Errorf("open one-time token was pruned: %v", err)
	}
	if _, err := s.UserByID(ctx, "u1"); err != nil {
		t.Errorf("the user went with the prune: %v", err)
	}
}

// Pruning unconfirmed accounts goes through the accounts holding a
// confirmation link, a bounded batch at a time, resuming after the last
// one examined: the thousands of unconfirmed accounts never sent a link
// (imported ones) are not part of any batch, and every batch, whatever the
// size of the users table, examines at most its limit.
func testPruneUnconfirmedBatches(t *testing.T, s auth.Store) {
	ctx := context.Background()
	cutoff := t0.Add(-48 * time.Hour)
	const linked, limit, imported = 30, 7, 300
	var users []*auth.User
	wantGone := map[string]bool{}
	for i := range linked {
		u := newUser(fmt.Sprintf("l%02d", i), fmt.Sprintf("l%02d@example.com", i))
		u.CreatedAt = cutoff.Add(-time.Hour)
		switch {
		case i%3 == 0: // young: kept
			u.CreatedAt = cutoff.Add(time.Hour)
		case i%5 == 1: // a live session keeps it
		default:
			wantGone[u.ID] = true
		}
		users = append(users, u)
		// Unconfirmed accounts never sent a link, sorting among the others.
		for j := range imported / linked {
			m := newUser(fmt.Sprintf("l%02d-imported-%d", i, j), fmt.Sprintf("l%02d-imported-%d@example.com", i, j))
			m.CreatedAt = cutoff.Add(-time.Hour)
			users = append(users, m)
		}
	}
	tx(t, s, func(tx auth.Tx) error { _, err := tx.CreateUsersIfAbsent(ctx, users); return err })
	for i := range linked {
		id := fmt.Sprintf("l%02d", i)
		if i%5 == 1 && i%3 != 0 {
			createSession(t, s, newSession("live-"+id, id, t0.Add(-time.Hour)))
		}
		tx(t, s, func(tx auth.Tx) error {
			for k := range 2 { // a link and a resent one: one account
				err := tx.CreateOneTimeToken(ctx, &auth.OneTimeToken{Hash: hash(fmt.Sprintf("%s-link-%d", id, k)), Kind: auth.KindConfirm,
					UserID: id, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
				if err != nil {
					return err
				}
			}
			return nil
		})
	}

	var total int64
	var batches int
	after := ""
	for {
		var n int64
		var next string
		tx(t, s, func(tx auth.Tx) (err error) {
			n, next, err = tx.PruneUnconfirmed(ctx, cutoff, t0, after, limit)
			return err
		})
		batches++
		if n > limit {
			t.Errorf("batch %d deleted %d accounts, more than its limit %d", batches, n, limit)
		}
		total += n
		if next == "" {
			break
		}
		if next <= after {
			t.Fatalf("batch %d: next %q does not move past %q", batches, next, after)
		}
		if batches > linked {
			t.Fatalf("%d batches for %d accounts with a link: the prune does not end", batches, linked)
		}
		after = next
	}
	// Only the accounts with a link were examined, limit at a time.
	if want := (linked + limit - 1) / limit; batches != want {
		t.Errorf("pruning took %d batches of %d, want %d (%d accounts hold a link)", batches, limit, want, linked)
	}
	if total != int64(len(wantGone)) {
		t.Errorf("pruned %d accounts, want %d", total, len(wantGone))
	}
	for _, u := range users {
		_, err := s.UserByID(ctx, u.ID)
		switch {
		case wantGone[u.ID] && !errors.Is(err, auth.ErrNotFound):
			t.Errorf("user %s: got %v, want ErrNotFound", u.ID, err)
		case !wantGone[u.ID] && err != nil:
			t.Errorf("user %s was pruned: %v", u.ID, err)
		}
	}
}
