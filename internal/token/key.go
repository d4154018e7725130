// Package token issues and verifies latch's access tokens (compact JWS
// JWTs, RFC 9068 profile), manages signing keys and their JWK/JWKS form,
// seals data at rest with the server secret, and generates and hashes the
// opaque refresh, reset and confirmation tokens.
//
// Verification is deliberately strict (RFC 8725): the algorithm is pinned
// by the key that the token's kid names, the compact serialization is
// parsed by hand with canonical base64url and duplicate-free JSON, and
// claims are looked at only after the signature verified. The strict
// parsing, public keys and JWKs, and verification itself are
// github.com/latchauth/latch/jws, shared with the verify package; this
// package adds private keys, signing, sealing and opaque tokens.
//
// Three things verify tokens; which one to use:
//
//   - jws.Verify is the rule itself: one function that checks a compact
//     token given a key lookup and the expected claims. Both verifiers
//     below call it; nothing else should.
//   - IssuerVerifier (this package) is the issuer checking its own
//     tokens: latch's server, with its key ring in memory, answering
//     api.md's error codes.
//   - verify.Verifier is for every other service (a resource server): it
//     fetches latch's JWKS over HTTP, caches the keys, follows the
//     revocation feed and comes with net/http middleware.
package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/latchauth/latch/jws"
)

// Supported signature algorithms (RFC 7518, RFC 8037).
const (
	EdDSA = jws.EdDSA
	ES256 = jws.ES256
	RS256 = jws.RS256
)

// rsaGenBits is the size of the RSA keys GenerateKey makes.
const rsaGenBits = 2048

// Key is one signing key. Private is nil for a public-only key.
type Key struct {
	KID     string
	Alg     string // "EdDSA" (default), "ES256", "RS256"
	Private crypto.Signer
	Public  crypto.PublicKey

	// checkedAlg is the Alg that Private was checked against when the
	// Key was made (GenerateKey, ParsePrivate). Sign skips the check
	// for it: checking an Ed25519 point costs about a third of a
	// signature. A Key literal, or one whose Alg changed since, is
	// checked on every Sign.
	checkedAlg string
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
	k := &Key{KID: kid, Alg: alg, Private: priv, Public: pub, checkedAlg: alg}
	if k.KID == "" {
		tp, err := k.Thumbprint()
		if err != nil {
			return nil, err
		}
		k.KID = tp
	}
	return k, nil
}

// checkPublic reports whether pub is a usable public key for alg (see
// jws.CheckKey).
func checkPublic(alg string, pub crypto.PublicKey) error {
	if err := jws.CheckKey(alg, pub); err != nil {
		return fmt.Errorf("token: %w", err)
	}
	return nil
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

// public returns the public part of k as the JOSE core holds keys.
func (k *Key) public() *jws.Key {
	return &jws.Key{KID: k.KID, Alg: k.Alg, Public: k.Public}
}

// Thumbprint returns the RFC 7638 JWK thumbprint of the public key:
// base64url (no padding) of the SHA-256 of its required members in
// lexicographic order.
func (k *Key) Thumbprint() (string, error) {
	tp, err := k.public().Thumbprint()
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	return tp, nil
}

// PublicJWK returns the public key as a JSON JWK with kty, crv/x(/y) or
// n/e, kid, alg and use "sig".
func (k *Key) PublicJWK() ([]byte, error) {
	b, err := k.public().JWK()
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	return b, nil
}

// JWKS returns the RFC 7517 key set {"keys":[...]} of the keys' public
// JWKs, in the given order.
func JWKS(keys []*Key) ([]byte, error) {
	pub := make([]*jws.Key, len(keys))
	for i, k := range keys {
		pub[i] = k.public()
	}
	b, err := jws.JWKS(pub)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	return b, nil
}
