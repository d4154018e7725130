package jws

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"math/big"
	"testing"
)

// TestParseJWKRefusesBadECAndRSAKeys: EC points must be on P-256 and
// encoded canonically; RSA keys must have a modulus of MinRSABits to
// MaxRSABits bits and an exponent crypto/rsa can verify with.
func TestParseJWKRefusesBadECAndRSAKeys(t *testing.T) {
	f := fixtures()
	edit := func(k *Key, fn func(m map[string]any)) string {
		b, err := k.JWK()
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		fn(m)
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	coord := func(v *big.Int) string {
		b := make([]byte, 32)
		v.FillBytes(b)
		return b64.EncodeToString(b)
	}
	ecPub := f.ec.pub.Public.(*ecdsa.PublicKey)
	pt, err := ecPub.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	ecX, ecY := new(big.Int).SetBytes(pt[1:33]), new(big.Int).SetBytes(pt[33:])
	p := elliptic.P256().Params().P
	rsaPub := f.rs.pub.Public.(*rsa.PublicKey)
	tests := []struct{ name, jwk string }{
		{"EC point not on the curve", edit(f.ec.pub, func(m map[string]any) { m["y"] = m["x"] })},
		{"EC point (0, 0)", edit(f.ec.pub, func(m map[string]any) { m["x"], m["y"] = coord(big.NewInt(0)), coord(big.NewInt(0)) })},
		{"EC x + p", edit(f.ec.pub, func(m map[string]any) {
			if x := new(big.Int).Add(ecX, p); x.BitLen() <= 256 {
				m["x"] = coord(x)
			} else {
				m["x"] = coord(p) // x = p: 0 reduced, not on the curve either way
			}
		})},
		{"EC y + p or p", edit(f.ec.pub, func(m map[string]any) {
			if y := new(big.Int).Add(ecY, p); y.BitLen() <= 256 {
				m["y"] = coord(y)
			} else {
				m["y"] = coord(p)
			}
		})},
		{"EC coordinate of 33 bytes", edit(f.ec.pub, func(m map[string]any) {
			m["x"] = b64.EncodeToString(append([]byte{0}, ecX.FillBytes(make([]byte, 32))...))
		})},
		{"EC on P-384", edit(f.ec.pub, func(m map[string]any) { m["crv"] = "P-384" })},
		{"RSA exponent 1", edit(f.rs.pub, func(m map[string]any) { m["e"] = "AQ" })},
		{"RSA even exponent", edit(f.rs.pub, func(m map[string]any) { m["e"] = "AQAA" })},
		{"RSA exponent 2^31+1 (crypto/rsa: too large)", edit(f.rs.pub, func(m map[string]any) { m["e"] = b64.EncodeToString([]byte{0x80, 0, 0, 1}) })},
		{"RSA exponent 2^32-1", edit(f.rs.pub, func(m map[string]any) { m["e"] = b64.EncodeToString([]byte{0xff, 0xff, 0xff, 0xff}) })},
		{"RSA exponent of 5 bytes", edit(f.rs.pub, func(m map[string]any) { m["e"] = b64.EncodeToString([]byte{1, 0, 0, 0, 1}) })},
		{"RSA exponent with a leading zero", edit(f.rs.pub, func(m map[string]any) { m["e"] = b64.EncodeToString([]byte{0, 1, 0, 1}) })},
		{"RSA 1024-bit modulus", edit(f.rs.pub, func(m map[string]any) { m["n"] = b64.EncodeToString(rsaPub.N.Bytes()[:128]) })},
		{"RSA modulus over 8192 bits", edit(f.rs.pub, func(m map[string]any) {
			n := make([]byte, 1025)
			n[0], n[1024] = 1, 1
			m["n"] = b64.EncodeToString(n)
		})},
		{"RSA even modulus", edit(f.rs.pub, func(m map[string]any) {
			n := rsaPub.N.Bytes()
			n[len(n)-1] &^= 1
			m["n"] = b64.EncodeToString(n)
		})},
		{"RSA modulus with a leading zero", edit(f.rs.pub, func(m map[string]any) { m["n"] = b64.EncodeToString(append([]byte{0}, rsaPub.N.Bytes()...)) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if k, err := ParseJWK([]byte(tt.jwk), RequireAll); err == nil {
				t.Fatalf("ParseJWK(%s) = %+v, want an error", tt.jwk, k)
			}
		})
	}
}

// TestCheckKeyRefuses: keys built by a caller, not parsed from a JWK, are
// checked as thoroughly; none of them makes CheckKey panic.
func TestCheckKeyRefuses(t *testing.T) {
	f := fixtures()
	ecPub := f.ec.pub.Public.(*ecdsa.PublicKey)
	rsaPub := f.rs.pub.Public.(*rsa.PublicKey)
	tests := []struct {
		name string
		alg  string
		pub  crypto.PublicKey
	}{
		//lint:ignore SA1019 CheckKey must refuse keys a caller builds from raw coordinates
		{"EC point not on the curve", ES256, &ecdsa.PublicKey{Curve: elliptic.P256(), X: ecPub.X, Y: ecPub.X}},
		{"EC point without coordinates", ES256, &ecdsa.PublicKey{Curve: elliptic.P256()}},
		//lint:ignore SA1019 CheckKey must refuse keys a caller builds from raw coordinates
		{"EC on P-384", ES256, &ecdsa.PublicKey{Curve: elliptic.P384(), X: ecPub.X, Y: ecPub.Y}},
		{"RSA exponent 2^31+1", RS256, &rsa.PublicKey{N: rsaPub.N, E: 1<<31 + 1}},
		{"RSA exponent 1", RS256, &rsa.PublicKey{N: rsaPub.N, E: 1}},
		{"RSA without modulus", RS256, &rsa.PublicKey{E: 65537}},
		{"RSA even modulus", RS256, &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 2047), E: 65537}},
		{"nil", EdDSA, nil},
		{"RSA key for EdDSA", EdDSA, rsaPub},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckKey(tt.alg, tt.pub); err == nil {
				t.Fatalf("CheckKey(%s, %+v): no error", tt.alg, tt.pub)
			}
		})
	}
	for _, s := range []*signer{f.ed, f.ec, f.rs} {
		if err := CheckKey(s.pub.Alg, s.pub.Public); err != nil {
			t.Errorf("CheckKey of the %s fixture: %v", s.pub.Alg, err)
		}
	}
}
