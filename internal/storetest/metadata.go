package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/auth"
)

// metadataValues are metadata objects a store must give back byte for
// byte: what the service stores is what access tokens carry, on every
// flavour alike (no reordered keys, no rewritten numbers or escapes).
var metadataValues = []string{
	`{"plan":"pro","seats":5}`,
	`{"z":1,"a":2}`,
	`{"big":123456789012345678901234567890,"f":1.50,"e":1E+2}`,
	`{"s":"\u003cb\u003e \u2028 caf\u00e9 café 𝄞","nul":"\u0000"}`,
	`{"nested":{"a":[1,{"b":[true,false,null]}]}}`,
	`{"k":"` + strings.Repeat("x", auth.MaxMetadataSize-8) + `"}`,
}

// testUserMetadata: CreateUser, UpdateUser and every read of a user keep
// both metadata objects exactly; none ({} or nil) reads as nil.
func testUserMetadata(t *testing.T, s auth.Store) {
	ctx := context.Background()
	for i, v := range metadataValues {
		u := newUser(fmt.Sprint("u", i), fmt.Sprintf("m%d@example.com", i))
		u.AppMetadata = json.RawMessage(v)
		u.UserMetadata = json.RawMessage(metadataValues[(i+1)%len(metadataValues)])
		createUser(t, s, u)
		got := getUser(t, s, u.ID)
		if string(got.AppMetadata) != v || string(got.UserMetadata) != string(u.UserMetadata) {
			t.Errorf("metadata %d after CreateUser:\ngot  %s / %s\nwant %s / %s", i, got.AppMetadata, got.UserMetadata, v, u.UserMetadata)
		}
		byEmail, err := s.UserByEmail(ctx, u.EmailNorm)
		if err != nil || show(byEmail) != show(got) {
			t.Errorf("UserByEmail(%s): %v\ngot  %s\nwant %s", u.EmailNorm, err, show(byEmail), show(got))
		}
	}

	// Update: changed, then cleared; the other object stays as written.
	u := getUser(t, s, "u0")
	u.AppMetadata = json.RawMessage(`{"plan":"team"}`)
	tx(t, s, func(tx auth.Tx) error { return tx.UpdateUser(ctx, u) })
	if got := getUser(t, s, "u0"); show(got) != show(u) {
		t.Errorf("after UpdateUser:\ngot  %s\nwant %s", show(got), show(u))
	}
	u.AppMetadata, u.UserMetadata = json.RawMessage(`{}`), nil
	tx(t, s, func(tx auth.Tx) error { return tx.UpdateUser(ctx, u) })
	if got := getUser(t, s, "u0"); got.AppMetadata != nil || got.UserMetadata != nil {
		t.Errorf("cleared metadata reads %q / %q, want nil / nil", got.AppMetadata, got.UserMetadata)
	}

	// A user created without metadata has none.
	createUser(t, s, newUser("plain", "plain@example.com"))
	if got := getUser(t, s, "plain"); got.AppMetadata != nil || got.UserMetadata != nil {
		t.Errorf("new user's metadata %q / %q, want nil / nil", got.AppMetadata, got.UserMetadata)
	}

	// The joined read of a refresh, the admin listing and imports.
	tx(t, s, func(tx auth.Tx) error {
		if err := tx.CreateSession(ctx, newSession("s1", "u1", t0)); err != nil {
			return err
		}
		return tx.CreateRefreshToken(ctx, &auth.RefreshToken{Hash: hash("rt"), SessionID: "s1", UserID: "u1", CreatedAt: t0})
	})
	st, err := s.RefreshTokenState(ctx, hash("rt"))
	if err != nil {
		t.Fatalf("RefreshTokenState: %v", err)
	}
	if want := getUser(t, s, "u1"); show(st.User) != show(want) {
		t.Errorf("RefreshTokenState user:\ngot  %s\nwant %s", show(st.User), show(want))
	}
	list, err := s.ListUsers(ctx, auth.UserQuery{EmailPrefix: "m2@", Limit: 10})
	if err != nil || len(list) != 1 || string(list[0].AppMetadata) != metadataValues[2] {
		t.Errorf("ListUsers: %v, %v", list, err)
	}
	imp := newUser("imported", "imported@example.com")
	imp.AppMetadata = json.RawMessage(metadataValues[3])
	tx(t, s, func(tx auth.Tx) error {
		_, err := tx.CreateUsersIfAbsent(ctx, []*auth.User{imp})
		return err
	})
	if got := getUser(t, s, "imported"); string(got.AppMetadata) != metadataValues[3] || got.UserMetadata != nil {
		t.Errorf("imported metadata %q / %q", got.AppMetadata, got.UserMetadata)
	}
}
