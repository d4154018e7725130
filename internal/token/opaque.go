package token

import (
	"crypto/rand"
	"crypto/sha256"

	"github.com/latchauth/latch/jws"
)

const (
	opaqueBytes = 32
	// OpaqueLen is the length of an opaque token string: 32 bytes in
	// base64url without padding.
	OpaqueLen = 43
)

// NewOpaque returns a new opaque token (refresh, reset, confirmation): 32
// bytes from crypto/rand in base64url without padding (43 characters).
func NewOpaque() (string, error) {
	var b [opaqueBytes]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return b64.EncodeToString(b[:]), nil
}

// decodeOpaque strictly decodes an opaque token: exactly 43 characters of
// the base64url alphabet, canonical, decoding to 32 bytes.
func decodeOpaque(s string) ([]byte, bool) {
	if len(s) != OpaqueLen {
		return nil, false
	}
	b, err := jws.DecodeSegment(s)
	if err != nil || len(b) != opaqueBytes {
		return nil, false
	}
	return b, true
}

// HashOpaque strictly decodes s (exactly 43 characters of the base64url
// alphabet, decoding canonically to 32 bytes) and returns the SHA-256 of the
// raw bytes, the form in which the token is stored. ok is false for anything
// else, which the caller treats like an unknown token.
func HashOpaque(s string) (hash []byte, ok bool) {
	b, ok := decodeOpaque(s)
	if !ok {
		return nil, false
	}
	sum := sha256.Sum256(b)
	return sum[:], true
}
