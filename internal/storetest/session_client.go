package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// testSessionClient: the OAuth client a session is bound to comes back
// from every read of sessions, and a session of no client reads back with
// none.
func testSessionClient(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	none := newSession("none", "u1", t0)
	public := newSession("public", "u1", t0.Add(time.Second))
	public.ClientID = "my-spa"
	confidential := newSession("confidential", "u1", t0.Add(2*time.Second))
	confidential.ClientID, confidential.ClientConfidential = "svc1", true
	all := []*auth.Session{none, public, confidential}
	for _, x := range all {
		createSession(t, s, x)
	}
	for _, x := range all {
		if got := getSession(t, s, x.ID); show(got) != show(x) {
			t.Errorf("SessionByID(%q):\ngot  %s\nwant %s", x.ID, show(got), show(x))
		}
	}
	list, err := s.SessionsByUser(ctx, "u1", t0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []*auth.Session{confidential, public, none}; show(list) != show(want) {
		t.Errorf("SessionsByUser:\ngot  %s\nwant %s", show(list), show(want))
	}
	revoked := t0.Add(3 * time.Second)
	tx(t, s, func(tx auth.Tx) error { _, err := tx.RevokeSession(ctx, "confidential", revoked); return err })
	got, err := s.RevokedSessionsSince(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := *confidential
	want.RevokedAt = revoked
	if show(got) != show([]*auth.Session{&want}) {
		t.Errorf("RevokedSessionsSince:\ngot  %s\nwant %s", show(got), show([]*auth.Session{&want}))
	}
}
