package token

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	f := fixtures()
	for _, k := range []*Key{f.ed, f.ec, f.rs} {
		for _, aud := range [][]string{{testAudience}, {"other", testAudience}} {
			t.Run(k.Alg+"/"+strings.Join(aud, ","), func(t *testing.T) {
				want := validClaims()
				want.Audience = aud
				tok, err := Sign(k, want)
				if err != nil {
					t.Fatalf("Sign: %v", err)
				}
				got, err := verifier(k).Verify(tok)
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				// Times come back as whole seconds in the local zone.
				for _, p := range []*time.Time{&got.ExpiresAt, &got.IssuedAt, &got.NotBefore} {
					*p = p.UTC()
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("claims:\n got %+v\nwant %+v", got, want)
				}
			})
		}
	}
}

func TestSignEncoding(t *testing.T) {
	k := fixtures().ed
	tests := []struct {
		name string
		edit func(*Claims)
		want string // substring of the payload JSON
	}{
		{"single aud is a string", nil, `"aud":"` + testAudience + `"`},
		{"two aud is an array", func(c *Claims) { c.Audience = []string{"a", "b"} }, `"aud":["a","b"]`},
		{"nil roles is an empty array", func(c *Claims) { c.Roles = nil }, `"roles":[]`},
		{"numeric dates in seconds", func(c *Claims) { c.ExpiresAt = time.Unix(1700000000, 999_000_000) }, `"exp":1700000000,`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := signed(t, k, tt.edit)
			parts := strings.Split(tok, ".")
			h, _ := b64.DecodeString(parts[0])
			if got, want := string(h), `{"alg":"EdDSA","kid":"`+k.KID+`","typ":"at+jwt"}`; got != want {
				t.Errorf("header = %s, want %s", got, want)
			}
			p, _ := b64.DecodeString(parts[1])
			if !strings.Contains(string(p), tt.want) {
				t.Errorf("payload = %s, want it to contain %s", p, tt.want)
			}
		})
	}
}

func TestSignRefuses(t *testing.T) {
	f := fixtures()
	tests := []struct {
		name string
		key  *Key
		edit func(*Claims)
	}{
		{"public-only key", public(f.ed), nil},
		{"alg does not fit key", &Key{KID: "x", Alg: RS256, Private: f.ed.Private, Public: f.ed.Public}, nil},
		{"empty alg", &Key{KID: "x", Private: f.ed.Private, Public: f.ed.Public}, nil},
		// A generated key is checked once, for the Alg it was made for.
		{"alg changed after the key was made", func() *Key { k := *f.ed; k.Alg = RS256; return &k }(), nil},
		{"no kid", &Key{Alg: EdDSA, Private: f.ed.Private, Public: f.ed.Public}, nil},
		{"no exp", f.ed, func(c *Claims) { c.ExpiresAt = time.Time{} }},
		{"no sub", f.ed, func(c *Claims) { c.Subject = "" }},
		{"no jti", f.ed, func(c *Claims) { c.ID = "" }},
		{"no iss", f.ed, func(c *Claims) { c.Issuer = "" }},
		{"no aud", f.ed, func(c *Claims) { c.Audience = nil }},
		{"empty aud", f.ed, func(c *Claims) { c.Audience = []string{""} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validClaims()
			if tt.edit != nil {
				tt.edit(c)
			}
			if tok, err := Sign(tt.key, c); err == nil {
				t.Errorf("Sign = %q, nil; want an error", tok)
			}
		})
	}
}

// TestECDSALowS checks that Sign only emits low-S signatures, so each
// ES256 token has a single valid form.
func TestECDSALowS(t *testing.T) {
	k := fixtures().ec
	for i := range 50 {
		tok := signed(t, k, func(c *Claims) { c.ID = string(rune('a' + i)) })
		sig, _ := b64.DecodeString(tok[strings.LastIndexByte(tok, '.')+1:])
		if s := new(big.Int).SetBytes(sig[32:]); s.Cmp(p256HalfN) > 0 {
			t.Fatalf("signature %d has high S", i)
		}
	}
}

// forgeSegs signs already encoded header and payload segments as they are.
func forgeSegs(t testing.TB, k *Key, h, p string) string {
	t.Helper()
	sig, err := signRaw(k, []byte(h+"."+p))
	if err != nil {
		t.Fatal(err)
	}
	return h + "." + p + "." + b64.EncodeToString(sig)
}

// spacePad appends JSON whitespace to s until len(s)%3 == rem, so that its
// base64 has unused trailing bits (rem 1 or 2) and padding.
func spacePad(s string, rem int) string {
	for len(s)%3 != rem {
		s += " "
	}
	return s
}

// nonCanonicalB64 encodes the JSON s (after trailing whitespace) with
// non-zero unused trailing bits, which lenient decoders accept.
func nonCanonicalB64(s string) string {
	s = spacePad(s, 1)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	e := b64.EncodeToString([]byte(s))
	last := strings.IndexByte(alphabet, e[len(e)-1])
	return e[:len(e)-1] + string(alphabet[last|1])
}

// mutateSig returns tok with its signature replaced by f(signature bytes).
func mutateSig(tok string, f func([]byte) []byte) string {
	i := strings.LastIndexByte(tok, '.')
	sig, err := b64.DecodeString(tok[i+1:])
	if err != nil {
		panic(err)
	}
	return tok[:i+1] + b64.EncodeToString(f(sig))
}

// derSig re-encodes a raw R||S signature as ASN.1 DER.
func derSig(raw []byte) []byte {
	enc := func(b []byte) []byte {
		b = new(big.Int).SetBytes(b).Bytes()
		if b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return append([]byte{2, byte(len(b))}, b...)
	}
	body := append(enc(raw[:32]), enc(raw[32:])...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

func TestVerifyAttacks(t *testing.T) {
	f := fixtures()
	ed, ec, rs := f.ed, f.ec, f.rs

	// An attacker's own keys.
	evilEd, err := GenerateKey(EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	evilRS, err := GenerateKey(RS256)
	if err != nil {
		t.Fatal(err)
	}
	// A 1024-bit RSA key a misconfigured key source might hand out.
	weakPriv, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weak := &Key{KID: "weak", Alg: RS256, Private: weakPriv, Public: &weakPriv.PublicKey}

	v := verifier(ed, ec, rs, weak)
	weakV := verifier(ed)
	weakV.Keys = func(kid string) (*Key, bool) {
		if kid == "weak" {
			return public(weak), true
		}
		return nil, false
	}
	// Variant verifiers.
	withLeeway := verifier(ed)
	withLeeway.Leeway = time.Minute
	small := verifier(ed)
	small.MaxSize = 100

	hdr := func(k *Key, edit func(map[string]any)) string {
		h := header(k)
		if edit != nil {
			edit(h)
		}
		return mustJSON(t, h)
	}
	pay := func(edit func(map[string]any)) string {
		p := validPayload()
		if edit != nil {
			edit(p)
		}
		return mustJSON(t, p)
	}
	valid := forge(t, ed, hdr(ed, nil), pay(nil))
	validPay := pay(nil)
	edPub := []byte(ed.Public.(ed25519.PublicKey))
	rsPEM := func() []byte {
		der, err := x509.MarshalPKIXPublicKey(rs.Public)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}()
	hs256 := func(kid string, secret []byte) string {
		input := b64.EncodeToString([]byte(`{"alg":"HS256","kid":"`+kid+`","typ":"at+jwt"}`)) + "." + b64.EncodeToString([]byte(validPay))
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(input))
		return input + "." + b64.EncodeToString(m.Sum(nil))
	}
	// A valid ES256 token and its signature parts.
	ecTok := forge(t, ec, hdr(ec, nil), validPay)
	ecSig := func(r, s *big.Int) string {
		return mutateSig(ecTok, func([]byte) []byte {
			out := make([]byte, 64)
			r.FillBytes(out[:32])
			s.FillBytes(out[32:])
			return out
		})
	}
	ecRS := func() (*big.Int, *big.Int) {
		sig, _ := b64.DecodeString(ecTok[strings.LastIndexByte(ecTok, '.')+1:])
		return new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	}
	r0, s0 := ecRS()
	n := p256N
	// A token whose base64url contains '-' or '_', to swap them for '+' '/'.
	var urlChars string
	for i := 0; urlChars == ""; i++ {
		tok := forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["jti"] = strings.Repeat("?", i%7) + string(rune('a'+i%26)) }))
		if strings.ContainsAny(tok, "-_") {
			urlChars = tok
		}
	}
	// The signature segment of valid with non-zero trailing bits: 64 bytes
	// encode to 86 characters whose last one carries 4 unused bits.
	nonCanonical := func() string {
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		last := strings.IndexByte(alphabet, valid[len(valid)-1])
		return valid[:len(valid)-1] + string(alphabet[last|1])
	}()
	if b, err := base64.RawURLEncoding.DecodeString(nonCanonical[strings.LastIndexByte(nonCanonical, '.')+1:]); err != nil || len(b) != 64 {
		t.Fatalf("non-canonical signature should decode leniently: %v", err)
	}
	rawSeg := func(s string) string { return b64.EncodeToString([]byte(s)) }
	badLen := rawSeg(validPay)
	for len(badLen)%4 != 1 {
		badLen += "A"
	}
	stdPay := base64.RawStdEncoding.EncodeToString([]byte(strings.Replace(validPay, "a@example.com", "a>>>??@example.com", 1)))
	if !strings.ContainsAny(stdPay, "+/") {
		t.Fatal("stdPay has no + or /")
	}
	withSeg := func(tok string, i int, seg string) string {
		p := strings.Split(tok, ".")
		p[i] = seg
		return strings.Join(p, ".")
	}

	tests := []struct {
		name string
		v    *IssuerVerifier // default v
		tok  string
		want error // nil, ErrInvalid or ErrExpired
	}{
		// Baselines: each must verify, so the refusals below are meaningful.
		{name: "valid EdDSA", tok: valid},
		{name: "valid ES256", tok: ecTok},
		{name: "valid RS256", tok: forge(t, rs, hdr(rs, nil), validPay)},
		{name: "valid typ upper case", tok: forge(t, ed, hdr(ed, func(h map[string]any) { h["typ"] = "AT+JWT" }), validPay)},
		{name: "valid typ application/at+jwt", tok: forge(t, ed, hdr(ed, func(h map[string]any) { h["typ"] = "application/at+jwt" }), validPay)},
		{name: "valid aud array", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["aud"] = []string{"x", testAudience} }))},
		{name: "valid whitespace in JSON", tok: forge(t, ed, " { \"alg\" : \"EdDSA\" ,\n\"kid\":\""+ed.KID+"\", \"typ\":\"at+jwt\" } ", strings.ReplaceAll(validPay, ",", " ,\t"))},
		{name: "valid unknown claim ignored", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["ext"] = map[string]any{"a": []any{1, "b"}} }))},
		{name: "valid expired within leeway", v: withLeeway, tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["exp"] = testNow.Add(-30 * time.Second).Unix() }))},
		{name: "valid nbf within leeway", v: withLeeway, tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["nbf"] = testNow.Add(30 * time.Second).Unix() }))},

		// Algorithm confusion.
		{name: "alg none, empty signature", tok: rawSeg(`{"alg":"none","kid":"`+ed.KID+`","typ":"at+jwt"}`) + "." + rawSeg(validPay) + ".", want: ErrInvalid},
		{name: "alg none, signature kept", tok: withSeg(valid, 0, rawSeg(`{"alg":"none","kid":"`+ed.KID+`","typ":"at+jwt"}`)), want: ErrInvalid},
		{name: "alg None", tok: forge(t, ed, hdr(ed, func(h map[string]any) { h["alg"] = "None" }), validPay), want: ErrInvalid},
		{name: "alg missing", tok: forge(t, ed, hdr(ed, func(h map[string]any) { delete(h, "alg") }), validPay), want: ErrInvalid},
		{name: "alg not a string", tok: forge(t, ed, hdr(ed, func(h map[string]any) { h["alg"] = []string{"EdDSA"} }), validPay), want: ErrInvalid},
		{name: "alg lower case eddsa", tok: forge(t, ed, hdr(ed, func(h map[string]any) { h["alg"] = "eddsa" }), validPay), want: ErrInvalid},
		{name: "HS256 with EdDSA public key as secret", tok: hs256(ed.KID, edPub), want: ErrInvalid},
		{name: "HS256 with RSA public PEM as secret", tok: hs256(rs.KID, rsPEM), want: ErrInvalid},
		{name: "HS256 with base64 EdDSA key as secret", tok: hs256(ed.KID, []byte(b64.EncodeToString(edPub))), want: ErrInvalid},
		{name: "RS256 on an EdDSA kid", tok: forge(t, evilRS, hdr(ed, func(h map[string]any) { h["alg"] = RS256 }), validPay), want: ErrInvalid},
		{name: "RS256 on an EdDSA kid signed by the RSA key", tok: forge(t, rs, hdr(ed, func(h map[string]any) { h["alg"] = RS256 }), validPay), want: ErrInvalid},
		{name: "ES256 on an RS256 kid", tok: forge(t, ec, hdr(rs, func(h map[string]any) { h["alg"] = ES256 }), validPay), want: ErrInvalid},
		{name: "RS256 with a 1024-bit key", v: weakV, tok: forge(t, weak, hdr(weak, nil), validPay), want: ErrInvalid},

		// Key selection.
		{name: "unknown kid", tok: forge(t, evilEd, hdr(evilEd, nil), validPay), want: ErrInvalid},
		{name: "known kid, other key's signature", tok: forge(t, evilEd, hdr(ed, nil), validPay), want: ErrInvalid},
		{name: "missing kid", tok: forge(t, ed, hdr(ed, func(h map[string]any) { delete(h, "kid") }), validPay), want: ErrInvalid},
		{name: "empty kid", tok: forge(t, ed, hdr(ed, func(h map[string]any) { h["kid"] = "" }), validPay), want: ErrInvalid},
		{name: "kid not a string", tok: forge(t, ed, hdr(ed, func(h map[string]any) { h["kid"] = 1 }), validPay), want: ErrInvalid},

		// Header parameters never honoured.
		{name: "crit", tok: forge(t, ed, hdr(ed, func(h map[string]any) { h["crit"] = []string{"exp"}; h["exp"] = 1 }), validPay), want: ErrInvalid},
		{name: "jku", tok: forge(t, evilEd, hdr(ed, func(h map[string]any) { h["jku"] = "https://evil.example/jwks.json" }), validPay), want: ErrInvalid},
		{name: "jku with the real key's signature", tok: forge(t, ed, hdr(ed, func(h map[string]any) { h["jku"] = "https://evil.example/jwks.json" }), validPay), want: ErrInvalid},
		{name: "x5u", tok: forge(t, ed, hdr(ed, func(h map[string]any) { h["x5u"] = "https://evil.example/cert.pem" }), validPay), want: ErrInvalid},
		{name: "embedded jwk of the attacker", tok: forge(t, evilEd, hdr(ed, func(h map[string]any) {
			h["jwk"] = map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(evilEd.Public.(ed25519.PublicKey))}
		}), validPay), want: ErrInvalid},
		{name: "embedded jwk, real signature", tok: forge(t, ed, hdr(ed, func(h map[string]any) { h["jwk"] = map[string]any{"kty": "OKP"} }), validPay), want: ErrInvalid},
		{name: "x5c", tok: forge(t, ed, hdr(ed, func(h map[string]any) { h["x5c"] = []string{"MIIB"} }), validPay), want: ErrInvalid},
		{name: "x5t", tok: forge(t, ed, hdr(ed, func(h map[string]any) { h["x5t"] = "abc" }), validPay), want: ErrInvalid},
		{name: "x5t#S256", tok: forge(t, ed, hdr(ed, func(h map[string]any) { h["x5t#S256"] = "abc" }), validPay), want: ErrInvalid},
		{name: "b64 false", tok: forge(t, ed, hdr(ed, func(h map[string]any) { h["b64"] = false; h["crit"] = []string{"b64"} }), validPay), want: ErrInvalid},
		{name: "b64 alone", tok: forge(t, ed, hdr(ed, func(h map[string]any) { h["b64"] = true }), validPay), want: ErrInvalid},
		{name: "cty JWT (nested)", tok: forge(t, ed, hdr(ed, func(h map[string]any) { h["cty"] = "JWT" }), validPay), want: ErrInvalid},

		// typ.
		{name: "typ missing", tok: forge(t, ed, hdr(ed, func(h map[string]any) { delete(h, "typ") }), validPay), want: ErrInvalid},
		{name: "typ JWT", tok: forge(t, ed, hdr(ed, func(h map[string]any) { h["typ"] = "JWT" }), validPay), want: ErrInvalid},
		{name: "typ not a string", tok: forge(t, ed, hdr(ed, func(h map[string]any) { h["typ"] = 1 }), validPay), want: ErrInvalid},
		{name: "typ null", tok: forge(t, ed, `{"alg":"EdDSA","kid":"`+ed.KID+`","typ":null}`, validPay), want: ErrInvalid},

		// Duplicate members.
		{name: "duplicate alg in header", tok: forge(t, ed, `{"alg":"none","alg":"EdDSA","kid":"`+ed.KID+`","typ":"at+jwt"}`, validPay), want: ErrInvalid},
		{name: "duplicate kid in header", tok: forge(t, ed, `{"alg":"EdDSA","kid":"`+ed.KID+`","kid":"`+ed.KID+`","typ":"at+jwt"}`, validPay), want: ErrInvalid},
		{name: "duplicate sub in payload", tok: forge(t, ed, hdr(ed, nil), strings.Replace(validPay, `"sub":"user-1"`, `"sub":"user-1","sub":"admin"`, 1)), want: ErrInvalid},
		{name: "duplicate sub, escaped spelling", tok: forge(t, ed, hdr(ed, nil), strings.Replace(validPay, `"sub":"user-1"`, `"sub":"user-1","s\u0075b":"admin"`, 1)), want: ErrInvalid},
		{name: "duplicate roles in payload", tok: forge(t, ed, hdr(ed, nil), strings.Replace(validPay, `"roles":["user"]`, `"roles":["user"],"roles":["admin"]`, 1)), want: ErrInvalid},
		{name: "duplicate inside nested object", tok: forge(t, ed, hdr(ed, nil), strings.Replace(validPay, `{`, `{"ext":[{"a":1,"a":2}],`, 1)), want: ErrInvalid},
		{name: "nesting too deep", tok: forge(t, ed, hdr(ed, nil), strings.Replace(validPay, `{`, `{"ext":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`,`, 1)), want: ErrInvalid},

		// Base64url.
		{name: "padded signature", tok: valid + "==", want: ErrInvalid},
		{name: "padded header", tok: withSeg(valid, 0, base64.URLEncoding.EncodeToString([]byte(hdr(ed, nil)))+"="), want: ErrInvalid},
		{name: "standard alphabet + and /", tok: strings.NewReplacer("-", "+", "_", "/").Replace(urlChars), want: ErrInvalid},
		{name: "non-canonical trailing bits", tok: nonCanonical, want: ErrInvalid},
		{name: "newline inside signature", tok: valid[:len(valid)-10] + "\n" + valid[len(valid)-10:], want: ErrInvalid},
		{name: "CR inside payload", tok: strings.Replace(valid, ".", ".\r", 1), want: ErrInvalid},
		{name: "space after token", tok: valid + " ", want: ErrInvalid},
		{name: "invalid base64 length", tok: withSeg(valid, 1, "A"), want: ErrInvalid},
		// The same defects in a segment that the signature covers as is.
		{name: "signed padded payload", tok: forgeSegs(t, ed, rawSeg(hdr(ed, nil)), base64.URLEncoding.EncodeToString([]byte(spacePad(validPay, 1)))), want: ErrInvalid},
		{name: "signed CR inside payload", tok: forgeSegs(t, ed, rawSeg(hdr(ed, nil)), "\r"+rawSeg(validPay)), want: ErrInvalid},
		{name: "signed standard alphabet payload", tok: forgeSegs(t, ed, rawSeg(hdr(ed, nil)), stdPay), want: ErrInvalid},
		{name: "signed non-canonical payload", tok: forgeSegs(t, ed, rawSeg(hdr(ed, nil)), nonCanonicalB64(validPay)), want: ErrInvalid},
		{name: "signed invalid base64 length payload", tok: forgeSegs(t, ed, rawSeg(hdr(ed, nil)), badLen), want: ErrInvalid},
		{name: "signed canonical payload (control)", tok: forgeSegs(t, ed, rawSeg(hdr(ed, nil)), rawSeg(validPay+"  "))},

		// Structure.
		{name: "4 segments", tok: valid + ".e30", want: ErrInvalid},
		{name: "4 segments, empty last", tok: valid + ".", want: ErrInvalid},
		{name: "2 segments", tok: valid[:strings.LastIndexByte(valid, '.')], want: ErrInvalid},
		{name: "empty signature", tok: valid[:strings.LastIndexByte(valid, '.')+1], want: ErrInvalid},
		{name: "empty payload", tok: withSeg(valid, 1, ""), want: ErrInvalid},
		{name: "empty string", tok: "", want: ErrInvalid},
		{name: "JWE-like 5 segments", tok: "e30.e30.e30.e30.e30", want: ErrInvalid},
		{name: "oversized token", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["pad"] = strings.Repeat("x", 8192) })), want: ErrInvalid},
		{name: "over custom MaxSize", v: small, tok: valid, want: ErrInvalid},
		{name: "header not an object", tok: forge(t, ed, `["EdDSA"]`, validPay), want: ErrInvalid},
		{name: "header trailing garbage", tok: forge(t, ed, hdr(ed, nil)+"x", validPay), want: ErrInvalid},
		{name: "payload not an object (array)", tok: forge(t, ed, hdr(ed, nil), `[`+validPay+`]`), want: ErrInvalid},
		{name: "payload not an object (string)", tok: forge(t, ed, hdr(ed, nil), `"x"`), want: ErrInvalid},
		{name: "payload null", tok: forge(t, ed, hdr(ed, nil), `null`), want: ErrInvalid},
		{name: "payload trailing garbage", tok: forge(t, ed, hdr(ed, nil), validPay+"garbage"), want: ErrInvalid},
		{name: "payload two objects", tok: forge(t, ed, hdr(ed, nil), validPay+validPay), want: ErrInvalid},
		{name: "payload truncated JSON", tok: forge(t, ed, hdr(ed, nil), validPay[:len(validPay)-1]), want: ErrInvalid},
		{name: "payload invalid UTF-8", tok: forge(t, ed, hdr(ed, nil), strings.Replace(validPay, "user-1", "user-\xff", 1)), want: ErrInvalid},

		// Signature.
		{name: "signature of other payload", tok: withSeg(valid, 1, rawSeg(pay(func(p map[string]any) { p["sub"] = "admin" }))), want: ErrInvalid},
		{name: "signature truncated", tok: mutateSig(valid, func(s []byte) []byte { return s[:63] }), want: ErrInvalid},
		{name: "signature bit flipped", tok: mutateSig(valid, func(s []byte) []byte { s[10] ^= 1; return s }), want: ErrInvalid},
		{name: "ES256 r=0", tok: ecSig(big.NewInt(0), s0), want: ErrInvalid},
		{name: "ES256 s=0", tok: ecSig(r0, big.NewInt(0)), want: ErrInvalid},
		{name: "ES256 r=N", tok: ecSig(n, s0), want: ErrInvalid},
		{name: "ES256 s=N", tok: ecSig(r0, n), want: ErrInvalid},
		{name: "ES256 s>N", tok: ecSig(r0, new(big.Int).Add(n, big.NewInt(1))), want: ErrInvalid},
		{name: "ES256 high-S twin", tok: ecSig(r0, new(big.Int).Sub(n, s0)), want: ErrInvalid},
		{name: "ES256 DER-encoded", tok: mutateSig(ecTok, derSig), want: ErrInvalid},
		{name: "ES256 65 bytes", tok: mutateSig(ecTok, func(s []byte) []byte { return append([]byte{0}, s...) }), want: ErrInvalid},
		{name: "RS256 signature one byte short", tok: mutateSig(forge(t, rs, hdr(rs, nil), validPay), func(s []byte) []byte { return s[1:] }), want: ErrInvalid},

		// Time claims.
		{name: "expired", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["exp"] = testNow.Add(-time.Second).Unix() })), want: ErrExpired},
		{name: "expires exactly now", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["exp"] = testNow.Unix() })), want: ErrExpired},
		{name: "expired beyond leeway", v: withLeeway, tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["exp"] = testNow.Add(-2 * time.Minute).Unix() })), want: ErrExpired},
		{name: "expired with bad signature", tok: mutateSig(forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["exp"] = 1 })), func(s []byte) []byte { s[0] ^= 1; return s }), want: ErrInvalid},
		{name: "expired with unknown kid", tok: forge(t, evilEd, hdr(evilEd, nil), pay(func(p map[string]any) { p["exp"] = 1 })), want: ErrInvalid},
		{name: "exp missing", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { delete(p, "exp") })), want: ErrInvalid},
		{name: "exp a string", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["exp"] = "9999999999" })), want: ErrInvalid},
		{name: "exp fractional", tok: forge(t, ed, hdr(ed, nil), strings.Replace(validPay, `"exp":`, `"exp":1.5e10,"x":`, 1)), want: ErrInvalid},
		{name: "exp overflows int64", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["exp"] = json99() })), want: ErrInvalid},
		{name: "exp past year 9999", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["exp"] = int64(253402300800) })), want: ErrInvalid},
		{name: "nbf at the int64 limit (wraps in time.Unix)", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["nbf"] = int64(9223372036854775807) })), want: ErrInvalid},
		{name: "iat at the int64 limit (wraps in time.Unix)", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["iat"] = int64(9223372036854775807) })), want: ErrInvalid},
		{name: "nbf negative", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["nbf"] = -1 })), want: ErrInvalid},
		{name: "exp null", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["exp"] = nil })), want: ErrInvalid},
		{name: "nbf in the future", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["nbf"] = testNow.Add(time.Second).Unix() })), want: ErrInvalid},
		{name: "nbf beyond leeway", v: withLeeway, tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["nbf"] = testNow.Add(2 * time.Minute).Unix() })), want: ErrInvalid},
		{name: "iat in the future", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["iat"] = testNow.Add(time.Hour).Unix() })), want: ErrInvalid},
		{name: "iat not a number", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["iat"] = true })), want: ErrInvalid},

		// Identity claims.
		{name: "wrong iss", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["iss"] = "https://evil.example" })), want: ErrInvalid},
		{name: "iss with trailing slash", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["iss"] = testIssuer + "/" })), want: ErrInvalid},
		{name: "iss missing", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { delete(p, "iss") })), want: ErrInvalid},
		{name: "wrong aud", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["aud"] = "https://other.example" })), want: ErrInvalid},
		{name: "aud array without ours", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["aud"] = []string{"a", "b"} })), want: ErrInvalid},
		{name: "aud array with a number", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["aud"] = []any{testAudience, 1} })), want: ErrInvalid},
		{name: "aud missing", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { delete(p, "aud") })), want: ErrInvalid},
		{name: "aud case differs", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["aud"] = strings.ToUpper(testAudience) })), want: ErrInvalid},
		{name: "sub missing", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { delete(p, "sub") })), want: ErrInvalid},
		{name: "sub empty", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["sub"] = "" })), want: ErrInvalid},
		{name: "sub a number", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["sub"] = 1 })), want: ErrInvalid},
		{name: "sub null", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["sub"] = nil })), want: ErrInvalid},
		{name: "Sub only (case variant)", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["Sub"] = p["sub"]; delete(p, "sub") })), want: ErrInvalid},
		{name: "jti missing", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { delete(p, "jti") })), want: ErrInvalid},
		{name: "sid a number", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["sid"] = 5 })), want: ErrInvalid},
		{name: "roles a string", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["roles"] = "admin" })), want: ErrInvalid},
		{name: "roles with a number", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["roles"] = []any{"user", 1} })), want: ErrInvalid},
		{name: "roles with null", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["roles"] = []any{"user", nil} })), want: ErrInvalid},
		{name: "roles null", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["roles"] = nil })), want: ErrInvalid},
		{name: "roles an object", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["roles"] = map[string]any{"0": "admin"} })), want: ErrInvalid},
		{name: "email a number", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["email"] = 1 })), want: ErrInvalid},
		{name: "email_verified a string", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["email_verified"] = "true" })), want: ErrInvalid},
		{name: "email_verified a number", tok: forge(t, ed, hdr(ed, nil), pay(func(p map[string]any) { p["email_verified"] = 1 })), want: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vv := v
			if tt.v != nil {
				vv = tt.v
			}
			c, err := vv.Verify(tt.tok)
			t.Logf("Verify: %v", err)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("Verify = %v, want success", err)
			case tt.want == nil && c == nil:
				t.Fatal("Verify = nil claims, nil error")
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("Verify = %v, %v; want error %v", c, err, tt.want)
			case tt.want != nil && c != nil:
				t.Fatalf("Verify returned claims %+v with error %v", c, err)
			case errors.Is(tt.want, ErrInvalid) && errors.Is(err, ErrExpired),
				errors.Is(tt.want, ErrExpired) && errors.Is(err, ErrInvalid):
				t.Fatalf("Verify = %v, wraps both ErrInvalid and ErrExpired", err)
			}
		})
	}
}

// json99 is an integer too large for int64, written as a raw JSON number.
func json99() any { return jsonNumber("99999999999999999999") }

type jsonNumber string

func (n jsonNumber) MarshalJSON() ([]byte, error) { return []byte(n), nil }

func TestVerifierConfig(t *testing.T) {
	k := fixtures().ed
	tok := signed(t, k, nil)
	tests := []struct {
		name string
		edit func(*IssuerVerifier)
	}{
		{"no Keys", func(v *IssuerVerifier) { v.Keys = nil }},
		{"no Issuer", func(v *IssuerVerifier) { v.Issuer = "" }},
		{"no Audience", func(v *IssuerVerifier) { v.Audience = "" }},
		{"Keys returns nil key", func(v *IssuerVerifier) { v.Keys = func(string) (*Key, bool) { return nil, true } }},
		{"key without Alg", func(v *IssuerVerifier) {
			v.Keys = func(string) (*Key, bool) { return &Key{KID: k.KID, Public: k.Public}, true }
		}},
		{"key with mismatched public key", func(v *IssuerVerifier) {
			ec := fixtures().ec
			v.Keys = func(string) (*Key, bool) { return &Key{KID: k.KID, Alg: EdDSA, Public: ec.Public}, true }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := verifier(k)
			tt.edit(v)
			if _, err := v.Verify(tok); !errors.Is(err, ErrInvalid) {
				t.Errorf("Verify = %v, want ErrInvalid", err)
			}
		})
	}
	t.Run("default clock", func(t *testing.T) {
		v := verifier(k)
		v.Now = nil
		fresh := signed(t, k, func(c *Claims) {
			c.IssuedAt, c.NotBefore, c.ExpiresAt = time.Now(), time.Now(), time.Now().Add(time.Minute)
		})
		if _, err := v.Verify(fresh); err != nil {
			t.Errorf("Verify with time.Now = %v, want success", err)
		}
		if _, err := v.Verify(tok); !errors.Is(err, ErrExpired) {
			t.Errorf("Verify of a 2026-03-01 token with time.Now = %v, want ErrExpired", err)
		}
	})
}

func BenchmarkSign(b *testing.B) {
	f := fixtures()
	for _, k := range []*Key{f.ed, f.ec, f.rs} {
		b.Run(k.Alg, func(b *testing.B) {
			c := validClaims()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Sign(k, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	k := fixtures().ed
	tok := signed(b, k, nil)
	v := verifier(k)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawEd25519Verify is the floor for BenchmarkVerify: the bare
// signature check on the same signing input.
func BenchmarkRawEd25519Verify(b *testing.B) {
	k := fixtures().ed
	tok := signed(b, k, nil)
	i := strings.LastIndexByte(tok, '.')
	input := []byte(tok[:i])
	sig, err := b64.DecodeString(tok[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	pub := k.Public.(ed25519.PublicKey)
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(pub, input, sig) {
			b.Fatal("signature does not verify")
		}
	}
}
