package storetest

import (
	"context"
	"errors"
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
