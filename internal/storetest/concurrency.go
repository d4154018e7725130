package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// Concurrency: the patterns auth.Service relies on, which a
// database without a single writer (PostgreSQL at READ COMMITTED) must
// still get right.

// testConflictThenContinue: a transaction that meets a unique violation may
// go on and commit its other writes (Signup does, when the address was
// taken in between).
func testConflictThenContinue(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	createUser(t, s, newUser("u2", "b@example.com"))
	err := s.Tx(ctx, func(tx auth.Tx) error {
		err := tx.CreateUser(ctx, newUser("u3", "a@example.com"))
		if !errors.Is(err, auth.ErrConflict) {
			return fmt.Errorf("CreateUser with a taken email: got %v, want %v", err, auth.ErrConflict)
		}
		u2, err := tx.UserByID(ctx, "u2")
		if err != nil {
			return err
		}
		u2.Email, u2.EmailNorm = "a@example.com", "a@example.com"
		if err := tx.UpdateUser(ctx, u2); !errors.Is(err, auth.ErrConflict) {
			return fmt.Errorf("UpdateUser to a taken email: got %v, want %v", err, auth.ErrConflict)
		}
		return tx.CreateSession(ctx, newSession("s1", "u1", t0))
	})
	if err != nil {
		t.Fatalf("Tx going on after conflicts: %v", err)
	}
	if _, err := s.SessionByID(ctx, "s1"); err != nil {
		t.Errorf("session written after the conflicts: %v", err)
	}
	if u, err := s.UserByID(ctx, "u2"); err != nil || u.EmailNorm != "b@example.com" {
		t.Errorf("u2 after the refused update: got %v, %v; want email b@example.com", u, err)
	}
}

// testConcurrentCountThenInsert: the resend and forgot caps count a user's
// tokens and insert one only under the cap, in one transaction; racing
// transactions must not overshoot it.
func testConcurrentCountThenInsert(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	const limit = 3
	errs := race(func(i int) error {
		return s.Tx(ctx, func(tx auth.Tx) error {
			if _, err := tx.UserByID(ctx, "u1"); err != nil {
				return err
			}
			n, err := tx.CountOneTimeTokens(ctx, "u1", auth.KindReset, t0.Add(-time.Hour))
			if err != nil || n >= limit {
				return err
			}
			return tx.CreateOneTimeToken(ctx, &auth.OneTimeToken{
				Hash: hash(fmt.Sprint("cap", i)), Kind: auth.KindReset, UserID: "u1",
				CreatedAt: t0, ExpiresAt: t0.Add(time.Hour),
			})
		})
	})
	for _, err := range errs {
		if err != nil {
			t.Errorf("Tx: %v", err)
		}
	}
	n, err := s.CountOneTimeTokens(ctx, "u1", auth.KindReset, t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if n != limit {
		t.Errorf("%d racing count-then-insert transactions under a cap of %d stored %d tokens, want %d", racers, limit, n, limit)
	}
}

// testConcurrentReadModifyWrite: transactions that read a user and write it
// back must not lose each other's updates.
func testConcurrentReadModifyWrite(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	errs := race(func(i int) error {
		return s.Tx(ctx, func(tx auth.Tx) error {
			u, err := tx.UserByID(ctx, "u1")
			if err != nil {
				return err
			}
			u.Roles = append(u.Roles, fmt.Sprint("r", i))
			return tx.UpdateUser(ctx, u)
		})
	})
	for _, err := range errs {
		if err != nil {
			t.Errorf("Tx: %v", err)
		}
	}
	u, err := s.UserByID(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range racers {
		want = append(want, fmt.Sprint("r", i))
	}
	got := slices.Clone(u.Roles)
	got = slices.DeleteFunc(got, func(r string) bool { return !slices.Contains(want, r) })
	if len(got) != racers {
		t.Errorf("after %d racing read-modify-write transactions the user has roles %v, want all of %v", racers, u.Roles, want)
	}
}
