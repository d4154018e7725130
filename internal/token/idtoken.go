package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/latchauth/latch/jws"
)

// ID tokens (OpenID Connect Core §2) are signed with the same keys as
// access tokens but carry typ "JWT", so that an ID token is never
// accepted where an access token is expected (access tokens must be
// at+jwt, RFC 9068).

// TypeJWT is the typ header of ID tokens.
const TypeJWT = "JWT"

// SignJWT signs payload (marshalled as JSON) with k, under the header
// {"alg":k.Alg,"kid":k.KID,"typ":"JWT"}.
func SignJWT(k *Key, payload any) (string, error) {
	if k == nil || k.Private == nil || k.KID == "" {
		return "", errors.New("token: sign: no private key")
	}
	if k.checkedAlg == "" || k.checkedAlg != k.Alg {
		if err := checkPublic(k.Alg, k.Private.Public()); err != nil {
			return "", err
		}
	}
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{k.Alg, k.KID, TypeJWT})
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(body)
	sig, err := signRaw(k, []byte(input))
	if err != nil {
		return "", err
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// maxIDTokenHint bounds an id_token_hint before any decoding.
const maxIDTokenHint = 8 << 10

// VerifyJWT checks that tok is a compact JWS with typ JWT signed by the
// key its kid names (with that key's algorithm) and returns its payload.
// It checks no claim: the caller decides what matters (an expired ID
// token is still a fine logout hint).
func VerifyJWT(tok string, keys func(kid string) (*Key, bool)) ([]byte, error) {
	if len(tok) > maxIDTokenHint {
		return nil, invalid("too long")
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, invalid("not a compact JWS")
	}
	hb, err := jws.DecodeSegment(parts[0])
	if err != nil {
		return nil, invalid("header: %v", err)
	}
	var h struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}
	if err := json.Unmarshal(hb, &h); err != nil || h.Kid == "" || !strings.EqualFold(h.Typ, TypeJWT) {
		return nil, invalid("header")
	}
	k, ok := keys(h.Kid)
	if !ok || k == nil || k.Alg != h.Alg {
		return nil, invalid("unknown kid or wrong alg")
	}
	sig, err := jws.DecodeSegment(parts[2])
	if err != nil {
		return nil, invalid("signature: %v", err)
	}
	pub := k.Public
	if pub == nil && k.Private != nil {
		pub = k.Private.Public()
	}
	input := []byte(parts[0] + "." + parts[1])
	if !verifyRaw(k.Alg, pub, input, sig) {
		return nil, invalid("bad signature")
	}
	payload, err := jws.DecodeSegment(parts[1])
	if err != nil {
		return nil, invalid("payload: %v", err)
	}
	return payload, nil
}

func verifyRaw(alg string, pub any, input, sig []byte) bool {
	switch alg {
	case EdDSA:
		p, ok := pub.(ed25519.PublicKey)
		return ok && ed25519.Verify(p, input, sig)
	case ES256:
		p, ok := pub.(*ecdsa.PublicKey)
		if !ok || len(sig) != 64 {
			return false
		}
		h := sha256.Sum256(input)
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(p, h[:], r, s)
	case RS256:
		p, ok := pub.(*rsa.PublicKey)
		if !ok {
			return false
		}
		h := sha256.Sum256(input)
		return rsa.VerifyPKCS1v15(p, crypto.SHA256, h[:], sig) == nil
	}
	return false
}
