package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// rotationFixture is a user u1 with session s1 and its unused refresh token
// "rt".
func rotationFixture(t *testing.T, s auth.Store) *auth.RefreshToken {
	t.Helper()
	createUser(t, s, newUser("u1", "a@example.com"))
	createSession(t, s, newSession("s1", "u1", t0))
	rt := &auth.RefreshToken{Hash: hash("rt"), SessionID: "s1", UserID: "u1", CreatedAt: t0}
	tx(t, s, func(tx auth.Tx) error { return tx.CreateRefreshToken(context.Background(), rt) })
	return rt
}

func testRefreshTokenState(t *testing.T, s auth.Store) {
	ctx := context.Background()
	rt := rotationFixture(t, s)
	got, err := s.RefreshTokenState(ctx, hash("rt"))
	if err != nil {
		t.Fatalf("RefreshTokenState: %v", err)
	}
	if show(got.Token) != show(rt) {
		t.Errorf("RefreshTokenState token:\ngot  %s\nwant %s", show(got.Token), show(rt))
	}
	if want := getSession(t, s, "s1"); show(got.Session) != show(want) {
		t.Errorf("RefreshTokenState session:\ngot  %s\nwant %s", show(got.Session), show(want))
	}
	if want := getUser(t, s, "u1"); show(got.User) != show(want) {
		t.Errorf("RefreshTokenState user:\ngot  %s\nwant %s", show(got.User), show(want))
	}
	_, err = s.RefreshTokenState(ctx, hash("nothing"))
	wantErr(t, "RefreshTokenState(missing)", err, auth.ErrNotFound)
}

// snapshot is what a rotation may change, printed for comparison.
func rotationSnapshot(t *testing.T, s auth.Store, successors ...[]byte) string {
	t.Helper()
	ctx := context.Background()
	rt, err := s.RefreshTokenByHash(ctx, hash("rt"))
	if err != nil {
		t.Fatalf("RefreshTokenByHash: %v", err)
	}
	out := show(rt) + "\n" + show(getSession(t, s, "s1"))
	for _, h := range successors {
		_, err := s.RefreshTokenByHash(ctx, h)
		out += fmt.Sprintf("\nsuccessor %x: %v", h[:4], err)
	}
	return out
}

// A revoked session's unused token does not rotate, and nothing changes.
func testRotateRevokedSession(t *testing.T, s auth.Store) {
	ctx := context.Background()
	rotationFixture(t, s)
	tx(t, s, func(tx auth.Tx) error {
		_, err := tx.RevokeSession(ctx, "s1", t0.Add(time.Second))
		return err
	})
	before := rotationSnapshot(t, s, hash("rt-next1"))
	_, ok, err := s.RotateRefreshTokenIfAllowed(ctx, allowedRotation("rt", 1, t0.Add(time.Minute)))
	if err != nil || ok {
		t.Errorf("RotateRefreshTokenIfAllowed(revoked session) = %v, %v; want false, nil", ok, err)
	}
	if after := rotationSnapshot(t, s, hash("rt-next1")); after != before {
		t.Errorf("rotation of a revoked session changed the store:\nbefore %s\nafter  %s", before, after)
	}
}

// Of concurrent rotations of one token (through RotateRefreshTokenIfAllowed and
// through MarkRefreshTokenUsed in a transaction) exactly one wins, and
// only the winner's successor exists.
func testConcurrentRotate(t *testing.T, s auth.Store) {
	ctx := context.Background()
	rotationFixture(t, s)
	at := t0.Add(time.Second)
	results := race(func(i int) (r result) {
		if i%3 == 2 {
			r.err = s.Tx(ctx, func(tx auth.Tx) (err error) {
				r.ok, err = tx.MarkRefreshTokenUsed(ctx, hash("rt"), at, hash(fmt.Sprint("rt-next", i)), []byte(fmt.Sprint("sealed", i)))
				return err
			})
			return r
		}
		_, r.ok, r.err = s.RotateRefreshTokenIfAllowed(ctx, allowedRotation("rt", i, at))
		return r
	})
	countWinners(t, "RotateRefreshTokenIfAllowed", results)
	got, err := s.RefreshTokenByHash(ctx, hash("rt"))
	if err != nil {
		t.Fatalf("RefreshTokenByHash: %v", err)
	}
	for i, r := range results {
		if r.ok && string(got.SuccessorSealed) != fmt.Sprint("sealed", i) {
			t.Errorf("successor: got sealed %q, want the winner's %q", got.SuccessorSealed, fmt.Sprint("sealed", i))
		}
		_, err := s.RefreshTokenByHash(ctx, hash(fmt.Sprint("rt-next", i)))
		if r.ok && i%3 != 2 && err != nil {
			t.Errorf("the winner's successor: %v", err)
		}
		if !r.ok && err == nil {
			t.Errorf("loser %d's successor was stored", i)
		}
	}
}

// A rotation racing a revocation of its session is all or nothing: when
// it reports true the token is used and its successor stored, when false
// neither.
func testRotateRacesRevoke(t *testing.T, s auth.Store) {
	ctx := context.Background()
	for round := range 5 {
		sid := fmt.Sprint("s", round)
		if round == 0 {
			createUser(t, s, newUser("u1", "a@example.com"))
		}
		createSession(t, s, newSession(sid, "u1", t0))
		tok := hash(fmt.Sprint("rt", round))
		tx(t, s, func(tx auth.Tx) error {
			return tx.CreateRefreshToken(ctx, &auth.RefreshToken{Hash: tok, SessionID: sid, UserID: "u1", CreatedAt: t0})
		})
		succ := hash(fmt.Sprint("next", round))
		results := race(func(i int) (r result) {
			if i == 0 {
				_, r.ok, r.err = s.RotateRefreshTokenIfAllowed(ctx, auth.RefreshRotation{Hash: tok, At: t0.Add(time.Second), SuccessorHash: succ, SuccessorSealed: []byte("sealed")})
				return r
			}
			r.err = s.Tx(ctx, func(tx auth.Tx) error {
				_, err := tx.RevokeSession(ctx, sid, t0.Add(time.Second))
				return err
			})
			return r
		})
		for _, r := range results {
			if r.err != nil {
				t.Fatalf("round %d: %v", round, r.err)
			}
		}
		rt, err := s.RefreshTokenByHash(ctx, tok)
		if err != nil {
			t.Fatalf("RefreshTokenByHash: %v", err)
		}
		_, succErr := s.RefreshTokenByHash(ctx, succ)
		rotated := results[0].ok
		if rotated != !rt.UsedAt.IsZero() || rotated != (succErr == nil) {
			t.Errorf("round %d: rotation reported %v; token used %v; successor stored %v", round, rotated, !rt.UsedAt.IsZero(), succErr == nil)
		}
	}
}

// Concurrent rotations of many sessions all rotate, and a rotation that
// fails (its successor's hash is taken) fails alone and changes nothing:
// a store that groups concurrent rotations into one transaction must not
// let one rotation's failure become the others'.
func testConcurrentRotateManySessions(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	const sessions = racers
	tx(t, s, func(tx auth.Tx) error {
		for i := range sessions {
			sid := fmt.Sprint("s", i)
			if err := tx.CreateSession(ctx, newSession(sid, "u1", t0)); err != nil {
				return err
			}
			if err := tx.CreateRefreshToken(ctx, &auth.RefreshToken{Hash: hash(fmt.Sprint("rt", i)), SessionID: sid, UserID: "u1", CreatedAt: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	const bad = 5 // its successor hash is session 0's token
	results := race(func(i int) (r result) {
		succ := hash(fmt.Sprint("next", i))
		if i == bad {
			succ = hash("rt0")
		}
		_, r.ok, r.err = s.RotateRefreshTokenIfAllowed(ctx, auth.RefreshRotation{
			Hash: hash(fmt.Sprint("rt", i)), At: t0.Add(time.Second), SuccessorHash: succ, SuccessorSealed: []byte("sealed"),
		})
		return r
	})
	for i := range sessions {
		rt, err := s.RefreshTokenByHash(ctx, hash(fmt.Sprint("rt", i)))
		if err != nil {
			t.Fatalf("RefreshTokenByHash: %v", err)
		}
		if i == bad {
			if results[i].ok || !errors.Is(results[i].err, auth.ErrConflict) {
				t.Errorf("rotation to a taken successor hash = %v, %v; want false, ErrConflict", results[i].ok, results[i].err)
			}
			if !rt.UsedAt.IsZero() {
				t.Errorf("the failed rotation marked its token used")
			}
			continue
		}
		if !results[i].ok || results[i].err != nil {
			t.Errorf("rotation of session %d = %v, %v; want true, nil", i, results[i].ok, results[i].err)
		}
		if rt.UsedAt.IsZero() {
			t.Errorf("session %d: token not marked used", i)
		}
		if _, err := s.RefreshTokenByHash(ctx, hash(fmt.Sprint("next", i))); err != nil {
			t.Errorf("session %d: successor: %v", i, err)
		}
	}
}
