package token

import (
	"fmt"

	"github.com/latchauth/latch/jws"
)

// parsePublicJWK parses one public JWK as written by PublicJWK (the
// tests read keys back; latch itself only writes them). It refuses
// duplicate members, private key members, use other than "sig", an alg
// that does not fit the key type, non-canonical base64url, points not on
// the curve, Ed25519 keys of small order or not canonically encoded, and
// RSA keys under 2048 bits (see jws.ParseJWK). A missing alg is inferred from
// the key type; a missing kid becomes the thumbprint.
func parsePublicJWK(b []byte) (*Key, error) {
	k, err := jws.ParseJWK(b, 0)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	return &Key{KID: k.KID, Alg: k.Alg, Public: k.Public}, nil
}
