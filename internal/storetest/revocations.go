package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

func testRevokedSessionsSince(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	createUser(t, s, newUser("u2", "b@example.com"))
	for _, x := range []*auth.Session{
		newSession("live", "u1", t0),
		newSession("old", "u1", t0),
		newSession("edge", "u1", t0),
		newSession("late", "u2", t0),
		newSession("early", "u2", t0),
	} {
		createSession(t, s, x)
	}
	revoke := func(id string, at time.Time) {
		tx(t, s, func(tx auth.Tx) error { _, err := tx.RevokeSession(ctx, id, at); return err })
	}
	since := t0.Add(time.Minute)
	revoke("old", since.Add(-time.Microsecond))
	revoke("edge", since)
	revoke("late", since.Add(2*time.Second))
	revoke("early", since.Add(time.Second))

	tests := []struct {
		since time.Time
		want  string
	}{
		{since, "edge@" + fmtT(since) + " early@" + fmtT(since.Add(time.Second)) + " late@" + fmtT(since.Add(2*time.Second))},
		{since.Add(-time.Hour), "old@" + fmtT(since.Add(-time.Microsecond)) + " edge@" + fmtT(since) + " early@" + fmtT(since.Add(time.Second)) + " late@" + fmtT(since.Add(2*time.Second))},
		{since.Add(3 * time.Second), ""},
	}
	for _, tt := range tests {
		got, err := s.RevokedSessionsSince(ctx, tt.since)
		if err != nil {
			t.Fatalf("RevokedSessionsSince: %v", err)
		}
		var parts []string
		for _, x := range got {
			parts = append(parts, x.ID+"@"+fmtT(x.RevokedAt))
			if x.UserID == "" || x.RevokedAt.Location() != time.UTC {
				t.Errorf("RevokedSessionsSince: incomplete session %+v", x)
			}
		}
		if g := strings.Join(parts, " "); g != tt.want {
			t.Errorf("RevokedSessionsSince(%s):\ngot  %q\nwant %q", fmtT(tt.since), g, tt.want)
		}
	}
	// The same through a transaction.
	tx(t, s, func(tx auth.Tx) error {
		got, err := tx.RevokedSessionsSince(ctx, since.Add(2*time.Second))
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].ID != "late" {
			t.Errorf("Tx.RevokedSessionsSince: got %s, want [late]", show(got))
		}
		return nil
	})
}

func fmtT(t time.Time) string { return t.UTC().Format("15:04:05.000000") }

func testUserCutoffsSince(t *testing.T, s auth.Store) {
	ctx := context.Background()
	since := t0.Add(time.Minute)
	users := []struct {
		id     string
		cutoff time.Time
	}{
		{"none", time.Time{}},
		{"before", since.Add(-time.Second)},
		{"edge", since},
		{"after", since.Add(5 * time.Second)},
	}
	for i, u := range users {
		x := newUser(u.id, fmt.Sprintf("u%d@example.com", i))
		x.TokensValidAfter = u.cutoff
		createUser(t, s, x)
	}
	show := func(cs []auth.UserCutoff) string {
		var parts []string
		for _, c := range cs {
			parts = append(parts, fmt.Sprintf("%s@%s deleted=%v", c.UserID, fmtT(c.At), c.Deleted))
		}
		return strings.Join(parts, " ")
	}
	got, err := s.UserCutoffsSince(ctx, since)
	if err != nil {
		t.Fatalf("UserCutoffsSince: %v", err)
	}
	want := fmt.Sprintf("edge@%s deleted=false after@%s deleted=false", fmtT(since), fmtT(since.Add(5*time.Second)))
	if g := show(got); g != want {
		t.Errorf("UserCutoffsSince:\ngot  %q\nwant %q", g, want)
	}

	// A deleted user leaves a tombstone at the database's clock; the user's
	// own cut-off goes with the row.
	before := time.Now()
	tx(t, s, func(tx auth.Tx) error { return tx.DeleteUser(ctx, "after") })
	after := time.Now()
	got, err = s.UserCutoffsSince(ctx, before.Add(-time.Second))
	if err != nil {
		t.Fatalf("UserCutoffsSince: %v", err)
	}
	if len(got) != 1 || got[0].UserID != "after" || !got[0].Deleted {
		t.Fatalf("UserCutoffsSince after a delete: got %q, want one deleted entry for \"after\"", show(got))
	}
	if at := got[0].At; at.Before(before.Add(-time.Second)) || at.After(after.Add(time.Second)) || at.Location() != time.UTC {
		t.Errorf("tombstone time %v, want between %v and %v in UTC", at, before, after)
	}
	got, err = s.UserCutoffsSince(ctx, since)
	if err != nil {
		t.Fatalf("UserCutoffsSince: %v", err)
	}
	if n := len(got); n != 2 || got[0].UserID != "edge" || got[1].UserID != "after" || !got[1].Deleted {
		t.Errorf("UserCutoffsSince after a delete: got %q, want edge then the deleted \"after\"", show(got))
	}
}
