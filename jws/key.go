package jws

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
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

// RSA modulus bounds: at least 2048 bits (RFC 8725 §3.5 / NIST), at most
// 8192 bits so that a hostile key cannot make verification arbitrarily
// slow.
const (
	MinRSABits = 2048
	MaxRSABits = 8192
)

// Key is a public verification key. Its Alg is the only algorithm a token
// signed with it may use.
type Key struct {
	KID    string
	Alg    string // EdDSA, ES256 or RS256
	Public crypto.PublicKey
}

// CheckKey reports whether pub is a usable public key for alg: for EdDSA
// an Ed25519 key, canonically encoded, on the curve and not of small
// order; for ES256 a point on P-256; for RS256 an RSA key with an odd
// modulus of MinRSABits to MaxRSABits bits and an odd exponent from 3 to
// 2^31-1 (the largest crypto/rsa verifies with).
func CheckKey(alg string, pub crypto.PublicKey) error {
	return checkKey(alg, pub, true)
}

// checkKey is CheckKey; without thorough (on every verification) an
// Ed25519 key is checked not to be of small order, which would let
// signatures be forged, but not to be canonical and on the curve, and an
// EC point not to be on the curve, which costs arithmetic each time
// (crypto/ed25519 and crypto/ecdsa refuse such points by themselves).
func checkKey(alg string, pub crypto.PublicKey, thorough bool) error {
	switch alg {
	case EdDSA:
		if p, ok := pub.(ed25519.PublicKey); ok {
			if !thorough && len(p) == ed25519.PublicKeySize {
				if ed25519SmallOrder(p) {
					return errors.New("jws: Ed25519 key is a point of small order")
				}
				return nil
			}
			return checkEd25519(p)
		}
	case ES256:
		if p, ok := pub.(*ecdsa.PublicKey); ok && p.Curve == elliptic.P256() {
			// A caller-built key may lack coordinates, and Bytes and
			// ecdsa.Verify would panic on it; only the fields tell.
			//lint:ignore SA1019 reading the raw coordinates is the only nil check
			if p.X == nil || p.Y == nil {
				return errors.New("jws: EC key without coordinates")
			}
			if thorough {
				if _, err := p.Bytes(); err != nil {
					return errors.New("jws: EC key is not a point on P-256")
				}
			}
			return nil
		}
	case RS256:
		if p, ok := pub.(*rsa.PublicKey); ok {
			if p.N == nil {
				return errors.New("jws: RSA key without modulus")
			}
			if b := p.N.BitLen(); b < MinRSABits || b > MaxRSABits {
				return fmt.Errorf("jws: RSA key of %d bits (want %d to %d)", b, MinRSABits, MaxRSABits)
			}
			if p.N.Bit(0) == 0 {
				return errors.New("jws: RSA modulus is even")
			}
			if p.E < 3 || p.E%2 == 0 || p.E > 1<<31-1 {
				return errors.New("jws: bad RSA public exponent")
			}
			return nil
		}
	default:
		return fmt.Errorf("jws: unsupported algorithm %q", alg)
	}
	return fmt.Errorf("jws: key type %T does not fit %s", pub, alg)
}

// jwk is the JSON form of a public JWK (RFC 7517, 7518 §6, 8037).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Kid string `json:"kid,omitempty"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
}

// members returns the key's required JWK members (RFC 7638 §3.2).
func (k *Key) members() (jwk, error) {
	if err := CheckKey(k.Alg, k.Public); err != nil {
		return jwk{}, err
	}
	switch p := k.Public.(type) {
	case ed25519.PublicKey:
		return jwk{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(p)}, nil
	case *ecdsa.PublicKey:
		pt, err := p.Bytes() // 0x04 || X || Y, fixed width
		if err != nil {
			return jwk{}, fmt.Errorf("jws: encode EC key: %w", err)
		}
		n := (len(pt) - 1) / 2
		return jwk{Kty: "EC", Crv: "P-256", X: b64.EncodeToString(pt[1 : 1+n]), Y: b64.EncodeToString(pt[1+n:])}, nil
	case *rsa.PublicKey:
		return jwk{Kty: "RSA", N: b64.EncodeToString(p.N.Bytes()), E: b64.EncodeToString(big.NewInt(int64(p.E)).Bytes())}, nil
	}
	return jwk{}, fmt.Errorf("jws: unsupported public key %T", k.Public)
}

// Thumbprint returns the RFC 7638 JWK thumbprint of the public key:
// base64url (no padding) of the SHA-256 of its required members in
// lexicographic order.
func (k *Key) Thumbprint() (string, error) {
	m, err := k.members()
	if err != nil {
		return "", err
	}
	// json.Marshal of a struct keeps field order; these orders are the
	// lexicographic ones RFC 7638 requires, and the values contain only
	// base64url and ASCII names, so no escaping differs.
	var v any
	switch m.Kty {
	case "OKP":
		v = struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
		}{m.Crv, m.Kty, m.X}
	case "EC":
		v = struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
			Y   string `json:"y"`
		}{m.Crv, m.Kty, m.X, m.Y}
	case "RSA":
		v = struct {
			E   string `json:"e"`
			Kty string `json:"kty"`
			N   string `json:"n"`
		}{m.E, m.Kty, m.N}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("jws: thumbprint: %w", err)
	}
	sum := sha256.Sum256(b)
	return b64.EncodeToString(sum[:]), nil
}

// JWK returns the key as a JSON JWK with kty, crv/x(/y) or n/e, kid, alg
// and use "sig": the form ParseJWK accepts with RequireAll.
func (k *Key) JWK() ([]byte, error) {
	m, err := k.members()
	if err != nil {
		return nil, err
	}
	if k.KID == "" {
		return nil, errors.New("jws: key has no kid")
	}
	m.Kid, m.Alg, m.Use = k.KID, k.Alg, "sig"
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("jws: marshal JWK: %w", err)
	}
	return b, nil
}

// JWKS returns the RFC 7517 key set {"keys":[...]} of the keys' JWKs, in
// the given order.
func JWKS(keys []*Key) ([]byte, error) {
	set := struct {
		Keys []json.RawMessage `json:"keys"`
	}{Keys: make([]json.RawMessage, 0, len(keys))}
	for _, k := range keys {
		b, err := k.JWK()
		if err != nil {
			return nil, err
		}
		set.Keys = append(set.Keys, b)
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("jws: marshal JWKS: %w", err)
	}
	return b, nil
}

// Require lists the JWK members that RFC 7517 leaves optional but that
// ParseJWK is to insist on.
type Require uint8

const (
	// RequireUse requires "use" ("sig" is the only value ever accepted).
	RequireUse Require = 1 << iota
	// RequireAlg requires "alg"; without it the key type implies it.
	RequireAlg
	// RequireKID requires "kid"; without it the thumbprint is the KID.
	RequireKID
	// RequireAll is what a JWKS consumer asks for: keys as latch
	// publishes them.
	RequireAll = RequireUse | RequireAlg | RequireKID
)

// MaxJWKSize bounds the JWK accepted by ParseJWK (an 8192-bit RSA key
// with every member is well below it).
const MaxJWKSize = 16 << 10

// ParseJWK parses one public JWK. It refuses duplicate members, private
// key members, a use other than "sig", an alg other than the one the key
// type implies (EdDSA for OKP Ed25519, ES256 for EC P-256, RS256 for RSA),
// empty alg or kid, non-canonical base64url, points not on the curve,
// coordinates not of the fixed width, Ed25519 keys that are not
// canonically encoded or are of small order, and RSA keys CheckKey
// refuses. Members in req must be present; otherwise a missing alg is
// inferred from the key type and a missing kid becomes the thumbprint.
func ParseJWK(b []byte, req Require) (*Key, error) {
	m, err := scanJWK(b)
	if err != nil {
		return nil, err
	}
	alg, kid, err := m.useAlgKID(req)
	if err != nil {
		return nil, err
	}
	kty, _, err := m.str("kty", true)
	if err != nil {
		return nil, err
	}
	pub, want, err := m.publicKey(kty)
	if err != nil {
		return nil, err
	}
	if alg == "" {
		alg = want
	}
	if alg != want {
		return nil, fmt.Errorf("jws: JWK: alg %q does not fit kty %q", alg, kty)
	}
	if err := CheckKey(alg, pub); err != nil {
		return nil, fmt.Errorf("jws: JWK: %w", err)
	}
	k := &Key{KID: kid, Alg: alg, Public: pub}
	if k.KID == "" {
		if k.KID, err = k.Thumbprint(); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// jwkMembers are the raw JSON values of a JWK's members, by name.
type jwkMembers map[string][]byte

// scanJWK reads the members of a JWK of at most MaxJWKSize (strict JSON:
// no duplicates) and refuses a private key.
func scanJWK(b []byte) (jwkMembers, error) {
	if len(b) > MaxJWKSize {
		return nil, errors.New("jws: JWK too large")
	}
	m := make(jwkMembers, 12)
	err := scanObject(b, func(name string, raw []byte) error {
		m[name] = raw
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("jws: JWK: %v", err)
	}
	for _, priv := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
		if _, ok := m[priv]; ok {
			return nil, fmt.Errorf("jws: JWK: private member %q present", priv)
		}
	}
	return m, nil
}

// str returns member name, which must be a non-empty string when present;
// present reports whether it was.
func (m jwkMembers) str(name string, required bool) (s string, present bool, err error) {
	raw, ok := m[name]
	if !ok {
		if required {
			return "", false, fmt.Errorf("jws: JWK: missing %q", name)
		}
		return "", false, nil
	}
	s, ok = jsonString(raw)
	if !ok || s == "" {
		return "", true, fmt.Errorf("jws: JWK: %q is not a non-empty string", name)
	}
	return s, true, nil
}

// bin returns the required member name, a canonical base64url string,
// decoded.
func (m jwkMembers) bin(name string) ([]byte, error) {
	s, _, err := m.str(name, true)
	if err != nil {
		return nil, err
	}
	v, err := decodeB64(s)
	if err != nil {
		return nil, fmt.Errorf("jws: JWK: %q: %v", name, err)
	}
	return v, nil
}

// useAlgKID checks "use" (only "sig") and returns "alg" and "kid", empty
// when absent; the members in req must be present.
func (m jwkMembers) useAlgKID(req Require) (alg, kid string, err error) {
	use, present, err := m.str("use", req&RequireUse != 0)
	if err != nil {
		return "", "", err
	}
	if present && use != "sig" {
		return "", "", fmt.Errorf("jws: JWK: use %q is not \"sig\"", use)
	}
	if alg, _, err = m.str("alg", req&RequireAlg != 0); err != nil {
		return "", "", err
	}
	if kid, _, err = m.str("kid", req&RequireKID != 0); err != nil {
		return "", "", err
	}
	return alg, kid, nil
}

// publicKey decodes the key of type kty and returns it with the one
// algorithm that type implies.
func (m jwkMembers) publicKey(kty string) (pub crypto.PublicKey, alg string, err error) {
	switch kty {
	case "OKP":
		pub, err = m.ed25519Key()
		return pub, EdDSA, err
	case "EC":
		pub, err = m.p256Key()
		return pub, ES256, err
	case "RSA":
		pub, err = m.rsaKey()
		return pub, RS256, err
	}
	return nil, "", fmt.Errorf("jws: JWK: unsupported kty %q", kty)
}

func (m jwkMembers) ed25519Key() (crypto.PublicKey, error) {
	if crv, _, err := m.str("crv", true); err != nil || crv != "Ed25519" {
		return nil, errors.New("jws: JWK: OKP key is not on Ed25519")
	}
	x, err := m.bin("x")
	if err != nil {
		return nil, err
	}
	if len(x) != ed25519.PublicKeySize {
		return nil, errors.New("jws: JWK: Ed25519 key is not 32 bytes")
	}
	return ed25519.PublicKey(x), nil
}

func (m jwkMembers) p256Key() (crypto.PublicKey, error) {
	if crv, _, err := m.str("crv", true); err != nil || crv != "P-256" {
		return nil, errors.New("jws: JWK: EC key is not on P-256")
	}
	x, err := m.bin("x")
	if err != nil {
		return nil, err
	}
	y, err := m.bin("y")
	if err != nil {
		return nil, err
	}
	if len(x) != 32 || len(y) != 32 {
		return nil, errors.New("jws: JWK: P-256 coordinates are not 32 bytes")
	}
	pt := append(append([]byte{4}, x...), y...)
	p, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
	if err != nil {
		return nil, errors.New("jws: JWK: point not on P-256")
	}
	return p, nil
}

// rsaKey decodes n and e: minimal big-endian, n odd, e at most 4 bytes
// (CheckKey bounds them further).
func (m jwkMembers) rsaKey() (crypto.PublicKey, error) {
	n, err := m.bin("n")
	if err != nil {
		return nil, err
	}
	e, err := m.bin("e")
	if err != nil {
		return nil, err
	}
	if len(n) == 0 || n[0] == 0 || len(e) == 0 || e[0] == 0 || len(e) > 4 {
		return nil, errors.New("jws: JWK: malformed RSA key")
	}
	nv := new(big.Int).SetBytes(n)
	if nv.Bit(0) == 0 {
		return nil, errors.New("jws: JWK: RSA modulus is even")
	}
	return &rsa.PublicKey{N: nv, E: int(new(big.Int).SetBytes(e).Int64())}, nil
}

// MaxJWKSSize bounds the key set accepted by ParseJWKS.
const MaxJWKSSize = 1 << 20

// ParseJWKS parses an RFC 7517 key set {"keys":[...]}, each key with
// ParseJWK(key, RequireAll). Keys it refuses (another use, an unknown
// algorithm...) are skipped and reported in skipped; a kid that appears
// twice is dropped entirely, since a token naming it would be ambiguous.
// Members other than "keys" are ignored. An error means the document
// itself is malformed.
func ParseJWKS(b []byte) (keys map[string]*Key, skipped []error, err error) {
	if len(b) > MaxJWKSSize {
		return nil, nil, errors.New("jws: JWKS too large")
	}
	var raw [][]byte
	err = scanObject(b, func(name string, v []byte) error {
		if name != "keys" {
			return nil
		}
		if len(v) == 0 || v[0] != '[' {
			return errors.New(`"keys" is not an array`)
		}
		p := jsonParser{b: v}
		items, perr := p.elements(1, true)
		raw = items
		return perr
	})
	if err != nil {
		return nil, nil, fmt.Errorf("jws: JWKS: %v", err)
	}
	keys = make(map[string]*Key, len(raw))
	dup := map[string]bool{}
	for _, r := range raw {
		k, err := ParseJWK(r, RequireAll)
		if err != nil {
			skipped = append(skipped, err)
			continue
		}
		if _, ok := keys[k.KID]; ok || dup[k.KID] {
			delete(keys, k.KID)
			dup[k.KID] = true
			skipped = append(skipped, fmt.Errorf("jws: JWKS: kid %q appears more than once", k.KID))
			continue
		}
		keys[k.KID] = k
	}
	return keys, skipped, nil
}
