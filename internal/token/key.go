// Package token issues and verifies latch's access tokens (compact JWS
// JWTs, RFC 9068 profile), manages signing keys and their JWK/JWKS form,
// seals data at rest with the server secret, and generates and hashes the
// opaque refresh, reset and confirmation tokens.
//
// Verification is deliberately strict (RFC 8725): the algorithm is pinned
// by the key that the token's kid names, the compact serialization is
// parsed by hand with canonical base64url and duplicate-free JSON, and
// claims are looked at only after the signature verified.
package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// Supported signature algorithms (RFC 7518, RFC 8037).
const (
	EdDSA = "EdDSA"
	ES256 = "ES256"
	RS256 = "RS256"
)

// RSA modulus bounds: at least 2048 bits (RFC 8725 §3.5 / NIST), at most
// 8192 bits so that a hostile JWK cannot make verification arbitrarily slow.
const (
	minRSABits = 2048
	maxRSABits = 8192
	rsaGenBits = 2048
)

// Key is one signing key. Private is nil for a public-only key.
type Key struct {
	KID     string
	Alg     string // "EdDSA" (default), "ES256", "RS256"
	Private crypto.Signer
	Public  crypto.PublicKey
}

// normAlg maps "" to the default algorithm and refuses unknown ones.
func normAlg(alg string) (string, error) {
	switch alg {
	case "":
		return EdDSA, nil
	case EdDSA, ES256, RS256:
		return alg, nil
	}
	return "", fmt.Errorf("token: unsupported algorithm %q", alg)
}

// GenerateKey creates a new key for alg ("" means EdDSA): Ed25519, P-256
// for ES256, 2048-bit RSA for RS256. Its KID is the RFC 7638 JWK thumbprint
// (SHA-256, base64url).
func GenerateKey(alg string) (*Key, error) {
	alg, err := normAlg(alg)
	if err != nil {
		return nil, err
	}
	var priv crypto.Signer
	switch alg {
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaGenBits)
	}
	if err != nil {
		return nil, fmt.Errorf("token: generate %s key: %w", alg, err)
	}
	return newKey(alg, "", priv)
}

// newKey builds a Key from a private key, checking that it fits alg, and
// computes the thumbprint KID when kid is empty.
func newKey(alg, kid string, priv crypto.Signer) (*Key, error) {
	pub := priv.Public()
	if err := checkPublic(alg, pub); err != nil {
		return nil, err
	}
	k := &Key{KID: kid, Alg: alg, Private: priv, Public: pub}
	if k.KID == "" {
		tp, err := k.Thumbprint()
		if err != nil {
			return nil, err
		}
		k.KID = tp
	}
	return k, nil
}

// checkPublic reports whether pub is a usable public key for alg.
func checkPublic(alg string, pub crypto.PublicKey) error {
	switch alg {
	case EdDSA:
		if p, ok := pub.(ed25519.PublicKey); ok && len(p) == ed25519.PublicKeySize {
			return nil
		}
	case ES256:
		if p, ok := pub.(*ecdsa.PublicKey); ok && p.Curve == elliptic.P256() {
			return nil
		}
	case RS256:
		if p, ok := pub.(*rsa.PublicKey); ok {
			if b := p.N.BitLen(); b < minRSABits || b > maxRSABits {
				return fmt.Errorf("token: RSA key of %d bits (want %d to %d)", b, minRSABits, maxRSABits)
			}
			if p.E < 3 || p.E%2 == 0 {
				return errors.New("token: bad RSA public exponent")
			}
			return nil
		}
	default:
		return fmt.Errorf("token: unsupported algorithm %q", alg)
	}
	return fmt.Errorf("token: key type %T does not fit %s", pub, alg)
}

// MarshalPrivate encodes the private key as PKCS#8 DER.
func (k *Key) MarshalPrivate() ([]byte, error) {
	if k.Private == nil {
		return nil, errors.New("token: key has no private part")
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.Private)
	if err != nil {
		return nil, fmt.Errorf("token: marshal private key: %w", err)
	}
	return der, nil
}

// ParsePrivate decodes a PKCS#8 DER private key for alg ("" means EdDSA).
// The key type must fit alg. An empty kid is replaced by the key's
// thumbprint.
func ParsePrivate(alg, kid string, der []byte) (*Key, error) {
	alg, err := normAlg(alg)
	if err != nil {
		return nil, err
	}
	raw, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("token: parse private key: %w", err)
	}
	priv, ok := raw.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("token: private key type %T cannot sign", raw)
	}
	return newKey(alg, kid, priv)
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
	if err := checkPublic(k.Alg, k.Public); err != nil {
		return jwk{}, err
	}
	switch p := k.Public.(type) {
	case ed25519.PublicKey:
		return jwk{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(p)}, nil
	case *ecdsa.PublicKey:
		pt, err := p.Bytes() // 0x04 || X || Y, fixed width
		if err != nil {
			return jwk{}, fmt.Errorf("token: encode EC key: %w", err)
		}
		n := (len(pt) - 1) / 2
		return jwk{Kty: "EC", Crv: "P-256", X: b64.EncodeToString(pt[1 : 1+n]), Y: b64.EncodeToString(pt[1+n:])}, nil
	case *rsa.PublicKey:
		return jwk{Kty: "RSA", N: b64.EncodeToString(p.N.Bytes()), E: b64.EncodeToString(big.NewInt(int64(p.E)).Bytes())}, nil
	}
	return jwk{}, fmt.Errorf("token: unsupported public key %T", k.Public)
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
		return "", fmt.Errorf("token: thumbprint: %w", err)
	}
	sum := sha256.Sum256(b)
	return b64.EncodeToString(sum[:]), nil
}

// PublicJWK returns the public key as a JSON JWK with kty, crv/x(/y) or
// n/e, kid, alg and use "sig".
func (k *Key) PublicJWK() ([]byte, error) {
	m, err := k.members()
	if err != nil {
		return nil, err
	}
	if k.KID == "" {
		return nil, errors.New("token: key has no kid")
	}
	m.Kid, m.Alg, m.Use = k.KID, k.Alg, "sig"
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("token: marshal JWK: %w", err)
	}
	return b, nil
}

// maxJWKSize bounds the JWK accepted by ParsePublicJWK (an 8192-bit RSA key
// with every member is well below it).
const maxJWKSize = 16 << 10

// ParsePublicJWK parses one public JWK as written by PublicJWK. It refuses
// duplicate members, private key members, use other than "sig", an alg
// that does not fit the key type, non-canonical base64url, points not on
// the curve and RSA keys under 2048 bits. A missing alg is inferred from
// the key type; a missing kid becomes the thumbprint.
func ParsePublicJWK(b []byte) (*Key, error) {
	if len(b) > maxJWKSize {
		return nil, errors.New("token: JWK too large")
	}
	m, err := strictObject(b)
	if err != nil {
		return nil, fmt.Errorf("token: JWK: %v", err)
	}
	str := func(name string, required bool) (string, error) {
		raw, ok := m[name]
		if !ok {
			if required {
				return "", fmt.Errorf("token: JWK: missing %q", name)
			}
			return "", nil
		}
		s, ok := jsonString(raw)
		if !ok {
			return "", fmt.Errorf("token: JWK: %q is not a string", name)
		}
		if required && s == "" {
			return "", fmt.Errorf("token: JWK: empty %q", name)
		}
		return s, nil
	}
	bin := func(name string) ([]byte, error) {
		s, err := str(name, true)
		if err != nil {
			return nil, err
		}
		v, err := decodeB64(s)
		if err != nil {
			return nil, fmt.Errorf("token: JWK: %q: %v", name, err)
		}
		return v, nil
	}
	for _, priv := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
		if _, ok := m[priv]; ok {
			return nil, fmt.Errorf("token: JWK: private member %q present", priv)
		}
	}
	kty, err := str("kty", true)
	if err != nil {
		return nil, err
	}
	use, err := str("use", false)
	if err != nil {
		return nil, err
	}
	if _, ok := m["use"]; ok && use != "sig" {
		return nil, fmt.Errorf("token: JWK: use %q is not \"sig\"", use)
	}
	alg, err := str("alg", false)
	if err != nil {
		return nil, err
	}
	if _, ok := m["alg"]; ok && alg == "" {
		return nil, errors.New("token: JWK: empty \"alg\"")
	}
	kid, err := str("kid", false)
	if err != nil {
		return nil, err
	}
	if _, ok := m["kid"]; ok && kid == "" {
		return nil, errors.New("token: JWK: empty \"kid\"")
	}

	var pub crypto.PublicKey
	var want string
	switch kty {
	case "OKP":
		want = EdDSA
		crv, err := str("crv", true)
		if err != nil {
			return nil, err
		}
		if crv != "Ed25519" {
			return nil, fmt.Errorf("token: JWK: unsupported OKP curve %q", crv)
		}
		x, err := bin("x")
		if err != nil {
			return nil, err
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, errors.New("token: JWK: Ed25519 key is not 32 bytes")
		}
		pub = ed25519.PublicKey(x)
	case "EC":
		want = ES256
		crv, err := str("crv", true)
		if err != nil {
			return nil, err
		}
		if crv != "P-256" {
			return nil, fmt.Errorf("token: JWK: unsupported EC curve %q", crv)
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
			return nil, errors.New("token: JWK: P-256 coordinates are not 32 bytes")
		}
		pt := append(append([]byte{4}, x...), y...)
		p, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
		if err != nil {
			return nil, errors.New("token: JWK: point not on P-256")
		}
		pub = p
	case "RSA":
		want = RS256
		n, err := bin("n")
		if err != nil {
			return nil, err
		}
		e, err := bin("e")
		if err != nil {
			return nil, err
		}
		if len(n) == 0 || n[0] == 0 || len(e) == 0 || e[0] == 0 || len(e) > 4 {
			return nil, errors.New("token: JWK: malformed RSA key")
		}
		ev := new(big.Int).SetBytes(e).Int64()
		nv := new(big.Int).SetBytes(n)
		if nv.Bit(0) == 0 {
			return nil, errors.New("token: JWK: RSA modulus is even")
		}
		pub = &rsa.PublicKey{N: nv, E: int(ev)}
	default:
		return nil, fmt.Errorf("token: JWK: unsupported kty %q", kty)
	}
	if alg == "" {
		alg = want
	}
	if alg != want {
		return nil, fmt.Errorf("token: JWK: alg %q does not fit kty %q", alg, kty)
	}
	if err := checkPublic(alg, pub); err != nil {
		return nil, err
	}
	k := &Key{KID: kid, Alg: alg, Public: pub}
	if k.KID == "" {
		if k.KID, err = k.Thumbprint(); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// JWKS returns the RFC 7517 key set {"keys":[...]} of the keys' public
// JWKs, in the given order.
func JWKS(keys []*Key) ([]byte, error) {
	set := struct {
		Keys []json.RawMessage `json:"keys"`
	}{Keys: make([]json.RawMessage, 0, len(keys))}
	for _, k := range keys {
		b, err := k.PublicJWK()
		if err != nil {
			return nil, err
		}
		set.Keys = append(set.Keys, b)
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("token: marshal JWKS: %w", err)
	}
	return b, nil
}
