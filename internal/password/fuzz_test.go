package password

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// FuzzVerifyEncoded feeds arbitrary encoded hashes to Verify. A hasher
// with tiny limits (64 KiB, 2 passes, 2 lanes, bcrypt cost 4) keeps every
// accepted hash cheap. Verify must never panic, must fail only with
// ErrMalformedHash or ErrUnsupportedHash, and must accept only hashes
// within its limits.
func FuzzVerifyEncoded(f *testing.F) {
	const pw = "zebra"
	tiny := phc(pw, []byte("0123456789abcdef"), 64, 1, 1, 32)
	b, err := bcrypt.GenerateFromPassword([]byte(pw), 4)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		tiny,
		strings.Replace(tiny, "m=64,t=1,p=1", "m=64,p=1,t=1", 1),
		strings.Replace(tiny, "$argon2id$", "$argon2i$", 1),
		string(b),
		"$2y$" + string(b[4:]),
		"$argon2id$v=19$m=19456,p=1,t=2$WAoSA5/bM6q0azvobcRDiw$NWqZ9nHXN1SZ5JnRxFxXqyC//cafxN67i87ge3X+pac",
		"$2a$05$MeyURE/HF/MW9EdIJj.98O98piA2jneYfTsjpaUfNDR9TxoBCgAhK",
		"$argon2id$v=19$m=4294967295,t=4294967295,p=255$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"",
		"$",
		"$$$$$",
	} {
		f.Add(s, pw)
	}
	h := NewHasher(Config{MaxConcurrent: 1})
	h.lim = limits{memory: 64, time: 2, threads: 2, bcryptCost: 4}
	f.Fuzz(func(t *testing.T, encoded, pw string) {
		ok, _, err := h.Verify(context.Background(), pw, encoded)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) && !errors.Is(err, ErrUnsupportedHash) {
				t.Fatalf("Verify(%q) error %v, want ErrMalformedHash or ErrUnsupportedHash", encoded, err)
			}
			if ok {
				t.Fatalf("Verify(%q) = true with error %v", encoded, err)
			}
			return
		}
		d, err := h.parse(encoded)
		if err != nil {
			t.Fatalf("Verify(%q) succeeded but parse fails: %v", encoded, err)
		}
		switch d.scheme {
		case schemeBcrypt:
			if d.cost > h.lim.bcryptCost || len(encoded) != 60 {
				t.Fatalf("accepted bcrypt %q beyond limits", encoded)
			}
		default:
			if d.memory > h.lim.memory || d.time > h.lim.time || d.threads > h.lim.threads ||
				d.time < 1 || d.threads < 1 || d.memory < 8*uint32(d.threads) ||
				len(d.salt) < 8 || len(d.key) < 16 || len(d.key) > 64 {
				t.Fatalf("accepted argon2 %q beyond limits: %+v", encoded, d)
			}
		}
	})
}
