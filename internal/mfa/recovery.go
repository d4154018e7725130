package mfa

import (
	"crypto/rand"
	"crypto/sha256"
	"strings"
)

// RecoveryCodeCount is how many recovery codes a set has.
const RecoveryCodeCount = 10

// A recovery code is 80 random bits written as 16 characters of Crockford's
// base32 (no i, l, o, u) in four groups: "k7dq-x2mf-9hcw-tp4e". 80 bits
// make the stored SHA-256 safe to keep unsalted: nobody searches that
// space, leaked database or not.
const (
	crockford     = "0123456789abcdefghjkmnpqrstvwxyz"
	recoveryLen   = 16
	recoveryGroup = 4
)

// NewRecoveryCodes makes n recovery codes, as shown to the user.
func NewRecoveryCodes(n int) ([]string, error) {
	out := make([]string, n)
	var raw [10]byte
	for i := range out {
		if _, err := rand.Read(raw[:]); err != nil {
			return nil, err
		}
		var b strings.Builder
		// 80 bits, 5 at a time.
		var acc uint64
		bits := 0
		j := 0
		for _, x := range raw {
			acc = acc<<8 | uint64(x)
			bits += 8
			for bits >= 5 {
				bits -= 5
				if j > 0 && j%recoveryGroup == 0 {
					b.WriteByte('-')
				}
				b.WriteByte(crockford[(acc>>bits)&31])
				j++
			}
		}
		out[i] = b.String()
	}
	return out, nil
}

// ParseRecoveryCode normalises a recovery code as typed: case, spaces and
// dashes do not matter, and the look-alikes Crockford's base32 leaves out
// are read as what they look like (i and l as 1, o as 0). It returns the
// 16-character canonical form.
func ParseRecoveryCode(s string) (string, bool) {
	if len(s) > 64 {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r == ' ' || r == '-':
			continue
		case r == 'i' || r == 'l':
			r = '1'
		case r == 'o':
			r = '0'
		}
		if r > 0x7f || !strings.ContainsRune(crockford, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != recoveryLen {
		return "", false
	}
	return b.String(), true
}

// HashRecoveryCode is the stored form of a canonical recovery code.
func HashRecoveryCode(canonical string) []byte {
	h := sha256.Sum256([]byte("latch recovery code\x00" + canonical))
	return h[:]
}
