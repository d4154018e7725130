package storetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// Registered OAuth clients, authorization codes (single-use by one
// conditional write) and browser sessions.

func newClient(id string, created time.Time) *auth.Client {
	return &auth.Client{
		ID: id, Name: "App " + id, Type: auth.ClientConfidential, SecretHash: hash("secret-" + id),
		RedirectURIs:           []string{"https://app.example.com/cb", "http://127.0.0.1/cb"},
		PostLogoutRedirectURIs: []string{"https://app.example.com/"},
		GrantTypes:             []string{auth.GrantAuthorizationCode, auth.GrantRefreshToken},
		CreatedAt:              created, UpdatedAt: created,
	}
}

func testClients(t *testing.T, s auth.Store) {
	ctx := context.Background()
	if _, err := s.ClientByID(ctx, "nope"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("missing client: got %v, want ErrNotFound", err)
	}
	c1 := newClient("c1", t0)
	pub := &auth.Client{ID: "c2", Name: "SPA", Type: auth.ClientPublic, CreatedAt: t0.Add(time.Second), UpdatedAt: t0.Add(time.Second)}
	tx(t, s, func(tx auth.Tx) error {
		if err := tx.CreateClient(ctx, c1); err != nil {
			return err
		}
		return tx.CreateClient(ctx, pub)
	})
	err := s.Tx(ctx, func(tx auth.Tx) error { return tx.CreateClient(ctx, newClient("c1", t0)) })
	if !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("taken client id: got %v, want ErrConflict", err)
	}
	got, err := s.ClientByID(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if show(got) != show(c1) {
		t.Fatalf("ClientByID = %s\nwant %s", show(got), show(c1))
	}
	got, err = s.ClientByID(ctx, "c2")
	if err != nil {
		t.Fatal(err)
	}
	if got.SecretHash != nil || got.RedirectURIs != nil || got.GrantTypes != nil || got.Type != auth.ClientPublic {
		t.Fatalf("public client = %s", show(got))
	}
	all, err := s.Clients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].ID != "c1" || all[1].ID != "c2" {
		t.Fatalf("Clients = %s", showAll(all))
	}
	// Update changes the lists and name, never the type or secret.
	up := *c1
	up.Name, up.Type, up.SecretHash = "Renamed", auth.ClientPublic, nil
	up.RedirectURIs = []string{"https://other.example/cb"}
	up.GrantTypes = []string{auth.GrantPassword}
	up.UpdatedAt = t0.Add(time.Hour)
	tx(t, s, func(tx auth.Tx) error { return tx.UpdateClient(ctx, &up) })
	got, _ = s.ClientByID(ctx, "c1")
	if got.Name != "Renamed" || got.Type != auth.ClientConfidential || !bytes.Equal(got.SecretHash, c1.SecretHash) ||
		!slices.Equal(got.RedirectURIs, up.RedirectURIs) || !slices.Equal(got.GrantTypes, up.GrantTypes) ||
		!got.UpdatedAt.Equal(up.UpdatedAt) || !got.CreatedAt.Equal(t0) {
		t.Fatalf("after UpdateClient = %s", show(got))
	}
	missing := newClient("gone", t0)
	wantErr(t, "UpdateClient of a missing client", s.Tx(ctx, func(tx auth.Tx) error { return tx.UpdateClient(ctx, missing) }), auth.ErrNotFound)
	// UpdateClientSecret changes the secret and the previous one with its
	// end, and nothing else; nil and zero clear the previous one.
	rot := *got
	rot.Name, rot.SecretHash, rot.PreviousSecretHash = "ignored", hash("secret-2"), c1.SecretHash
	rot.PreviousSecretUntil, rot.UpdatedAt = t0.Add(25*time.Hour), t0.Add(2*time.Hour)
	tx(t, s, func(tx auth.Tx) error { return tx.UpdateClientSecret(ctx, &rot) })
	got, _ = s.ClientByID(ctx, "c1")
	if got.Name != "Renamed" || !bytes.Equal(got.SecretHash, rot.SecretHash) || !bytes.Equal(got.PreviousSecretHash, c1.SecretHash) ||
		!got.PreviousSecretUntil.Equal(rot.PreviousSecretUntil) || !got.UpdatedAt.Equal(rot.UpdatedAt) {
		t.Fatalf("after UpdateClientSecret = %s", show(got))
	}
	rot.PreviousSecretHash, rot.PreviousSecretUntil = nil, time.Time{}
	tx(t, s, func(tx auth.Tx) error { return tx.UpdateClientSecret(ctx, &rot) })
	if got, _ = s.ClientByID(ctx, "c1"); got.PreviousSecretHash != nil || !got.PreviousSecretUntil.IsZero() {
		t.Fatalf("after UpdateClientSecret without a previous secret = %s", show(got))
	}
	wantErr(t, "UpdateClientSecret of a missing client", s.Tx(ctx, func(tx auth.Tx) error { return tx.UpdateClientSecret(ctx, missing) }), auth.ErrNotFound)
	tx(t, s, func(tx auth.Tx) error { return tx.DeleteClient(ctx, "c1") })
	if _, err := s.ClientByID(ctx, "c1"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("deleted client: got %v, want ErrNotFound", err)
	}
	wantErr(t, "DeleteClient twice", s.Tx(ctx, func(tx auth.Tx) error { return tx.DeleteClient(ctx, "c1") }), auth.ErrNotFound)
}

func newCode(h []byte, userID string) *auth.AuthCode {
	return &auth.AuthCode{
		Hash: h, ClientID: "c1", UserID: userID, BrowserSessionID: "b1",
		RedirectURI: "https://app.example.com/cb", CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		Nonce: "n-0S6_WzA2Mj", Scope: "openid email", AuthTime: t0.Add(-time.Minute), AMR: []string{"pwd", "otp", "mfa"},
		CreatedAt: t0, ExpiresAt: t0.Add(time.Minute),
	}
}

func testAuthCode(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	c := newCode(hash("code"), "u1")
	tx(t, s, func(tx auth.Tx) error { return tx.CreateAuthCode(ctx, c) })
	got, err := s.AuthCodeByHash(ctx, hash("code"))
	if err != nil {
		t.Fatal(err)
	}
	if show(got) != show(c) {
		t.Fatalf("AuthCodeByHash = %s\nwant %s", show(got), show(c))
	}
	if _, err := s.AuthCodeByHash(ctx, hash("other")); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("missing code: got %v", err)
	}
	wantErr(t, "code of a missing user", s.Tx(ctx, func(tx auth.Tx) error {
		return tx.CreateAuthCode(ctx, newCode(hash("x"), "nobody"))
	}), auth.ErrNotFound)
	// Expired: not redeemable.
	var ok bool
	tx(t, s, func(tx auth.Tx) (err error) {
		ok, err = tx.RedeemAuthCode(ctx, hash("code"), t0.Add(time.Minute))
		return
	})
	if ok {
		t.Fatal("RedeemAuthCode redeemed an expired code")
	}
	tx(t, s, func(tx auth.Tx) (err error) {
		if ok, err = tx.RedeemAuthCode(ctx, hash("code"), t0.Add(time.Second)); err != nil || !ok {
			return err
		}
		return tx.SetAuthCodeSession(ctx, hash("code"), "s1")
	})
	if !ok {
		t.Fatal("RedeemAuthCode refused a fresh code")
	}
	tx(t, s, func(tx auth.Tx) (err error) {
		ok, err = tx.RedeemAuthCode(ctx, hash("code"), t0.Add(2*time.Second))
		return
	})
	if ok {
		t.Fatal("RedeemAuthCode redeemed a code twice")
	}
	tx(t, s, func(tx auth.Tx) (err error) { ok, err = tx.RedeemAuthCode(ctx, hash("missing"), t0); return })
	if ok {
		t.Fatal("RedeemAuthCode redeemed a missing code")
	}
	got, _ = s.AuthCodeByHash(ctx, hash("code"))
	if got.SessionID != "s1" || !got.UsedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("after use: %s", show(got))
	}
	wantErr(t, "SetAuthCodeSession of a missing code", s.Tx(ctx, func(tx auth.Tx) error {
		return tx.SetAuthCodeSession(ctx, hash("missing"), "s1")
	}), auth.ErrNotFound)
	// Deleting the client takes its unused codes; deleting the user, all.
	tx(t, s, func(tx auth.Tx) error {
		if err := tx.CreateClient(ctx, newClient("c1", t0)); err != nil {
			return err
		}
		return tx.CreateAuthCode(ctx, newCode(hash("unused"), "u1"))
	})
	tx(t, s, func(tx auth.Tx) error { return tx.DeleteClient(ctx, "c1") })
	if _, err := s.AuthCodeByHash(ctx, hash("unused")); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("unused code of a deleted client: got %v, want ErrNotFound", err)
	}
	tx(t, s, func(tx auth.Tx) error { return tx.DeleteUser(ctx, "u1") })
	if _, err := s.AuthCodeByHash(ctx, hash("code")); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("code of a deleted user: got %v, want ErrNotFound", err)
	}
}

// testConcurrentRedeemAuthCode: of many token requests with one code,
// exactly one wins.
func testConcurrentRedeemAuthCode(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	tx(t, s, func(tx auth.Tx) error { return tx.CreateAuthCode(ctx, newCode(hash("c"), "u1")) })
	results := race(func(i int) (r result) {
		r.err = s.Tx(ctx, func(tx auth.Tx) (err error) {
			r.ok, err = tx.RedeemAuthCode(ctx, hash("c"), t0.Add(time.Second))
			return err
		})
		return r
	})
	countWinners(t, "RedeemAuthCode", results)
}

func testBrowserSession(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	b := &auth.BrowserSession{ID: "b1", Hash: hash("cookie"), UserID: "u1", AMR: []string{"pwd"},
		AuthTime: t0, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	tx(t, s, func(tx auth.Tx) error { return tx.CreateBrowserSession(ctx, b) })
	got, err := s.BrowserSessionByHash(ctx, hash("cookie"))
	if err != nil {
		t.Fatal(err)
	}
	if show(got) != show(b) {
		t.Fatalf("BrowserSessionByHash = %s\nwant %s", show(got), show(b))
	}
	wantErr(t, "browser session of a missing user", s.Tx(ctx, func(tx auth.Tx) error {
		return tx.CreateBrowserSession(ctx, &auth.BrowserSession{ID: "b2", Hash: hash("x"), UserID: "nobody", CreatedAt: t0})
	}), auth.ErrNotFound)
	var ok bool
	tx(t, s, func(tx auth.Tx) (err error) {
		ok, err = tx.RevokeBrowserSession(ctx, "b1", t0.Add(time.Minute))
		return
	})
	if !ok {
		t.Fatal("RevokeBrowserSession did not revoke")
	}
	tx(t, s, func(tx auth.Tx) (err error) {
		ok, err = tx.RevokeBrowserSession(ctx, "b1", t0.Add(2*time.Minute))
		return
	})
	if ok {
		t.Fatal("RevokeBrowserSession revoked twice")
	}
	got, _ = s.BrowserSessionByHash(ctx, hash("cookie"))
	if !got.RevokedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("RevokedAt = %v", got.RevokedAt)
	}
	tx(t, s, func(tx auth.Tx) error { return tx.DeleteUser(ctx, "u1") })
	if _, err := s.BrowserSessionByHash(ctx, hash("cookie")); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("browser session of a deleted user: got %v, want ErrNotFound", err)
	}
}
