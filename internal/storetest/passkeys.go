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

// Passkeys: WebAuthn challenges, passkey rows of the factor table and the
// conditional writes that make a challenge single-use and a sign counter
// advance only forwards.

func newPasskey(id, userID, cred string, counter int64) *auth.Factor {
	return &auth.Factor{ID: id, UserID: userID, Kind: auth.FactorPasskey, Name: "key " + id,
		SecretSealed: []byte("cose-" + id), CredentialID: []byte(cred), LastStep: counter,
		CreatedAt: t0, ConfirmedAt: t0, Transports: []string{"internal", "hybrid"},
		AAGUID: bytes.Repeat([]byte{7}, 16), UserVerified: true, BackupEligible: true}
}

func testPasskeyFactor(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	createUser(t, s, newUser("u2", "b@example.com"))
	tx(t, s, func(tx auth.Tx) error { return tx.CreateFactor(ctx, newPasskey("p1", "u1", "cred-1", 5)) })
	fs, err := s.Factors(ctx, "u1")
	if err != nil || len(fs) != 1 {
		t.Fatalf("Factors = %s, %v", show(fs), err)
	}
	f := fs[0]
	if f.Kind != auth.FactorPasskey || !f.Active() || !bytes.Equal(f.SecretSealed, []byte("cose-p1")) ||
		!bytes.Equal(f.CredentialID, []byte("cred-1")) || f.LastStep != 5 ||
		!slices.Equal(f.Transports, []string{"internal", "hybrid"}) || !bytes.Equal(f.AAGUID, bytes.Repeat([]byte{7}, 16)) ||
		!f.UserVerified || !f.BackupEligible || f.BackupState {
		t.Fatalf("passkey read back as %s", show(f))
	}
	// The counter advances only forwards.
	for _, tc := range []struct {
		n    int64
		want bool
	}{{5, false}, {4, false}, {0, false}, {6, true}, {6, false}, {100, true}} {
		var ok bool
		tx(t, s, func(tx auth.Tx) (err error) { ok, err = tx.UsePasskey(ctx, "p1", tc.n, t0.Add(time.Minute)); return })
		if ok != tc.want {
			t.Fatalf("UsePasskey(%d) = %v, want %v", tc.n, ok, tc.want)
		}
	}
	fs, _ = s.Factors(ctx, "u1")
	if fs[0].LastStep != 100 || !fs[0].LastUsedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after use: %s", show(fs[0]))
	}
	// An authenticator without a counter always says 0: accepted each time.
	tx(t, s, func(tx auth.Tx) error { return tx.CreateFactor(ctx, newPasskey("p0", "u1", "cred-0", 0)) })
	for range 2 {
		var ok bool
		tx(t, s, func(tx auth.Tx) (err error) { ok, err = tx.UsePasskey(ctx, "p0", 0, t0); return })
		if !ok {
			t.Fatal("UsePasskey refused 0 for a passkey that keeps no counter")
		}
	}
	// UsePasskey is for passkeys only.
	tx(t, s, func(tx auth.Tx) error {
		if err := tx.CreateFactor(ctx, newTOTP("t1", "u1")); err != nil {
			return err
		}
		_, err := tx.ConfirmFactor(ctx, "t1", 10, t0)
		return err
	})
	var ok bool
	tx(t, s, func(tx auth.Tx) (err error) { ok, err = tx.UsePasskey(ctx, "t1", 11, t0); return })
	if ok {
		t.Fatal("UsePasskey advanced a TOTP factor")
	}
	// Rename and delete: only the owner's.
	tx(t, s, func(tx auth.Tx) (err error) { ok, err = tx.RenameFactor(ctx, "u2", "p1", "stolen"); return })
	if ok {
		t.Fatal("RenameFactor renamed another user's factor")
	}
	tx(t, s, func(tx auth.Tx) (err error) { ok, err = tx.RenameFactor(ctx, "u1", "p1", "Laptop"); return })
	fs, _ = s.Factors(ctx, "u1")
	if i := slices.IndexFunc(fs, func(f *auth.Factor) bool { return f.ID == "p1" }); !ok || i < 0 || fs[i].Name != "Laptop" {
		t.Fatalf("RenameFactor = %v, factors %s", ok, show(fs))
	}
	tx(t, s, func(tx auth.Tx) (err error) { ok, err = tx.DeleteFactor(ctx, "u2", "p1", auth.FactorPasskey); return })
	if ok {
		t.Fatal("DeleteFactor deleted another user's factor")
	}
	tx(t, s, func(tx auth.Tx) (err error) { ok, err = tx.DeleteFactor(ctx, "u1", "t1", auth.FactorPasskey); return })
	if ok {
		t.Fatal("DeleteFactor(passkey) deleted a TOTP factor")
	}
	tx(t, s, func(tx auth.Tx) (err error) { ok, err = tx.DeleteFactor(ctx, "u1", "p1", auth.FactorPasskey); return })
	if fs, _ := s.Factors(ctx, "u1"); !ok || len(fs) != 2 {
		t.Fatalf("DeleteFactor = %v, %d left", ok, len(fs))
	}
	tx(t, s, func(tx auth.Tx) (err error) { ok, err = tx.DeleteFactor(ctx, "u1", "p1", auth.FactorPasskey); return })
	if ok {
		t.Fatal("DeleteFactor deleted twice")
	}
}

func testPasskeyChallenge(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	reg := &auth.PasskeyChallenge{Hash: hash("r"), Purpose: auth.PasskeyRegister, UserID: "u1", SessionID: "s1",
		State: []byte(`{"challenge":"x"}`), CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
	mfa := &auth.PasskeyChallenge{Hash: hash("m"), Purpose: auth.PasskeyMFA, UserID: "u1", MFATokenHash: hash("tok"),
		State: []byte(`{}`), CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
	login := &auth.PasskeyChallenge{Hash: hash("l"), Purpose: auth.PasskeyLogin,
		State: []byte(`{}`), CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)}
	tx(t, s, func(tx auth.Tx) error {
		for _, c := range []*auth.PasskeyChallenge{reg, mfa, login} {
			if err := tx.CreatePasskeyChallenge(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	got, err := s.PasskeyChallengeByHash(ctx, hash("r"))
	if err != nil || got.Purpose != auth.PasskeyRegister || got.UserID != "u1" || got.SessionID != "s1" ||
		string(got.State) != `{"challenge":"x"}` || len(got.MFATokenHash) != 0 ||
		!got.CreatedAt.Equal(t0) || !got.ExpiresAt.Equal(reg.ExpiresAt) || !got.UsedAt.IsZero() {
		t.Fatalf("register challenge = %s, %v", show(got), err)
	}
	if got, err := s.PasskeyChallengeByHash(ctx, hash("m")); err != nil || !bytes.Equal(got.MFATokenHash, hash("tok")) || got.UserID != "u1" {
		t.Fatalf("mfa challenge = %s, %v", show(got), err)
	}
	if got, err := s.PasskeyChallengeByHash(ctx, hash("l")); err != nil || got.UserID != "" || got.Purpose != auth.PasskeyLogin {
		t.Fatalf("login challenge = %s, %v", show(got), err)
	}
	if _, err := s.PasskeyChallengeByHash(ctx, hash("nope")); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("unknown challenge: %v", err)
	}
	consume := func(h []byte, at time.Time) (ok bool) {
		tx(t, s, func(tx auth.Tx) (err error) { ok, err = tx.ConsumePasskeyChallenge(ctx, h, at); return })
		return ok
	}
	if consume(hash("r"), t0.Add(5*time.Minute)) {
		t.Fatal("an expired challenge was consumed")
	}
	if !consume(hash("r"), t0.Add(time.Minute)) {
		t.Fatal("a live challenge was refused")
	}
	if consume(hash("r"), t0.Add(time.Minute)) {
		t.Fatal("a challenge was consumed twice")
	}
	if got, _ := s.PasskeyChallengeByHash(ctx, hash("r")); !got.UsedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("used_at = %v", got.UsedAt)
	}
	if consume(hash("nope"), t0) {
		t.Fatal("an unknown challenge was consumed")
	}
	// Prune takes used and expired challenges; deleting the user takes
	// theirs.
	tx(t, s, func(tx auth.Tx) error { _, err := tx.Prune(ctx, t0.Add(2*time.Minute)); return err })
	if _, err := s.PasskeyChallengeByHash(ctx, hash("r")); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("used challenge after Prune: %v", err)
	}
	if _, err := s.PasskeyChallengeByHash(ctx, hash("l")); err != nil {
		t.Fatalf("live challenge after Prune: %v", err)
	}
	tx(t, s, func(tx auth.Tx) error { return tx.DeleteUser(ctx, "u1") })
	if _, err := s.PasskeyChallengeByHash(ctx, hash("m")); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("challenge of a deleted user: %v", err)
	}
	tx(t, s, func(tx auth.Tx) error { _, err := tx.Prune(ctx, t0.Add(time.Hour)); return err })
	if _, err := s.PasskeyChallengeByHash(ctx, hash("l")); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("expired challenge after Prune: %v", err)
	}
}

// testConcurrentConsumePasskeyChallenge: racers finish the same ceremony
// at once; exactly one may.
func testConcurrentConsumePasskeyChallenge(t *testing.T, s auth.Store) {
	ctx := context.Background()
	tx(t, s, func(tx auth.Tx) error {
		return tx.CreatePasskeyChallenge(ctx, &auth.PasskeyChallenge{Hash: hash("l"), Purpose: auth.PasskeyLogin,
			State: []byte(`{}`), CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)})
	})
	results := race(func(i int) (r result) {
		r.err = s.Tx(ctx, func(tx auth.Tx) (err error) {
			r.ok, err = tx.ConsumePasskeyChallenge(ctx, hash("l"), t0.Add(time.Second))
			return err
		})
		return r
	})
	countWinners(t, "ConsumePasskeyChallenge", results)
}

// testConcurrentUsePasskey: racers present assertions with the same sign
// counter (a cloned authenticator); exactly one may pass.
func testConcurrentUsePasskey(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	tx(t, s, func(tx auth.Tx) error { return tx.CreateFactor(ctx, newPasskey("p1", "u1", "cred-1", 7)) })
	results := race(func(i int) (r result) {
		r.err = s.Tx(ctx, func(tx auth.Tx) (err error) {
			r.ok, err = tx.UsePasskey(ctx, "p1", 8, t0.Add(time.Duration(i)*time.Millisecond))
			return err
		})
		return r
	})
	countWinners(t, "UsePasskey", results)
}
