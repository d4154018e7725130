package token

import (
	"encoding/json"
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

type fixture struct {
	ed, ec, rs *Key
	byKID      map[string]*Key
}

// fixtures generates one key per algorithm once for the whole test binary
// (RSA generation is slow).
var fixtures = sync.OnceValue(func() *fixture {
	f := &fixture{byKID: map[string]*Key{}}
	for _, p := range []struct {
		dst **Key
		alg string
	}{{&f.ed, EdDSA}, {&f.ec, ES256}, {&f.rs, RS256}} {
		k, err := GenerateKey(p.alg)
		if err != nil {
			panic(err)
		}
		*p.dst = k
		f.byKID[k.KID] = k
	}
	return f
})

// public returns k without its private part, as a verifier holds it.
func public(k *Key) *Key {
	return &Key{KID: k.KID, Alg: k.Alg, Public: k.Public}
}

// verifier returns an IssuerVerifier that knows keys (public parts only).
func verifier(keys ...*Key) *IssuerVerifier {
	m := map[string]*Key{}
	for _, k := range keys {
		m[k.KID] = public(k)
	}
	return &IssuerVerifier{
		Keys:     func(kid string) (*Key, bool) { k, ok := m[kid]; return k, ok },
		Issuer:   testIssuer,
		Audience: testAudience,
		Now:      func() time.Time { return testNow },
	}
}

// validClaims returns claims that verifier accepts at testNow.
func validClaims() *Claims {
	return &Claims{
		Issuer:        testIssuer,
		Subject:       "user-1",
		Audience:      []string{testAudience},
		ExpiresAt:     testNow.Add(15 * time.Minute),
		IssuedAt:      testNow,
		NotBefore:     testNow,
		ID:            "jti-1",
		SessionID:     "sess-1",
		Roles:         []string{"user"},
		Email:         "a@example.com",
		EmailVerified: true,
	}
}

// validPayload returns the JSON payload of validClaims as a map, for tests
// that edit it before forging.
func validPayload() map[string]any {
	return map[string]any{
		"iss": testIssuer, "sub": "user-1", "aud": testAudience,
		"exp": testNow.Add(15 * time.Minute).Unix(), "iat": testNow.Unix(), "nbf": testNow.Unix(),
		"jti": "jti-1", "sid": "sess-1", "roles": []string{"user"},
		"email": "a@example.com", "email_verified": true,
	}
}

func header(k *Key) map[string]any {
	return map[string]any{"alg": k.Alg, "kid": k.KID, "typ": "at+jwt"}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// forge builds a compact JWS from raw header and payload JSON, signed with
// k's private key under k.Alg (whatever the header says).
func forge(t testing.TB, k *Key, hdr, payload string) string {
	t.Helper()
	input := b64.EncodeToString([]byte(hdr)) + "." + b64.EncodeToString([]byte(payload))
	sig, err := signRaw(k, []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64.EncodeToString(sig)
}

// signed signs validClaims with k after edit, failing the test on error.
func signed(t testing.TB, k *Key, edit func(*Claims)) string {
	t.Helper()
	c := validClaims()
	if edit != nil {
		edit(c)
	}
	tok, err := Sign(k, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
