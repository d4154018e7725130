package token

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
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
