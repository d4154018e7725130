package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// Signature algorithms a key may pin (RFC 7518, RFC 8037).
const (
	EdDSA = "EdDSA"
	ES256 = "ES256"
	RS256 = "RS256"
)

// RSA modulus bounds: at least 2048 bits, at most 8192 so that a hostile
// key cannot make verification arbitrarily slow.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// Key is a public verification key from the JWKS. Its Alg is the only
// algorithm a token signed with it may use.
type Key struct {
	KID    string
	Alg    string
	Public crypto.PublicKey
}

// maxJWKSize bounds one JWK.
const maxJWKSize = 16 << 10

// ParseJWK parses one public JWK. It accepts only what latch publishes:
// "use":"sig", an "alg" of EdDSA (OKP Ed25519), ES256 (EC P-256) or RS256
// (RSA, 2048 to 8192 bits) that fits the key type, a non-empty "kid", no
// private members, no duplicate members, canonical base64url and points on
// the curve.
func ParseJWK(b []byte) (*Key, error) {
	if len(b) > maxJWKSize {
		return nil, errors.New("verify: JWK too large")
	}
	m := make(map[string][]byte, 12)
	err := scanObject(b, func(name string, raw []byte) error {
		m[name] = raw
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("verify: JWK: %v", err)
	}
	str := func(name string) (string, error) {
		raw, ok := m[name]
		if !ok {
			return "", fmt.Errorf("verify: JWK: missing %q", name)
		}
		s, ok := jsonString(raw)
		if !ok || s == "" {
			return "", fmt.Errorf("verify: JWK: %q is not a non-empty string", name)
		}
		return s, nil
	}
	bin := func(name string) ([]byte, error) {
		s, err := str(name)
		if err != nil {
			return nil, err
		}
		v, err := decodeB64(s)
		if err != nil {
			return nil, fmt.Errorf("verify: JWK: %q: %v", name, err)
		}
		return v, nil
	}
	for _, priv := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
		if _, ok := m[priv]; ok {
			return nil, fmt.Errorf("verify: JWK: private member %q present", priv)
		}
	}
	use, err := str("use")
	if err != nil {
		return nil, err
	}
	if use != "sig" {
		return nil, fmt.Errorf("verify: JWK: use %q is not \"sig\"", use)
	}
	alg, err := str("alg")
	if err != nil {
		return nil, err
	}
	kid, err := str("kid")
	if err != nil {
		return nil, err
	}
	kty, err := str("kty")
	if err != nil {
		return nil, err
	}
	var pub crypto.PublicKey
	switch {
	case alg == EdDSA && kty == "OKP":
		if crv, err := str("crv"); err != nil || crv != "Ed25519" {
			return nil, errors.New("verify: JWK: EdDSA key is not on Ed25519")
		}
		x, err := bin("x")
		if err != nil {
			return nil, err
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, errors.New("verify: JWK: Ed25519 key is not 32 bytes")
		}
		pub = ed25519.PublicKey(x)
	case alg == ES256 && kty == "EC":
		if crv, err := str("crv"); err != nil || crv != "P-256" {
			return nil, errors.New("verify: JWK: ES256 key is not on P-256")
		}
		x, err := bin("x")
		if err != nil {
			return nil, err
		}
		y, err := bin("y")
		if err != nil {
			return nil, err
		}
		if len(x) != 32 || len(y) != 32 {
			return nil, errors.New("verify: JWK: P-256 coordinates are not 32 bytes")
		}
		pt := append(append([]byte{4}, x...), y...)
		p, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
		if err != nil {
			return nil, errors.New("verify: JWK: point not on P-256")
		}
		pub = p
	case alg == RS256 && kty == "RSA":
		n, err := bin("n")
		if err != nil {
			return nil, err
		}
		e, err := bin("e")
		if err != nil {
			return nil, err
		}
		if len(n) == 0 || n[0] == 0 || len(e) == 0 || e[0] == 0 || len(e) > 4 {
			return nil, errors.New("verify: JWK: malformed RSA key")
		}
		nv := new(big.Int).SetBytes(n)
		ev := new(big.Int).SetBytes(e).Int64()
		if b := nv.BitLen(); b < minRSABits || b > maxRSABits {
			return nil, fmt.Errorf("verify: JWK: RSA key of %d bits (want %d to %d)", b, minRSABits, maxRSABits)
		}
		if nv.Bit(0) == 0 || ev < 3 || ev%2 == 0 {
			return nil, errors.New("verify: JWK: bad RSA key")
		}
		pub = &rsa.PublicKey{N: nv, E: int(ev)}
	default:
		return nil, fmt.Errorf("verify: JWK: alg %q with kty %q is not accepted", alg, kty)
	}
	return &Key{KID: kid, Alg: alg, Public: pub}, nil
}

// maxJWKSSize bounds a JWKS document.
const maxJWKSSize = 1 << 20

// ParseJWKS parses an RFC 7517 key set {"keys":[...]}. Keys that ParseJWK
// refuses (another use, an unknown algorithm...) are skipped and reported
// in skipped; a kid that appears twice is dropped entirely, since a token
// naming it would be ambiguous. An error means the document itself is
// malformed.
func ParseJWKS(b []byte) (keys map[string]*Key, skipped []error, err error) {
	if len(b) > maxJWKSSize {
		return nil, nil, errors.New("verify: JWKS too large")
	}
	var raw []json.RawMessage
	err = scanObject(b, func(name string, v []byte) error {
		if name != "keys" {
			return nil
		}
		if len(v) == 0 || v[0] != '[' {
			return errors.New(`"keys" is not an array`)
		}
		p := jsonParser{b: v}
		items, err := p.elements(1, true)
		if err != nil {
			return err
		}
		for _, it := range items {
			raw = append(raw, it)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("verify: JWKS: %v", err)
	}
	keys = make(map[string]*Key, len(raw))
	dup := map[string]bool{}
	for _, r := range raw {
		k, err := ParseJWK(r)
		if err != nil {
			skipped = append(skipped, err)
			continue
		}
		if _, ok := keys[k.KID]; ok || dup[k.KID] {
			delete(keys, k.KID)
			dup[k.KID] = true
			skipped = append(skipped, fmt.Errorf("verify: JWKS: kid %q appears more than once", k.KID))
			continue
		}
		keys[k.KID] = k
	}
	return keys, skipped, nil
}
