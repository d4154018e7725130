package jws

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"math/big"
	"sync"
	"testing"
	"time"
)

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	testIssuer   = "https://auth.example.com"
	testAudience = "https://api.example.com"
)

// signer is a test key pair; the package itself never signs.
type signer struct {
	pub  *Key
	priv crypto.Signer
}

type fixture struct{ ed, ec, rs *signer }

var fixtures = sync.OnceValue(func() *fixture {
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	mk := func(alg string, priv crypto.Signer) *signer {
		k := &Key{Alg: alg, Public: priv.Public()}
		kid, err := k.Thumbprint()
		if err != nil {
			panic(err)
		}
		k.KID = kid
		return &signer{pub: k, priv: priv}
	}
	return &fixture{ed: mk(EdDSA, ed), ec: mk(ES256, ec), rs: mk(RS256, rs)}
})

// sign signs input as JWS does for s's algorithm; ES256 signatures are
// low-S, as latch makes them.
func (s *signer) sign(t testing.TB, input []byte) []byte {
	t.Helper()
	switch s.pub.Alg {
	case EdDSA:
		return ed25519.Sign(s.priv.(ed25519.PrivateKey), input)
	case ES256:
		h := sha256.Sum256(input)
		r, sv, err := ecdsa.Sign(rand.Reader, s.priv.(*ecdsa.PrivateKey), h[:])
		if err != nil {
			t.Fatal(err)
		}
		if sv.Cmp(p256HalfN) > 0 {
			sv = new(big.Int).Sub(p256N, sv)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		sv.FillBytes(out[32:])
		return out
	case RS256:
		h := sha256.Sum256(input)
		sig, err := rsa.SignPKCS1v15(rand.Reader, s.priv.(*rsa.PrivateKey), crypto.SHA256, h[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	t.Fatalf("unknown alg %s", s.pub.Alg)
	return nil
}

// forge builds a compact JWS from raw header and payload JSON, signed by s
// whatever the header says.
func (s *signer) forge(t testing.TB, hdr, payload string) string {
	t.Helper()
	input := b64.EncodeToString([]byte(hdr)) + "." + b64.EncodeToString([]byte(payload))
	return input + "." + b64.EncodeToString(s.sign(t, []byte(input)))
}

func (s *signer) header() string {
	return `{"alg":"` + s.pub.Alg + `","kid":"` + s.pub.KID + `","typ":"at+jwt"}`
}

func validPayload() map[string]any {
	return map[string]any{
		"iss": testIssuer, "sub": "user-1", "aud": testAudience,
		"exp": testNow.Add(15 * time.Minute).Unix(), "iat": testNow.Unix(), "nbf": testNow.Unix(),
		"jti": "jti-1", "sid": "sess-1", "roles": []string{"user"},
		"email": "a@example.com", "email_verified": true,
	}
}

func payload(t testing.TB, edit func(map[string]any)) string {
	t.Helper()
	p := validPayload()
	if edit != nil {
		edit(p)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// keyFor looks keys up among the fixtures.
func keyFor(kid string) (*Key, error) {
	f := fixtures()
	for _, s := range []*signer{f.ed, f.ec, f.rs} {
		if s.pub.KID == kid {
			return s.pub, nil
		}
	}
	return nil, &Error{Reason: "unknown kid"}
}

func checks() *Checks {
	return &Checks{Issuer: testIssuer, Audience: testAudience, Now: testNow}
}
