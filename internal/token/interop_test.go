package token

import (
	"crypto"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// TestInteropGolangJWT checks that a standard library verifies what Sign
// produces, with the public key and the algorithm pinned.
func TestInteropGolangJWT(t *testing.T) {
	f := fixtures()
	for _, k := range []*Key{f.ed, f.ec, f.rs} {
		t.Run(k.Alg, func(t *testing.T) {
			tok := signed(t, k, func(c *Claims) { c.Audience = []string{"other", testAudience} })
			var got jwt.MapClaims
			parsed, err := jwt.ParseWithClaims(tok, &got, func(tk *jwt.Token) (any, error) {
				if kid, _ := tk.Header["kid"].(string); kid != k.KID {
					t.Errorf("kid = %q, want %q", kid, k.KID)
				}
				if typ, _ := tk.Header["typ"].(string); typ != "at+jwt" {
					t.Errorf("typ = %q, want at+jwt", typ)
				}
				return k.Public, nil
			},
				jwt.WithValidMethods([]string{k.Alg}),
				jwt.WithIssuer(testIssuer),
				jwt.WithAudience(testAudience),
				jwt.WithExpirationRequired(),
				jwt.WithIssuedAt(),
				jwt.WithTimeFunc(func() time.Time { return testNow }),
			)
			if err != nil {
				t.Fatalf("jwt.Parse: %v", err)
			}
			if !parsed.Valid {
				t.Fatal("jwt.Parse: token not valid")
			}
			if sub, _ := got.GetSubject(); sub != "user-1" {
				t.Errorf("sub = %q, want user-1", sub)
			}
			if jti, _ := got["jti"].(string); jti != "jti-1" {
				t.Errorf("jti = %q, want jti-1", jti)
			}
		})
	}
}

// TestInteropGoJOSE checks the JWKS and thumbprint KIDs with go-jose and
// has it verify a token signed by Sign.
func TestInteropGoJOSE(t *testing.T) {
	f := fixtures()
	keys := []*Key{f.ed, f.ec, f.rs}
	set, err := JWKS(keys)
	if err != nil {
		t.Fatal(err)
	}
	var jset jose.JSONWebKeySet
	if err := json.Unmarshal(set, &jset); err != nil {
		t.Fatalf("go-jose cannot parse the JWKS: %v\n%s", err, set)
	}
	if len(jset.Keys) != len(keys) {
		t.Fatalf("JWKS has %d keys, want %d", len(jset.Keys), len(keys))
	}
	for i, k := range keys {
		jk := jset.Keys[i]
		t.Run(k.Alg, func(t *testing.T) {
			if jk.KeyID != k.KID || jk.Algorithm != k.Alg || jk.Use != "sig" {
				t.Errorf("kid, alg, use = %q, %q, %q; want %q, %q, sig", jk.KeyID, jk.Algorithm, jk.Use, k.KID, k.Alg)
			}
			if !jk.IsPublic() || !jk.Valid() {
				t.Errorf("go-jose: public = %v, valid = %v; want both", jk.IsPublic(), jk.Valid())
			}
			tp, err := jk.Thumbprint(crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if got := b64.EncodeToString(tp); got != k.KID {
				t.Errorf("go-jose thumbprint = %s, kid = %s", got, k.KID)
			}
			tok := signed(t, k, nil)
			jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(k.Alg)})
			if err != nil {
				t.Fatalf("go-jose ParseSignedCompact: %v", err)
			}
			if _, err := jws.Verify(jk); err != nil {
				t.Errorf("go-jose Verify: %v", err)
			}
			// And the reverse: our parser reads go-jose's encoding of the key.
			b, err := json.Marshal(jk)
			if err != nil {
				t.Fatal(err)
			}
			back, err := parsePublicJWK(b)
			if err != nil {
				t.Fatalf("parsePublicJWK(go-jose JWK %s): %v", b, err)
			}
			if _, err := verifier(back).Verify(tok); err != nil {
				t.Errorf("Verify with the key parsed from go-jose's JWK: %v", err)
			}
		})
	}
}
