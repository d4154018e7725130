package jws

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzVerify feeds arbitrary strings to Verify. Nothing may panic, every
// refusal is an *Error wrapping ErrInvalid (and ErrExpired exactly when it
// says Expired), and the only strings that verify are the exact seed
// tokens: the parser accepts a single encoding and a signature has a
// single valid form (Ed25519; ES256 with low S), so any mutation must be
// refused.
func FuzzVerify(f *testing.F) {
	fx := fixtures()
	ed := fx.ed
	valid := map[string]bool{}
	add := func(tok string, isValid bool) {
		f.Add(tok)
		if isValid {
			valid[tok] = true
		}
	}
	tok := ed.forge(f, ed.header(), payload(f, nil))
	add(tok, true)
	add(ed.forge(f, ed.header(), payload(f, func(p map[string]any) { p["aud"] = []string{"x", testAudience} })), true)
	add(ed.forge(f, ed.header(), payload(f, func(p map[string]any) { p["exp"] = testNow.Unix() - 1 })), false)
	add(fx.ec.forge(f, fx.ec.header(), payload(f, nil)), true) // low S: unique too
	add(ed.forge(f, ed.header(), `{"iss":"`+testIssuer+`","sub":"s","aud":"`+testAudience+`","exp":1900000000,"jti":"j","x":{"a":[1,{"b":null}]}}`), true)
	i := strings.IndexByte(tok, '.')
	j := strings.LastIndexByte(tok, '.')
	for _, m := range []string{
		"", ".", "..", "...", tok + ".", tok + "=", tok[:j], tok[:j+1],
		tok[:len(tok)-1], tok[:len(tok)-1] + "B", strings.Replace(tok, "-", "+", -1),
		b64.EncodeToString([]byte(`{"alg":"none","kid":"`+ed.pub.KID+`","typ":"at+jwt"}`)) + tok[i:j] + ".",
		b64.EncodeToString([]byte(`{"alg":"HS256","kid":"`+ed.pub.KID+`","typ":"at+jwt"}`)) + tok[i:],
		b64.EncodeToString([]byte(`{"alg":"EdDSA","alg":"EdDSA","kid":"`+ed.pub.KID+`","typ":"at+jwt"}`)) + tok[i:],
		ed.forge(f, ed.header(), `{"sub":"a","sub":"b"}`),
		ed.forge(f, ed.header(), `[[[[[[[[`),
		"e30.e30.AAAA", strings.Repeat("a", 9000),
	} {
		add(m, false)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Verify(s, keyFor, checks())
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
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) || errors.Is(err, ErrExpired) != e.Expired {
			t.Fatalf("refusal %v (%T) is not an *Error wrapping ErrInvalid, and ErrExpired when expired", err, err)
		}
	})
}

// FuzzParseJWK checks that ParseJWK never panics, and that a key it
// accepts is usable, re-encodes to a JWK that parses back to the same key,
// and verifies only its own signatures.
func FuzzParseJWK(f *testing.F) {
	fx := fixtures()
	for _, s := range []*signer{fx.ed, fx.ec, fx.rs} {
		b, _ := s.pub.JWK()
		f.Add(b, uint8(RequireAll))
	}
	for _, s := range []string{
		`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`,
		`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","x":"AA"}`,
		`{"kty":"OKP","crv":"Ed25519","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`,
		`{"kty":"OKP","crv":"Ed25519","x":"7v_______________________________________38"}`,
		`{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}`,
		`{"kty":"RSA","n":"AQAB","e":"AQAB"}`,
		`{"kty":"oct","k":"AA"}`, `[]`, `null`, `{}`, `{"kty":{"kty":1}}`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	tok := fx.ed.forge(f, fx.ed.header(), payload(f, nil))
	f.Fuzz(func(t *testing.T, b []byte, req uint8) {
		k, err := ParseJWK(b, Require(req))
		if err != nil {
			if k != nil {
				t.Fatalf("key %+v returned with error %v", k, err)
			}
			return
		}
		if k.KID == "" || CheckKey(k.Alg, k.Public) != nil {
			t.Fatalf("parsed key %+v: want a usable key with a kid", k)
		}
		again, err := k.JWK()
		if err != nil {
			t.Fatalf("JWK of a parsed key: %v", err)
		}
		k2, err := ParseJWK(again, RequireAll)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", again, err)
		}
		tp1, err1 := k.Thumbprint()
		tp2, err2 := k2.Thumbprint()
		if err1 != nil || err2 != nil || tp1 != tp2 || k2.KID != k.KID || k2.Alg != k.Alg {
			t.Fatalf("round trip changed the key: %+v vs %+v", k, k2)
		}
		// tok is signed by the fixture key, so only that very key may
		// accept it.
		vk := *k
		vk.KID = fx.ed.pub.KID
		_, err = Verify(tok, func(string) (*Key, error) { return &vk, nil }, checks())
		if err == nil && tp1 != fx.ed.pub.KID {
			t.Fatalf("key %s verified a token of another key", tp1)
		}
	})
}

// FuzzParseJWKS: any input either fails or yields usable keys with a kid
// and an accepted algorithm.
func FuzzParseJWKS(f *testing.F) {
	fx := fixtures()
	set, err := JWKS([]*Key{fx.ed.pub, fx.ec.pub, fx.rs.pub})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(set)
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k","alg":"EdDSA","use":"sig"}]}`))
	f.Add([]byte(`{"keys":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, _, err := ParseJWKS(b)
		if err != nil {
			return
		}
		for kid, k := range keys {
			if kid == "" || kid != k.KID || CheckKey(k.Alg, k.Public) != nil {
				t.Fatalf("bad key %q: %+v", kid, k)
			}
		}
	})
}

// refScanObject is the reference for scanObject built on encoding/json:
// valid UTF-8, json.Valid, a top-level object of at most maxMembers
// members, no duplicate names at any depth (json.Decoder tokens), nesting
// at most maxJSONDepth.
func refScanObject(b []byte) (map[string]json.RawMessage, bool) {
	if !utf8.Valid(b) || !json.Valid(b) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	// Numbers as text: a number too large for float64 (1e1000) is valid
	// JSON, and the scanner checks syntax only; what a claim's value
	// means is for its accessor (numericDate: digits only) to refuse.
	dec.UseNumber()
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
	if err := json.Unmarshal(b, &m); err != nil || m == nil || len(m) > maxMembers {
		return nil, false
	}
	return m, true
}

// FuzzScanObject checks the hand-written JSON scanner against
// encoding/json: same verdict and, when accepted, the same members, each
// once.
func FuzzScanObject(f *testing.F) {
	for _, s := range []string{
		`{}`, ` {"a":1} `, `{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`, `{"a":[{"b":1},{"b":1}]}`,
		`{"s\u0075b":1,"sub":2}`, `{"\ud800":1,"\udbff":2}`, `{"a":"\u00e9\n\"\\\/"}`,
		`{"a":-0.5e+10,"b":0,"c":-0,"d":1E3}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`,
		`{"a":tru}`, `{"a":nulll}`, `{"a":"x` + "\x01" + `"}`, `{"a":"\x"}`, `{"a":"\u12"}`,
		`{"a":1,}`, `{,}`, `{"a"}`, `{"a":1 "b":2}`, `[]`, `"x"`, `null`, `{}{}`, `{} x`,
		`{"a":` + strings.Repeat("[", 31) + strings.Repeat("]", 31) + `}`,
		`{"a":` + strings.Repeat("[", 32) + strings.Repeat("]", 32) + `}`,
		"{\"a\":\"\xff\"}", "\ufeff{}", "{\"a\":1}\x00",
		`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"a":18}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := map[string][]byte{}
		err := scanObject(b, func(name string, raw []byte) error {
			if _, dup := got[name]; dup {
				t.Fatalf("scanObject(%q) handed %q twice", b, name)
			}
			got[name] = raw
			return nil
		})
		want, ok := refScanObject(b)
		if (err == nil) != ok {
			t.Fatalf("scanObject(%q) error = %v; encoding/json reference accepts = %v", b, err, ok)
		}
		if !ok {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("scanObject(%q) has %d members, reference %d", b, len(got), len(want))
		}
		for k, v := range want {
			if !bytes.Equal(got[k], v) {
				t.Fatalf("scanObject(%q)[%q] = %q, reference %q", b, k, got[k], v)
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

// FuzzDecodeSegment: DecodeSegment accepts exactly the canonical unpadded
// base64url encodings.
func FuzzDecodeSegment(f *testing.F) {
	for _, s := range []string{"", "AA", "AB", "AAA", "AAB", "A", "AA==", "+/", "-_", "A\nA", "Zm9v"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeSegment(s)
		if err != nil {
			return
		}
		if again := b64.EncodeToString(b); again != s {
			t.Fatalf("DecodeSegment accepted %q, whose canonical form is %q", s, again)
		}
	})
}
