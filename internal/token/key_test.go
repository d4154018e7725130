package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
)

func TestGenerateKey(t *testing.T) {
	f := fixtures()
	tests := []struct {
		alg     string
		wantAlg string
		check   func(any) bool
	}{
		{"", EdDSA, func(p any) bool { _, ok := p.(ed25519.PublicKey); return ok }},
		{EdDSA, EdDSA, func(p any) bool { _, ok := p.(ed25519.PublicKey); return ok }},
		{ES256, ES256, func(p any) bool { k, ok := p.(*ecdsa.PublicKey); return ok && k.Curve == elliptic.P256() }},
		{RS256, RS256, func(p any) bool { k, ok := p.(*rsa.PublicKey); return ok && k.N.BitLen() == 2048 }},
	}
	for _, tt := range tests {
		t.Run("alg="+tt.alg, func(t *testing.T) {
			var k *Key
			if tt.alg == RS256 {
				k = f.rs // generation is slow; the fixture came from GenerateKey
			} else {
				var err error
				if k, err = GenerateKey(tt.alg); err != nil {
					t.Fatal(err)
				}
			}
			if k.Alg != tt.wantAlg {
				t.Errorf("Alg = %q, want %q", k.Alg, tt.wantAlg)
			}
			if !tt.check(k.Public) || k.Private == nil {
				t.Errorf("key = %T / %T, want a %s pair", k.Public, k.Private, tt.wantAlg)
			}
			tp, err := k.Thumbprint()
			if err != nil {
				t.Fatal(err)
			}
			if k.KID != tp || len(k.KID) != 43 {
				t.Errorf("KID = %q, want the thumbprint %q (43 chars)", k.KID, tp)
			}
		})
	}
	for _, alg := range []string{"none", "HS256", "eddsa", "ES384", "PS256"} {
		if _, err := GenerateKey(alg); err == nil {
			t.Errorf("GenerateKey(%q) = nil error, want an error", alg)
		}
	}
	a, _ := GenerateKey(EdDSA)
	b, _ := GenerateKey(EdDSA)
	if a.KID == b.KID {
		t.Error("two generated keys share a KID")
	}
}

// TestThumbprintRFC8037 is the known answer of RFC 8037 Appendix A.3.
func TestThumbprintRFC8037(t *testing.T) {
	k, err := parsePublicJWK([]byte(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; k.KID != want {
		t.Errorf("thumbprint = %s, want %s", k.KID, want)
	}
}

// TestThumbprintRFC7638 is the known answer of RFC 7638 §3.1.
func TestThumbprintRFC7638(t *testing.T) {
	n := "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	// RFC 7638 uses a 2048-bit key, so parsePublicJWK accepts it.
	k, err := parsePublicJWK([]byte(`{"kty":"RSA","n":"` + n + `","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`))
	if err != nil {
		t.Fatal(err)
	}
	tp, err := k.Thumbprint()
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; tp != want {
		t.Errorf("thumbprint = %s, want %s", tp, want)
	}
	if k.KID != "2011-04-29" {
		t.Errorf("KID = %q, want the JWK's kid", k.KID)
	}
}

func TestPrivateRoundTrip(t *testing.T) {
	f := fixtures()
	for _, k := range []*Key{f.ed, f.ec, f.rs} {
		t.Run(k.Alg, func(t *testing.T) {
			der, err := k.MarshalPrivate()
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParsePrivate(k.Alg, "", der)
			if err != nil {
				t.Fatal(err)
			}
			if back.KID != k.KID || back.Alg != k.Alg {
				t.Errorf("parsed kid, alg = %q, %q; want %q, %q", back.KID, back.Alg, k.KID, k.Alg)
			}
			named, err := ParsePrivate(k.Alg, "given", der)
			if err != nil || named.KID != "given" {
				t.Errorf("ParsePrivate with kid = %v, %v; want kid \"given\"", named, err)
			}
			// The parsed key signs tokens that the original public key verifies.
			if _, err := verifier(k).Verify(signed(t, back, nil)); err != nil {
				t.Errorf("token signed by the parsed key: %v", err)
			}
			if _, err := public(k).MarshalPrivate(); err == nil {
				t.Error("MarshalPrivate of a public-only key: nil error")
			}
		})
	}
}

func TestParsePrivateRefuses(t *testing.T) {
	f := fixtures()
	edDER, _ := f.ed.MarshalPrivate()
	ecDER, _ := f.ec.MarshalPrivate()
	rsDER, _ := f.rs.MarshalPrivate()
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384DER, _ := x509.MarshalPKCS8PrivateKey(p384)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakDER, _ := x509.MarshalPKCS8PrivateKey(weak)
	tests := []struct {
		name string
		alg  string
		der  []byte
	}{
		{"Ed25519 key as ES256", ES256, edDER},
		{"Ed25519 key as RS256", RS256, edDER},
		{"P-256 key as EdDSA", EdDSA, ecDER},
		{"RSA key as EdDSA (default)", "", rsDER},
		{"P-384 key as ES256", ES256, p384DER},
		{"1024-bit RSA key", RS256, weakDER},
		{"unknown alg", "HS256", edDER},
		{"garbage", EdDSA, []byte("not DER")},
		{"truncated", EdDSA, edDER[:len(edDER)-1]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if k, err := ParsePrivate(tt.alg, "", tt.der); err == nil {
				t.Errorf("ParsePrivate = %+v, nil; want an error", k)
			}
		})
	}
}

func TestPublicJWK(t *testing.T) {
	f := fixtures()
	tests := []struct {
		k       *Key
		members []string
	}{
		{f.ed, []string{"kty", "crv", "x", "kid", "alg", "use"}},
		{f.ec, []string{"kty", "crv", "x", "y", "kid", "alg", "use"}},
		{f.rs, []string{"kty", "n", "e", "kid", "alg", "use"}},
	}
	for _, tt := range tests {
		t.Run(tt.k.Alg, func(t *testing.T) {
			b, err := tt.k.PublicJWK()
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]string
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("JWK %s: %v", b, err)
			}
			if len(m) != len(tt.members) {
				t.Errorf("JWK %s has %d members, want %v", b, len(m), tt.members)
			}
			for _, name := range tt.members {
				if m[name] == "" {
					t.Errorf("JWK %s lacks %q", b, name)
				}
			}
			if m["use"] != "sig" || m["alg"] != tt.k.Alg || m["kid"] != tt.k.KID {
				t.Errorf("JWK %s: want use sig, alg %s, kid %s", b, tt.k.Alg, tt.k.KID)
			}
			back, err := parsePublicJWK(b)
			if err != nil {
				t.Fatalf("parsePublicJWK(%s): %v", b, err)
			}
			if back.Private != nil || back.KID != tt.k.KID || back.Alg != tt.k.Alg {
				t.Errorf("parsed = %+v", back)
			}
			if _, err := verifier(back).Verify(signed(t, tt.k, nil)); err != nil {
				t.Errorf("Verify with the parsed JWK: %v", err)
			}
		})
	}
	set, err := JWKS([]*Key{f.ed, public(f.ec)})
	if err != nil {
		t.Fatal(err)
	}
	var js struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(set, &js); err != nil || len(js.Keys) != 2 || !bytes.HasPrefix(set, []byte(`{"keys":[`)) {
		t.Errorf("JWKS = %s, %v", set, err)
	}
	if empty, _ := JWKS(nil); string(empty) != `{"keys":[]}` {
		t.Errorf("JWKS(nil) = %s, want {\"keys\":[]}", empty)
	}
}

func TestParsePublicJWKRefuses(t *testing.T) {
	f := fixtures()
	jwkMap := func(k *Key) map[string]any {
		b, err := k.PublicJWK()
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	edit := func(k *Key, f func(map[string]any)) string {
		m := jwkMap(k)
		f(m)
		return mustJSON(t, m)
	}
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ecm := jwkMap(f.ec)
	edJWK, _ := f.ed.PublicJWK()
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ``},
		{"not an object", `["OKP"]`},
		{"null", `null`},
		{"trailing data", string(edJWK) + "{}"},
		{"duplicate x", strings.Replace(string(edJWK), `"x":`, `"x":"AAAA","x":`, 1)},
		{"duplicate kty", strings.Replace(string(edJWK), `{`, `{"kty":"RSA",`, 1)},
		{"private d", edit(f.ed, func(m map[string]any) { m["d"] = "AAAA" })},
		{"symmetric k", `{"kty":"oct","k":"AAAA"}`},
		{"unknown kty", `{"kty":"oct"}`},
		{"kty missing", edit(f.ed, func(m map[string]any) { delete(m, "kty") })},
		{"kty not a string", edit(f.ed, func(m map[string]any) { m["kty"] = 1 })},
		{"use enc", edit(f.ed, func(m map[string]any) { m["use"] = "enc" })},
		{"use empty", edit(f.ed, func(m map[string]any) { m["use"] = "" })},
		{"alg empty", edit(f.ed, func(m map[string]any) { m["alg"] = "" })},
		{"alg none", edit(f.ed, func(m map[string]any) { m["alg"] = "none" })},
		{"alg HS256", edit(f.ed, func(m map[string]any) { m["alg"] = "HS256" })},
		{"alg RS256 on OKP", edit(f.ed, func(m map[string]any) { m["alg"] = RS256 })},
		{"alg EdDSA on EC", edit(f.ec, func(m map[string]any) { m["alg"] = EdDSA })},
		{"empty kid", edit(f.ed, func(m map[string]any) { m["kid"] = "" })},
		{"kid not a string", edit(f.ed, func(m map[string]any) { m["kid"] = 7 })},
		{"X25519 curve", edit(f.ed, func(m map[string]any) { m["crv"] = "X25519" })},
		{"Ed25519 x 31 bytes", edit(f.ed, func(m map[string]any) { m["x"] = b64.EncodeToString(make([]byte, 31)) })},
		{"Ed25519 x padded", edit(f.ed, func(m map[string]any) { m["x"] = m["x"].(string) + "=" })},
		{"Ed25519 x standard alphabet", `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`},
		{"Ed25519 x non-canonical", `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURp"}`},
		{"Ed25519 x with newline", `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPa\npiMlrwIaaPcHURo"}`},
		{"Ed25519 identity (small order)", edit(f.ed, func(m map[string]any) { m["x"] = "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" })},
		{"Ed25519 point of order 8", edit(f.ed, func(m map[string]any) { m["x"] = "JuiVj8KyJ7BFw_SJ8u-Y8NXfrAXTxjM5sTgCiG1T_AU" })},
		{"Ed25519 identity, non-canonical y = p+1", edit(f.ed, func(m map[string]any) { m["x"] = "7v_______________________________________38" })},
		{"Ed25519 point not on the curve", edit(f.ed, func(m map[string]any) { m["x"] = "AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" })},
		{"RSA e 2^31+1", edit(f.rs, func(m map[string]any) { m["e"] = b64.EncodeToString([]byte{0x80, 0, 0, 1}) })},
		{"P-384 curve", edit(f.ec, func(m map[string]any) { m["crv"] = "P-384" })},
		{"EC point not on curve", edit(f.ec, func(m map[string]any) { m["y"] = m["x"] })},
		{"EC y missing", edit(f.ec, func(m map[string]any) { delete(m, "y") })},
		{"EC x short", edit(f.ec, func(m map[string]any) {
			m["x"] = b64.EncodeToString(new(big.Int).SetBytes([]byte{1}).Bytes())
		})},
		{"EC x 33 bytes (leading zero)", func() string {
			// Numerically the same point, but not the fixed 32-byte width.
			x, _ := b64.DecodeString(ecm["x"].(string))
			return edit(f.ec, func(m map[string]any) { m["x"] = b64.EncodeToString(append([]byte{0}, x...)) })
		}()},
		{"RSA 1024 bits", mustJSON(t, map[string]any{"kty": "RSA", "n": b64.EncodeToString(weak.N.Bytes()), "e": "AQAB"})},
		{"RSA n leading zero", edit(f.rs, func(m map[string]any) {
			n, _ := b64.DecodeString(m["n"].(string))
			m["n"] = b64.EncodeToString(append([]byte{0}, n...))
		})},
		{"RSA even modulus", edit(f.rs, func(m map[string]any) {
			n, _ := b64.DecodeString(m["n"].(string))
			n[len(n)-1] &^= 1
			m["n"] = b64.EncodeToString(n)
		})},
		{"RSA e even", edit(f.rs, func(m map[string]any) { m["e"] = b64.EncodeToString([]byte{1, 0, 0}) })},
		{"RSA e = 1", edit(f.rs, func(m map[string]any) { m["e"] = "AQ" })},
		{"RSA e too long", edit(f.rs, func(m map[string]any) { m["e"] = b64.EncodeToString([]byte{1, 0, 0, 0, 1}) })},
		{"RSA e missing", edit(f.rs, func(m map[string]any) { delete(m, "e") })},
		{"RSA n a number", edit(f.rs, func(m map[string]any) { m["n"] = 12345 })},
		{"too large", `{"kty":"OKP","pad":"` + strings.Repeat("a", 20000) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if k, err := parsePublicJWK([]byte(tt.in)); err == nil {
				t.Errorf("parsePublicJWK(%.80s) = %+v, nil; want an error", tt.in, k)
			} else {
				t.Logf("ParsePublicJWK: %v", err)
			}
		})
	}
}
