package jws_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/latchauth/latch/jws"
)

// A public key as a JWKS publishes it. Without RequireKID, a key with no
// "kid" is named by its RFC 7638 thumbprint (this is RFC 8037's example
// key, whose thumbprint the RFC gives).
func ExampleParseJWK() {
	jwk := []byte(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`)
	k, err := jws.ParseJWK(jwk, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(k.Alg, k.KID)

	// A JWKS consumer insists on keys as latch publishes them.
	_, err = jws.ParseJWK(jwk, jws.RequireAll)
	fmt.Println(err)
	// Output:
	// EdDSA kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k
	// jws: JWK: missing "use"
}

// Verify checks a compact JWS access token against the key its kid names
// and the expected claims. A service would use verify.Verifier, which
// fetches the keys and calls Verify.
func ExampleVerify() {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)) // latch's signing key
	key := &jws.Key{KID: "k1", Alg: jws.EdDSA, Public: priv.Public()}
	tok := signEdDSA(priv, key.KID, `{"iss":"https://auth.example.com","sub":"user-1",`+
		`"aud":"https://auth.example.com","iat":1767225600,"exp":1767226500,"jti":"t1","roles":["admin"]}`)

	keyFor := func(kid string) (*jws.Key, error) {
		if kid != key.KID {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return key, nil
	}
	checks := &jws.Checks{
		Issuer:   "https://auth.example.com",
		Audience: "https://auth.example.com",
		Now:      time.Unix(1767225700, 0), // within the token's lifetime
	}
	c, err := jws.Verify(tok, keyFor, checks)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Subject, c.Roles, c.HasRole("admin"), c.ExpiresAt.UTC().Format(time.RFC3339))

	// The same token an hour later.
	checks.Now = checks.Now.Add(time.Hour)
	_, err = jws.Verify(tok, keyFor, checks)
	fmt.Println(err)
	// Output:
	// user-1 [admin] true 2026-01-01T00:15:00Z
	// jws: invalid token: expired at 2026-01-01T00:15:00Z
}

// signEdDSA signs claims as latch's server does (internal/token.Sign):
// the header names the key and the RFC 9068 type.
func signEdDSA(priv ed25519.PrivateKey, kid, claims string) string {
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString([]byte(`{"alg":"EdDSA","kid":"`+kid+`","typ":"at+jwt"}`)) +
		"." + enc.EncodeToString([]byte(claims))
	return signed + "." + enc.EncodeToString(ed25519.Sign(priv, []byte(signed)))
}
