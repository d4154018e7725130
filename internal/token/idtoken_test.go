package token

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSignJWTVerifyJWT(t *testing.T) {
	for _, alg := range []string{EdDSA, ES256, RS256} {
		k, err := GenerateKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		keys := func(kid string) (*Key, bool) { return k, kid == k.KID }
		tok, err := SignJWT(k, map[string]any{"sub": "u1", "aud": "c1"})
		if err != nil {
			t.Fatal(err)
		}
		payload, err := VerifyJWT(tok, keys)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		var cl map[string]any
		if json.Unmarshal(payload, &cl) != nil || cl["sub"] != "u1" {
			t.Fatalf("%s: payload %s", alg, payload)
		}
		parts := strings.Split(tok, ".")
		forged := parts[0] + "." + b64.EncodeToString([]byte(`{"sub":"admin","aud":"c1"}`)) + "." + parts[2]
		if _, err := VerifyJWT(forged, keys); err == nil {
			t.Fatalf("%s: a forged payload verified", alg)
		}
		// An access token (typ at+jwt) is not an ID token.
		at, err := Sign(k, &Claims{Issuer: "i", Subject: "s", Audience: []string{"a"}, ID: "j", ExpiresAt: testNow.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyJWT(at, keys); err == nil {
			t.Fatalf("%s: an access token verified as an ID token", alg)
		}
	}
}

// FuzzVerifyJWT: an id_token_hint is untrusted input; nothing but a token
// this key signed verifies, and nothing panics.
func FuzzVerifyJWT(f *testing.F) {
	k, err := GenerateKey(EdDSA)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := SignJWT(k, map[string]string{"sub": "u"})
	f.Add(good)
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.e30.")
	f.Add(strings.Repeat(".", 3000))
	keys := func(kid string) (*Key, bool) { return k, kid == k.KID }
	f.Fuzz(func(t *testing.T, tok string) {
		payload, err := VerifyJWT(tok, keys)
		if err == nil && tok != good {
			// A different string may only verify if it is the same JWS
			// (base64url has one encoding per value under strict decoding).
			t.Fatalf("verified %q (payload %s)", tok, payload)
		}
	})
}
