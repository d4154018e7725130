package verify

import (
	"fmt"

	"github.com/latchauth/latch/jws"
)

// Signature algorithms a key may pin (RFC 7518, RFC 8037).
const (
	EdDSA = jws.EdDSA
	ES256 = jws.ES256
	RS256 = jws.RS256
)

// Key is a public verification key from the JWKS. Its Alg is the only
// algorithm a token signed with it may use.
type Key = jws.Key

// maxJWKSSize bounds a JWKS document.
const maxJWKSSize = jws.MaxJWKSSize

// ParseJWK parses one public JWK. It accepts only what latch publishes:
// "use":"sig", an "alg" of EdDSA (OKP Ed25519), ES256 (EC P-256) or RS256
// (RSA, 2048 to 8192 bits) that fits the key type, a non-empty "kid", no
// private members, no duplicate members, canonical base64url, points on
// the curve and, for Ed25519, canonically encoded and not of small order.
func ParseJWK(b []byte) (*Key, error) {
	k, err := jws.ParseJWK(b, jws.RequireAll)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	return k, nil
}

// ParseJWKS parses an RFC 7517 key set {"keys":[...]}. Keys that ParseJWK
// refuses (another use, an unknown algorithm...) are skipped and reported
// in skipped; a kid that appears twice is dropped entirely, since a token
// naming it would be ambiguous. An error means the document itself is
// malformed.
func ParseJWKS(b []byte) (keys map[string]*Key, skipped []error, err error) {
	keys, skipped, err = jws.ParseJWKS(b)
	if err != nil {
		return nil, nil, fmt.Errorf("verify: %w", err)
	}
	return keys, skipped, nil
}
