package password

import (
	"context"
	"fmt"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// BenchmarkVerifyTiming measures what a failed login costs for each kind of
// account: an unknown email (VerifyDummy), a native argon2id account, and
// accounts imported with bcrypt hashes of the usual costs (bcryptjs and
// Passport default to 10, Devise to 12). A difference between the dummy
// and an account kind is how far login timing tells that kind of account
// from an unknown email:
//
//	go test -run '^$' -bench VerifyTiming -benchtime 20x -cpu 1 ./internal/password
func BenchmarkVerifyTiming(b *testing.B) {
	const pw, wrong = "zebra-lantern-41-quiet", "not-the-password-at-all"
	h := NewHasher(Config{})
	ctx := context.Background()
	b.Run("unknown-email-dummy", func(b *testing.B) {
		for b.Loop() {
			if err := h.VerifyDummy(ctx, wrong); err != nil {
				b.Fatal(err)
			}
		}
	})
	native, err := h.Hash(ctx, pw)
	if err != nil {
		b.Fatal(err)
	}
	verify := func(b *testing.B, enc string) {
		for b.Loop() {
			if ok, _, err := h.Verify(ctx, wrong, enc); err != nil || ok {
				b.Fatal(ok, err)
			}
		}
	}
	b.Run("argon2id-account", func(b *testing.B) { verify(b, native) })
	for _, cost := range []int{10, 11, 12} {
		enc, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("bcrypt-cost-%d-account", cost), func(b *testing.B) { verify(b, string(enc)) })
	}
}
