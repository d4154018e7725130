package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// Second factors: the factor table, recovery codes and mfa_tokens, and the
// conditional writes that make each of them single-use.

func newTOTP(id, userID string) *auth.Factor {
	return &auth.Factor{ID: id, UserID: userID, Kind: auth.FactorTOTP, Name: "app",
		SecretSealed: []byte("sealed-" + id), LastStep: -1, CreatedAt: t0}
}

func testFactors(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	createUser(t, s, newUser("u2", "b@example.com"))
	tx(t, s, func(tx auth.Tx) error { return tx.CreateFactor(ctx, newTOTP("f1", "u1")) })
	// One TOTP factor per account, pending or not.
	err := s.Tx(ctx, func(tx auth.Tx) error { return tx.CreateFactor(ctx, newTOTP("f2", "u1")) })
	if !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("second TOTP factor: got %v, want ErrConflict", err)
	}
	// Passkeys: many per account, credential ids unique.
	pk := func(id, user, cred string) *auth.Factor {
		return &auth.Factor{ID: id, UserID: user, Kind: auth.FactorPasskey, Name: id, CredentialID: []byte(cred), CreatedAt: t0.Add(time.Second)}
	}
	tx(t, s, func(tx auth.Tx) error {
		if err := tx.CreateFactor(ctx, pk("p1", "u1", "cred-1")); err != nil {
			return err
		}
		return tx.CreateFactor(ctx, pk("p2", "u1", "cred-2"))
	})
	if err := s.Tx(ctx, func(tx auth.Tx) error { return tx.CreateFactor(ctx, pk("p3", "u2", "cred-1")) }); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("taken credential id: got %v, want ErrConflict", err)
	}
	fs, err := s.Factors(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 3 || fs[0].ID != "f1" || fs[0].Kind != auth.FactorTOTP || fs[0].Active() ||
		!bytes.Equal(fs[0].SecretSealed, []byte("sealed-f1")) || fs[0].LastStep != -1 || !fs[0].CreatedAt.Equal(t0) ||
		!bytes.Equal(fs[1].CredentialID, []byte("cred-1")) {
		t.Fatalf("Factors = %s", show(fs))
	}
	// A pending factor does not advance; confirming does, once.
	var ok bool
	tx(t, s, func(tx auth.Tx) (err error) { ok, err = tx.AdvanceFactor(ctx, "f1", 10, t0); return })
	if ok {
		t.Fatal("AdvanceFactor advanced a pending factor")
	}
	tx(t, s, func(tx auth.Tx) (err error) { ok, err = tx.ConfirmFactor(ctx, "f1", 10, t0.Add(time.Minute)); return })
	if !ok {
		t.Fatal("ConfirmFactor refused a pending factor")
	}
	tx(t, s, func(tx auth.Tx) (err error) { ok, err = tx.ConfirmFactor(ctx, "f1", 11, t0.Add(time.Minute)); return })
	if ok {
		t.Fatal("ConfirmFactor confirmed twice")
	}
	for _, tc := range []struct {
		step int64
		want bool
	}{{10, false}, {9, false}, {11, true}, {11, false}, {13, true}} {
		tx(t, s, func(tx auth.Tx) (err error) {
			ok, err = tx.AdvanceFactor(ctx, "f1", tc.step, t0.Add(2*time.Minute))
			return
		})
		if ok != tc.want {
			t.Fatalf("AdvanceFactor to step %d = %v, want %v", tc.step, ok, tc.want)
		}
	}
	fs, _ = s.Factors(ctx, "u1")
	if !fs[0].Active() || fs[0].LastStep != 13 || !fs[0].LastUsedAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("after use: %s", show(fs[0]))
	}
	var n int64
	tx(t, s, func(tx auth.Tx) (err error) { n, err = tx.DeleteFactors(ctx, "u1", auth.FactorPasskey); return })
	if n != 2 {
		t.Fatalf("DeleteFactors(passkey) = %d, want 2", n)
	}
	tx(t, s, func(tx auth.Tx) (err error) { n, err = tx.DeleteFactors(ctx, "u1", ""); return })
	if fs, _ := s.Factors(ctx, "u1"); n != 1 || len(fs) != 0 {
		t.Fatalf("DeleteFactors(all) = %d, left %d", n, len(fs))
	}
	// Deleting a user takes their factors.
	tx(t, s, func(tx auth.Tx) error { return tx.CreateFactor(ctx, newTOTP("f3", "u2")) })
	tx(t, s, func(tx auth.Tx) error { return tx.DeleteUser(ctx, "u2") })
	if fs, err := s.Factors(ctx, "u2"); err != nil || len(fs) != 0 {
		t.Fatalf("factors of a deleted user: %v, %v", fs, err)
	}
}

// testLoginUser: a login's one read says whether the account has any
// second factor, pending or confirmed, so that it reads the factors only
// then.
func testLoginUser(t *testing.T, s auth.Store) {
	ctx := context.Background()
	if _, _, err := s.LoginUser(ctx, "nobody@example.com"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("LoginUser of an unknown address: %v, want ErrNotFound", err)
	}
	createUser(t, s, newUser("u1", "a@example.com"))
	createUser(t, s, newUser("u2", "b@example.com"))
	want, err := s.UserByEmail(ctx, "a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	check := func(email, id string, wantAny bool) {
		t.Helper()
		u, anyFactor, err := s.LoginUser(ctx, email)
		if err != nil || u.ID != id || anyFactor != wantAny {
			t.Fatalf("LoginUser(%s) = %v, %v, %v; want %s, %v", email, u, anyFactor, err, id, wantAny)
		}
	}
	check("a@example.com", "u1", false)
	if u, _, _ := s.LoginUser(ctx, "a@example.com"); show(u) != show(want) {
		t.Errorf("LoginUser's user:\ngot  %s\nwant %s (UserByEmail)", show(u), show(want))
	}
	tx(t, s, func(tx auth.Tx) error { return tx.CreateFactor(ctx, newTOTP("f1", "u1")) })
	check("a@example.com", "u1", true) // pending
	check("b@example.com", "u2", false)
	tx(t, s, func(tx auth.Tx) (err error) { _, err = tx.ConfirmFactor(ctx, "f1", 10, t0); return })
	check("a@example.com", "u1", true)
	tx(t, s, func(tx auth.Tx) (err error) { _, err = tx.DeleteFactors(ctx, "u1", ""); return })
	check("a@example.com", "u1", false)
}

func testRecoveryCodes(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	set := [][]byte{hash("c1"), hash("c2"), hash("c3")}
	tx(t, s, func(tx auth.Tx) error { return tx.ReplaceRecoveryCodes(ctx, "u1", set, t0) })
	var ok bool
	tx(t, s, func(tx auth.Tx) (err error) { ok, err = tx.UseRecoveryCode(ctx, "u1", hash("c2"), t0); return })
	if !ok {
		t.Fatal("UseRecoveryCode refused an unused code")
	}
	tx(t, s, func(tx auth.Tx) (err error) { ok, err = tx.UseRecoveryCode(ctx, "u1", hash("c2"), t0); return })
	if ok {
		t.Fatal("a recovery code was used twice")
	}
	tx(t, s, func(tx auth.Tx) (err error) { ok, err = tx.UseRecoveryCode(ctx, "u1", hash("nope"), t0); return })
	if ok {
		t.Fatal("an unknown recovery code was accepted")
	}
	if n, err := s.RecoveryCodesLeft(ctx, "u1"); err != nil || n != 2 {
		t.Fatalf("RecoveryCodesLeft = %d, %v; want 2", n, err)
	}
	// A new set replaces the old one entirely.
	tx(t, s, func(tx auth.Tx) error { return tx.ReplaceRecoveryCodes(ctx, "u1", [][]byte{hash("d1")}, t0) })
	tx(t, s, func(tx auth.Tx) (err error) { ok, err = tx.UseRecoveryCode(ctx, "u1", hash("c1"), t0); return })
	if n, _ := s.RecoveryCodesLeft(ctx, "u1"); ok || n != 1 {
		t.Fatalf("after replacing: old code accepted %v, %d left", ok, n)
	}
}

func testMFAChallenge(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	c := &auth.MFAChallenge{Hash: hash("m"), UserID: "u1", PasswordBinding: hash("pw"), ClientID: "app",
		ClientConfidential: true, CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
	tx(t, s, func(tx auth.Tx) error { return tx.CreateMFAChallenge(ctx, c) })
	got, err := s.MFAChallengeByHash(ctx, hash("m"))
	if err != nil || got.UserID != "u1" || !bytes.Equal(got.PasswordBinding, hash("pw")) || got.ClientID != "app" ||
		!got.ClientConfidential || !got.ExpiresAt.Equal(c.ExpiresAt) || !got.UsedAt.IsZero() {
		t.Fatalf("MFAChallengeByHash = %s, %v", show(got), err)
	}
	if _, err := s.MFAChallengeByHash(ctx, hash("other")); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("unknown challenge: %v", err)
	}
	var ok bool
	tx(t, s, func(tx auth.Tx) (err error) {
		ok, err = tx.ConsumeMFAChallenge(ctx, hash("m"), t0.Add(5*time.Minute))
		return
	})
	if ok {
		t.Fatal("an expired challenge was consumed")
	}
	tx(t, s, func(tx auth.Tx) (err error) {
		ok, err = tx.ConsumeMFAChallenge(ctx, hash("m"), t0.Add(time.Minute))
		return
	})
	if !ok {
		t.Fatal("a live challenge was refused")
	}
	tx(t, s, func(tx auth.Tx) (err error) {
		ok, err = tx.ConsumeMFAChallenge(ctx, hash("m"), t0.Add(time.Minute))
		return
	})
	if ok {
		t.Fatal("a challenge was consumed twice")
	}
	// Prune takes used and expired challenges.
	tx(t, s, func(tx auth.Tx) error { _, err := tx.Prune(ctx, t0.Add(time.Hour)); return err })
	if _, err := s.MFAChallengeByHash(ctx, hash("m")); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("after Prune: %v", err)
	}
}

// testConcurrentAdvanceFactor: racers present the same TOTP code (the same
// time step) at once; exactly one may pass.
func testConcurrentAdvanceFactor(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	tx(t, s, func(tx auth.Tx) error {
		if err := tx.CreateFactor(ctx, newTOTP("f1", "u1")); err != nil {
			return err
		}
		_, err := tx.ConfirmFactor(ctx, "f1", 100, t0)
		return err
	})
	results := race(func(i int) (r result) {
		r.err = s.Tx(ctx, func(tx auth.Tx) (err error) {
			r.ok, err = tx.AdvanceFactor(ctx, "f1", 101, t0.Add(time.Duration(i)*time.Millisecond))
			return err
		})
		return r
	})
	countWinners(t, "AdvanceFactor", results)
}

func testConcurrentUseRecoveryCode(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	tx(t, s, func(tx auth.Tx) error { return tx.ReplaceRecoveryCodes(ctx, "u1", [][]byte{hash("c")}, t0) })
	results := race(func(i int) (r result) {
		r.err = s.Tx(ctx, func(tx auth.Tx) (err error) {
			r.ok, err = tx.UseRecoveryCode(ctx, "u1", hash("c"), t0)
			return err
		})
		return r
	})
	countWinners(t, "UseRecoveryCode", results)
}

func testConcurrentConsumeMFAChallenge(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	tx(t, s, func(tx auth.Tx) error {
		return tx.CreateMFAChallenge(ctx, &auth.MFAChallenge{Hash: hash("m"), UserID: "u1", PasswordBinding: hash("pw"),
			CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)})
	})
	results := race(func(i int) (r result) {
		r.err = s.Tx(ctx, func(tx auth.Tx) (err error) {
			r.ok, err = tx.ConsumeMFAChallenge(ctx, hash("m"), t0.Add(time.Second))
			return err
		})
		return r
	})
	countWinners(t, "ConsumeMFAChallenge", results)
}
