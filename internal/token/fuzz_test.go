package token

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzVerify feeds arbitrary strings to Verify. Nothing may panic, every
// refusal wraps ErrInvalid or ErrExpired, and the only strings that verify
// are the exact seed tokens: the parser accepts a single encoding and a
// signature has a single valid form (Ed25519; ES256 with low S), so any
// mutation must be refused.
func FuzzVerify(f *testing.F) {
	fx := fixtures()
	ed := fx.ed
	v := verifier(ed, fx.ec)
	valid := map[string]bool{}
	add := func(tok string, isValid bool) {
		f.Add(tok)
		if isValid {
			valid[tok] = true
		}
	}
	tok := signed(f, ed, nil)
	add(tok, true)
	add(signed(f, ed, func(c *Claims) { c.Audience = []string{"x", testAudience}; c.Roles = []string{"admin", "user"} }), true)
	add(signed(f, ed, func(c *Claims) { c.ExpiresAt = testNow.Add(-1) }), false)
	add(signed(f, fx.ec, nil), true) // Sign emits low S only, so this one is unique too
	i := strings.IndexByte(tok, '.')
	j := strings.LastIndexByte(tok, '.')
	for _, m := range []string{
		"", ".", "..", "...", tok + ".", tok + "=", tok[:j], tok[:j+1],
		tok[:len(tok)-1], tok[:len(tok)-1] + "B", strings.Replace(tok, "-", "+", -1),
		b64.EncodeToString([]byte(`{"alg":"none","kid":"`+ed.KID+`","typ":"at+jwt"}`)) + tok[i:j] + ".",
		b64.EncodeToString([]byte(`{"alg":"HS256","kid":"`+ed.KID+`","typ":"at+jwt"}`)) + tok[i:],
		b64.EncodeToString([]byte(`{"alg":"EdDSA","alg":"EdDSA","kid":"`+ed.KID+`","typ":"at+jwt"}`)) + tok[i:],
		forge(f, ed, `{"alg":"EdDSA","kid":"`+ed.KID+`","typ":"at+jwt"}`, `{"sub":"a","sub":"b"}`),
		forge(f, ed, `{"alg":"EdDSA","kid":"`+ed.KID+`","typ":"at+jwt"}`, `[[[[[[[[`),
		"e30.e30.AAAA", strings.Repeat("a", 9000),
	} {
		add(m, false)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := v.Verify(s)
		if err == nil {
			if c == nil {
				t.Fatal("nil claims with nil error")
			}
			if !valid[s] {
				t.Fatalf("Verify accepted a string that is not a seed token: %q", s)
			}
			return
		}
		if c != nil {
			t.Fatalf("claims %+v returned with error %v", c, err)
		}
		if errors.Is(err, ErrInvalid) == errors.Is(err, ErrExpired) {
			t.Fatalf("error %v wraps neither or both of ErrInvalid and ErrExpired", err)
		}
	})
}

// FuzzHashOpaque checks that HashOpaque accepts exactly the canonical
// 43-character encodings of 32 bytes.
func FuzzHashOpaque(f *testing.F) {
	s, _ := NewOpaque()
	for _, seed := range []string{s, s[:42], s + "A", s[:42] + "=", strings.Repeat("A", 43),
		strings.Repeat("A", 42) + "B", "+" + s[1:], s[:20] + "\n" + s[21:], ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, ok := HashOpaque(s)
		if !ok {
			if h != nil {
				t.Fatalf("HashOpaque(%q) = %x, false", s, h)
			}
			return
		}
		raw, err := b64.DecodeString(s)
		if err != nil || len(raw) != 32 {
			t.Fatalf("HashOpaque accepted %q, which does not decode to 32 bytes", s)
		}
		if b64.EncodeToString(raw) != s {
			t.Fatalf("HashOpaque accepted the non-canonical %q", s)
		}
		want := sha256.Sum256(raw)
		if !bytes.Equal(h, want[:]) {
			t.Fatalf("HashOpaque(%q) = %x, want %x", s, h, want)
		}
	})
}

// FuzzParsePublicJWK checks that ParsePublicJWK never panics, and that a
// key it accepts is usable: it re-encodes to a JWK that parses back to the
// same key, and verification with it refuses a foreign token.
func FuzzParsePublicJWK(f *testing.F) {
	fx := fixtures()
	for _, k := range []*Key{fx.ed, fx.ec, fx.rs} {
		b, _ := k.PublicJWK()
		f.Add(b)
	}
	for _, s := range []string{
		`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`,
		`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","x":"AA"}`,
		`{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}`,
		`{"kty":"RSA","n":"AQAB","e":"AQAB"}`,
		`{"kty":"oct","k":"AA"}`, `[]`, `null`, `{}`, `{"kty":{"kty":1}}`,
	} {
		f.Add([]byte(s))
	}
	tok := signed(f, fx.ed, nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParsePublicJWK(b)
		if err != nil {
			if k != nil {
				t.Fatalf("key %+v returned with error %v", k, err)
			}
			return
		}
		if k.Private != nil || k.KID == "" {
			t.Fatalf("parsed key %+v: want public-only with a kid", k)
		}
		again, err := k.PublicJWK()
		if err != nil {
			t.Fatalf("PublicJWK of a parsed key: %v", err)
		}
		k2, err := ParsePublicJWK(again)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", again, err)
		}
		tp1, err1 := k.Thumbprint()
		tp2, err2 := k2.Thumbprint()
		if err1 != nil || err2 != nil || tp1 != tp2 || k2.KID != k.KID || k2.Alg != k.Alg {
			t.Fatalf("round trip changed the key: %+v vs %+v", k, k2)
		}
		// A parsed key only verifies its own signatures; tok is signed by
		// the fixture key, so only that very key may accept it.
		vk := *k
		vk.KID = fx.ed.KID
		v := verifier()
		v.Keys = func(string) (*Key, bool) { return &vk, true }
		_, err = v.Verify(tok)
		if err == nil && tp1 != fx.ed.KID {
			t.Fatalf("key %s verified a token of another key", tp1)
		}
	})
}

// refStrictObject is the reference for strictObject built on encoding/json:
// valid UTF-8, json.Valid, a top-level object, no duplicate names at any
// depth (json.Decoder tokens), nesting at most maxJSONDepth.
func refStrictObject(b []byte) (map[string]json.RawMessage, bool) {
	if !utf8.Valid(b) || !json.Valid(b) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var walk func(depth int) bool
	walk = func(depth int) bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		d, ok := tok.(json.Delim)
		if !ok {
			return true
		}
		if depth+1 > maxJSONDepth {
			return false
		}
		seen := map[string]bool{}
		for dec.More() {
			if d == '{' {
				k, err := dec.Token()
				if err != nil || seen[k.(string)] {
					return false
				}
				seen[k.(string)] = true
			}
			if !walk(depth + 1) {
				return false
			}
		}
		_, err = dec.Token()
		return err == nil
	}
	if !walk(0) {
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, false
	}
	return m, true
}

// FuzzStrictObject checks the hand-written JSON scanner against
// encoding/json: same verdict and, when accepted, the same members.
func FuzzStrictObject(f *testing.F) {
	for _, s := range []string{
		`{}`, ` {"a":1} `, `{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`, `{"a":[{"b":1},{"b":1}]}`,
		`{"s\u0075b":1,"sub":2}`, `{"\ud800":1,"\udbff":2}`, `{"a":"\u00e9\n\"\\\/"}`,
		`{"a":-0.5e+10,"b":0,"c":-0,"d":1E3}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`,
		`{"a":tru}`, `{"a":nulll}`, `{"a":"x` + "\x01" + `"}`, `{"a":"\x"}`, `{"a":"\u12"}`,
		`{"a":1,}`, `{,}`, `{"a"}`, `{"a":1 "b":2}`, `[]`, `"x"`, `null`, `{}{}`, `{} x`,
		`{"a":` + strings.Repeat("[", 31) + strings.Repeat("]", 31) + `}`,
		`{"a":` + strings.Repeat("[", 32) + strings.Repeat("]", 32) + `}`,
		"{\"a\":\"\xff\"}", "\ufeff{}", "{\"a\":1}\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := strictObject(b)
		want, ok := refStrictObject(b)
		if (err == nil) != ok {
			t.Fatalf("strictObject(%q) error = %v; encoding/json reference accepts = %v", b, err, ok)
		}
		if !ok {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("strictObject(%q) has %d members, reference %d", b, len(got), len(want))
		}
		for k, v := range want {
			if !bytes.Equal(got[k], v) {
				t.Fatalf("strictObject(%q)[%q] = %q, reference %q", b, k, got[k], v)
			}
			// The typed accessors agree with encoding/json too.
			var ws string
			s, sok := jsonString(got[k])
			if werr := json.Unmarshal(v, &ws); (werr == nil && v[0] == '"') != sok || (sok && s != ws) {
				t.Fatalf("jsonString(%q) = %q, %v; encoding/json %q, %v", v, s, sok, ws, werr)
			}
		}
	})
}
