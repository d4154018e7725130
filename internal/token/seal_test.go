package token

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	secret := bytes.Repeat([]byte("s"), 32)
	long := []byte(strings.Repeat("a much longer secret ", 10))
	for _, tt := range []struct {
		name           string
		secret, pt, ad []byte
	}{
		{"32-byte secret", secret, []byte("private key DER"), []byte("kid-1")},
		{"long secret", long, []byte("x"), nil},
		{"empty plaintext", secret, nil, []byte("ad")},
		{"large plaintext", secret, bytes.Repeat([]byte{7}, 5000), []byte("ad")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := Seal(tt.secret, tt.pt, tt.ad)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(sealed), 1+12+len(tt.pt)+16; got != want {
				t.Errorf("len(sealed) = %d, want %d", got, want)
			}
			if sealed[0] != 1 {
				t.Errorf("version byte = %d, want 1", sealed[0])
			}
			if len(tt.pt) > 4 && bytes.Contains(sealed, tt.pt) {
				t.Error("sealed data contains the plaintext")
			}
			got, err := Open(tt.secret, sealed, tt.ad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.pt) {
				t.Errorf("Open = %q, want %q", got, tt.pt)
			}
			again, _ := Seal(tt.secret, tt.pt, tt.ad)
			if bytes.Equal(again, sealed) {
				t.Error("two seals of the same plaintext are equal (nonce reused)")
			}
		})
	}
}

func TestOpenRefuses(t *testing.T) {
	secret := bytes.Repeat([]byte("s"), 32)
	ad := []byte("kid-1")
	sealed, err := Seal(secret, []byte("private key DER"), ad)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name           string
		secret, in, ad []byte
	}{
		{"wrong secret", bytes.Repeat([]byte("t"), 32), sealed, ad},
		{"secret one byte longer", append(bytes.Clone(secret), 's'), sealed, ad},
		{"wrong ad", secret, sealed, []byte("kid-2")},
		{"missing ad", secret, sealed, nil},
		{"version byte changed", secret, flip(0), ad},
		{"nonce changed", secret, flip(5), ad},
		{"ciphertext changed", secret, flip(15), ad},
		{"tag changed", secret, flip(len(sealed) - 1), ad},
		{"truncated", secret, sealed[:len(sealed)-1], ad},
		{"too short", secret, sealed[:20], ad},
		{"empty", secret, nil, ad},
		{"extended", secret, append(bytes.Clone(sealed), 0), ad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if pt, err := Open(tt.secret, tt.in, tt.ad); !errors.Is(err, ErrInvalid) {
				t.Errorf("Open = %q, %v; want ErrInvalid", pt, err)
			}
		})
	}
	short := bytes.Repeat([]byte("s"), 31)
	if _, err := Seal(short, []byte("x"), nil); err == nil {
		t.Error("Seal with a 31-byte secret: nil error")
	}
	if _, err := Open(short, sealed, ad); err == nil {
		t.Error("Open with a 31-byte secret: nil error")
	}
}

func TestSealedPrivateKey(t *testing.T) {
	// The way keys are stored: PKCS#8 sealed with the secret, kid as ad.
	k := fixtures().ed
	secret := bytes.Repeat([]byte{0xaa}, 32)
	der, err := k.MarshalPrivate()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := Seal(secret, der, []byte(k.KID))
	if err != nil {
		t.Fatal(err)
	}
	opened, err := Open(secret, sealed, []byte(k.KID))
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParsePrivate(k.Alg, k.KID, opened)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifier(k).Verify(signed(t, back, nil)); err != nil {
		t.Errorf("token of the unsealed key: %v", err)
	}
}

func TestSuccessor(t *testing.T) {
	prev, _ := NewOpaque()
	next, _ := NewOpaque()
	other, _ := NewOpaque()
	sealed, err := SealSuccessor(prev, next)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(next)) {
		t.Error("sealed successor contains the successor")
	}
	nh, _ := HashOpaque(next)
	if bytes.Contains(sealed, nh) {
		t.Error("sealed successor contains the successor's hash")
	}
	got, err := OpenSuccessor(prev, sealed)
	if err != nil {
		t.Fatalf("OpenSuccessor: %v", err)
	}
	if got != next {
		t.Errorf("OpenSuccessor = %q, want %q", got, next)
	}

	// Sealing next under Seal with prev's raw bytes as the secret uses the
	// same input key material; the HKDF info strings keep the two apart.
	raw, _ := b64.DecodeString(prev)
	nextRaw, _ := b64.DecodeString(next)
	cross, err := Seal(raw, nextRaw, nil)
	if err != nil {
		t.Fatal(err)
	}

	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	tests := []struct {
		name   string
		prev   string
		sealed []byte
	}{
		{"wrong prev", other, sealed},
		{"next as prev", next, sealed},
		{"prev malformed", prev[:42], sealed},
		{"prev with padding", prev + "=", sealed},
		{"tampered", prev, tampered},
		{"truncated", prev, sealed[:len(sealed)-1]},
		{"empty", prev, nil},
		{"sealed with another info", prev, cross},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := OpenSuccessor(tt.prev, tt.sealed); !errors.Is(err, ErrInvalid) || got != "" {
				t.Errorf("OpenSuccessor = %q, %v; want \"\", ErrInvalid", got, err)
			}
		})
	}
	for _, bad := range [][2]string{{"short", next}, {prev, "short"}, {prev, next + "A"}} {
		if _, err := SealSuccessor(bad[0], bad[1]); err == nil {
			t.Errorf("SealSuccessor(%q, %q) = nil error", bad[0], bad[1])
		}
	}
	// Equal raw lengths: sha256 of prev is not prev, so a stored hash does
	// not open the successor either.
	h := sha256.Sum256(raw)
	if _, err := OpenSuccessor(b64.EncodeToString(h[:]), sealed); !errors.Is(err, ErrInvalid) {
		t.Errorf("OpenSuccessor with the stored hash of prev = %v, want ErrInvalid", err)
	}
}
