package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// Emailed links and notices: what the service needs against account
// takeover (links that die with a cut-off, confirmation links that carry
// their signup's password, capped notices, expiring unconfirmed accounts).

func testOneTimeTokenPasswordHash(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	want := &auth.OneTimeToken{Hash: hash("c1"), Kind: auth.KindConfirm, UserID: "u1",
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXI$b3RoZXJoYXNo", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	bare := &auth.OneTimeToken{Hash: hash("c2"), Kind: auth.KindConfirm, UserID: "u1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	tx(t, s, func(tx auth.Tx) error {
		if err := tx.CreateOneTimeToken(ctx, want); err != nil {
			return err
		}
		return tx.CreateOneTimeToken(ctx, bare)
	})
	for _, x := range []*auth.OneTimeToken{want, bare} {
		got, err := s.OneTimeTokenByHash(ctx, x.Hash)
		if err != nil {
			t.Fatalf("OneTimeTokenByHash: %v", err)
		}
		if show(got) != show(x) {
			t.Errorf("OneTimeTokenByHash:\ngot  %s\nwant %s", show(got), show(x))
		}
	}
}

func testVoidAllKinds(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	createUser(t, s, newUser("u2", "b@example.com"))
	usedEarlier := t0.Add(-time.Minute)
	tx(t, s, func(tx auth.Tx) error {
		for _, x := range []*auth.OneTimeToken{
			{Hash: hash("r1"), Kind: auth.KindReset, UserID: "u1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
			{Hash: hash("c1"), Kind: auth.KindConfirm, UserID: "u1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
			{Hash: hash("e1"), Kind: auth.KindEmailChange, UserID: "u1", NewEmail: "n@example.com", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
			{Hash: hash("x1"), Kind: auth.KindReset, UserID: "u1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), UsedAt: usedEarlier},
			{Hash: hash("o1"), Kind: auth.KindEmailChange, UserID: "u2", NewEmail: "m@example.com", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
		} {
			if err := tx.CreateOneTimeToken(ctx, x); err != nil {
				return err
			}
		}
		return nil
	})
	at := t0.Add(time.Second)
	tx(t, s, func(tx auth.Tx) error { return tx.VoidOneTimeTokens(ctx, "u1", auth.AllKinds, at) })
	wantUsedAt(t, s, []usedAt{{"r1", at}, {"c1", at}, {"e1", at}, {"x1", usedEarlier}, {"o1", time.Time{}}})
	wantNotConsumed(t, s, "e1", auth.KindEmailChange, "voided email change")
}

func testNotices(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	createUser(t, s, newUser("u2", "b@example.com"))
	tx(t, s, func(tx auth.Tx) error {
		for _, n := range []struct {
			user, kind string
			at         time.Time
		}{
			{"u1", "duplicate_signup", t0.Add(-48 * time.Hour)},
			{"u1", "duplicate_signup", t0.Add(-time.Hour)},
			{"u1", "duplicate_signup", t0},
			{"u1", "password_changed", t0},
			{"u2", "duplicate_signup", t0},
		} {
			if err := tx.RecordNotice(ctx, n.user, n.kind, n.at); err != nil {
				return err
			}
		}
		return nil
	})
	count := func(user, kind string, since time.Time) int {
		t.Helper()
		n, err := s.CountNotices(ctx, user, kind, since)
		if err != nil {
			t.Fatalf("CountNotices: %v", err)
		}
		return n
	}
	for _, c := range []struct {
		name, user, kind string
		since            time.Time
		want             int
	}{
		{"last day", "u1", "duplicate_signup", t0.Add(-24 * time.Hour), 2},
		{"since exactly the newest", "u1", "duplicate_signup", t0, 1},
		{"all", "u1", "duplicate_signup", t0.Add(-72 * time.Hour), 3},
		{"other kind", "u1", "password_changed", t0.Add(-24 * time.Hour), 1},
		{"other user", "u2", "duplicate_signup", t0.Add(-24 * time.Hour), 1},
		{"none", "u2", "password_changed", t0.Add(-24 * time.Hour), 0},
	} {
		if got := count(c.user, c.kind, c.since); got != c.want {
			t.Errorf("CountNotices %s: got %d, want %d", c.name, got, c.want)
		}
	}
	// Inside a transaction too.
	tx(t, s, func(tx auth.Tx) error {
		n, err := tx.CountNotices(ctx, "u1", "duplicate_signup", t0.Add(-24*time.Hour))
		if err == nil && n != 2 {
			err = fmt.Errorf("CountNotices in a transaction: got %d, want 2", n)
		}
		return err
	})

	// Prune drops the notices recorded before its cut-off.
	var pruned int64
	tx(t, s, func(tx auth.Tx) (err error) { pruned, err = tx.Prune(ctx, t0.Add(-24*time.Hour)); return err })
	if pruned != 1 {
		t.Errorf("Prune removed %d rows, want 1 (the old notice)", pruned)
	}
	if got := count("u1", "duplicate_signup", t0.Add(-72*time.Hour)); got != 2 {
		t.Errorf("after Prune: %d notices, want 2", got)
	}
	// They go with their user.
	tx(t, s, func(tx auth.Tx) error { return tx.DeleteUser(ctx, "u1") })
	if got := count("u1", "duplicate_signup", t0.Add(-72*time.Hour)); got != 0 {
		t.Errorf("after DeleteUser: %d notices, want 0", got)
	}
	wantErr(t, "RecordNotice(missing user)", s.Tx(ctx, func(tx auth.Tx) error {
		return tx.RecordNotice(ctx, "u1", "duplicate_signup", t0)
	}), auth.ErrNotFound)
}

// testConcurrentNoticeCap: the notice cap counts and records in one
// transaction; racing transactions must not overshoot it, with no other
// read of the user to serialize them.
func testConcurrentNoticeCap(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	const limit = 3
	errs := race(func(i int) error {
		return s.Tx(ctx, func(tx auth.Tx) error {
			n, err := tx.CountNotices(ctx, "u1", "duplicate_signup", t0.Add(-time.Hour))
			if err != nil || n >= limit {
				return err
			}
			return tx.RecordNotice(ctx, "u1", "duplicate_signup", t0)
		})
	})
	for _, err := range errs {
		if err != nil {
			t.Errorf("Tx: %v", err)
		}
	}
	n, err := s.CountNotices(ctx, "u1", "duplicate_signup", t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if n != limit {
		t.Errorf("%d racing count-then-record transactions under a cap of %d recorded %d notices, want %d", racers, limit, n, limit)
	}
}

func testPruneUnconfirmed(t *testing.T, s auth.Store) {
	ctx := context.Background()
	cutoff := t0.Add(-48 * time.Hour)
	old := func(id, email string, confirmed bool) *auth.User {
		u := newUser(id, email)
		u.CreatedAt, u.UpdatedAt, u.EmailConfirmed = cutoff.Add(-time.Hour), cutoff.Add(-time.Hour), confirmed
		return u
	}
	squat := old("squat", "victim@example.com", false)
	young := newUser("young", "young@example.com") // created at t0, after the cut-off
	confirmed := old("confirmed", "owner@example.com", true)
	inUse := old("in-use", "inuse@example.com", false) // a live session keeps it
	ended := old("ended", "ended@example.com", false)  // only an ended session: pruned
	// Imported or created by an admin, never sent a link: the operator
	// vouched for it, nobody squats with it.
	imported := old("imported", "imported@example.com", false)
	for _, u := range []*auth.User{squat, young, confirmed, inUse, ended, imported} {
		createUser(t, s, u)
	}
	createSession(t, s, newSession("live", "in-use", t0.Add(-time.Hour)))
	gone := newSession("gone", "ended", t0.Add(-time.Hour))
	gone.RevokedAt = t0.Add(-time.Minute)
	createSession(t, s, gone)
	for _, id := range []string{"squat", "young", "in-use", "ended"} {
		tx(t, s, func(tx auth.Tx) error {
			return tx.CreateOneTimeToken(ctx, &auth.OneTimeToken{Hash: hash(id + "-link"), Kind: auth.KindConfirm,
				UserID: id, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
		})
	}

	var n int64
	tx(t, s, func(tx auth.Tx) (err error) { n, _, err = tx.PruneUnconfirmed(ctx, cutoff, t0, "", 100); return err })
	if n != 2 {
		t.Errorf("PruneUnconfirmed removed %d accounts, want 2 (squat, ended)", n)
	}
	for _, id := range []string{"squat", "ended"} {
		if _, err := s.UserByID(ctx, id); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("user %s: got %v, want ErrNotFound", id, err)
		}
	}
	for _, id := range []string{"young", "confirmed", "in-use", "imported"} {
		if _, err := s.UserByID(ctx, id); err != nil {
			t.Errorf("user %s was pruned: %v", id, err)
		}
	}
	if _, err := s.OneTimeTokenByHash(ctx, hash("squat-link")); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("link of a pruned account: got %v, want ErrNotFound", err)
	}
	if _, err := s.SessionByID(ctx, "gone"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("session of a pruned account: got %v, want ErrNotFound", err)
	}
	// The address is free for a new signup.
	createUser(t, s, newUser("owner", "victim@example.com"))
	if u, err := s.UserByEmail(ctx, "victim@example.com"); err != nil || u.ID != "owner" {
		t.Errorf("UserByEmail after a new signup: got %+v, %v, want owner", u, err)
	}
}
