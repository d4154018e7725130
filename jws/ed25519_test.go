package jws

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"math/big"
	"testing"
)

// smallOrderEncodings are the 14 encodings of Ed25519 points of small
// order that a decoder reducing y modulo p accepts: the 8 canonical ones
// and 6 alternatives (y = p and p+1, and x = 0 with the sign bit set), as
// counted in C2SP/CCTV's ed25519 vectors; the y values are libsodium's
// ge25519_has_small_order blocklist. TestSmallOrderEncodingsComplete
// derives them again from the curve.
var smallOrderEncodings = []string{
	"0100000000000000000000000000000000000000000000000000000000000000", // identity (order 1)
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // (0, -1) (order 2)
	"0000000000000000000000000000000000000000000000000000000000000000", // (sqrt(-1), 0) (order 4)
	"0000000000000000000000000000000000000000000000000000000000000080", // (-sqrt(-1), 0) (order 4)
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
	// Non-canonical.
	"0100000000000000000000000000000000000000000000000000000000000080", // identity, x = -0
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // (0, -1), x = -0
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p: (sqrt(-1), 0)
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // y = p: (-sqrt(-1), 0)
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p+1: identity
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // y = p+1: identity, x = -0
}

func okpJWK(x []byte) []byte {
	return []byte(`{"kty":"OKP","crv":"Ed25519","x":"` + b64.EncodeToString(x) + `","alg":"EdDSA","use":"sig","kid":"k"}`)
}

// TestParseJWKRefusesWeakEd25519 covers Ed25519 public keys that are 32
// bytes but not a usable key: points of small order (with such a key,
// signatures are forged without the private key, see
// TestSmallOrderKeyForgery), non-canonical encodings and points not on the
// curve.
func TestParseJWKRefusesWeakEd25519(t *testing.T) {
	type tc struct{ name, hex string }
	var tests []tc
	for _, h := range smallOrderEncodings {
		tests = append(tests, tc{"small order " + h[:8] + ".." + h[60:], h})
	}
	// The basepoint with y+p... cannot be encoded (y > 18); y = 2+p..18+p
	// are the only other non-canonical y encodings.
	for i := int64(2); i <= 18; i++ {
		for _, sign := range []byte{0, 0x80} {
			y := new(big.Int).Add(edP, big.NewInt(i))
			tests = append(tests, tc{"y = p+" + big.NewInt(i).String(), hex.EncodeToString(leBytes(y, sign))})
		}
	}
	tests = append(tests,
		tc{"not on the curve (y = 2)", "0200000000000000000000000000000000000000000000000000000000000000"},
		tc{"not on the curve (y = 2^255-20, 2^255 - 1 - 19)", "ebffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := hex.DecodeString(tt.hex)
			if err != nil || len(x) != 32 {
				t.Fatalf("bad test vector %s", tt.hex)
			}
			if k, err := ParseJWK(okpJWK(x), RequireAll); err == nil {
				t.Fatalf("ParseJWK accepted Ed25519 key %s: %+v", tt.hex, k)
			}
			if err := CheckKey(EdDSA, ed25519.PublicKey(x)); err == nil {
				t.Fatalf("CheckKey accepted Ed25519 key %s", tt.hex)
			}
			if keys, _, err := ParseJWKS([]byte(`{"keys":[` + string(okpJWK(x)) + `]}`)); err != nil || len(keys) != 0 {
				t.Fatalf("ParseJWKS = %v, %v; want the key skipped", keys, err)
			}
		})
	}
	// The RFC 8032 §7.1 test key, and the fixture's, still parse.
	for _, h := range []string{"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", hex.EncodeToString(fixtures().ed.pub.Public.(ed25519.PublicKey))} {
		x, _ := hex.DecodeString(h)
		if _, err := ParseJWK(okpJWK(x), RequireAll); err != nil {
			t.Errorf("ParseJWK refused the good key %s: %v", h, err)
		}
	}
}

// TestSmallOrderKeyForgery: with the identity as public key, R = B and
// S = 1 verify for every message ([S]B = R + [k]A whatever k is), so a
// JWKS carrying it would let anyone mint tokens. Verify refuses such a key
// even when the caller's key lookup hands it over without ParseJWK.
func TestSmallOrderKeyForgery(t *testing.T) {
	identity := make([]byte, 32)
	identity[0] = 1
	sig := make([]byte, 64)
	basepoint, _ := hex.DecodeString("5866666666666666666666666666666666666666666666666666666666666666")
	copy(sig, basepoint)
	sig[32] = 1
	if !ed25519.Verify(identity, []byte("any message"), sig) {
		t.Fatal("crypto/ed25519 does not accept the forgery; the test no longer shows the attack")
	}
	evil := &Key{KID: "evil", Alg: EdDSA, Public: ed25519.PublicKey(identity)}
	input := b64.EncodeToString([]byte(`{"alg":"EdDSA","kid":"evil","typ":"at+jwt"}`)) + "." + b64.EncodeToString([]byte(payload(t, nil)))
	tok := input + "." + b64.EncodeToString(sig)

	if _, err := ParseJWK(okpJWK(identity), RequireAll); err == nil {
		t.Error("ParseJWK accepted the identity point as Ed25519 key")
	}
	c, err := Verify(tok, func(string) (*Key, error) { return evil, nil }, checks())
	if c != nil || !errors.Is(err, ErrInvalid) {
		t.Fatalf("Verify of a forged token under the identity key = %+v, %v; want ErrInvalid", c, err)
	}
}

// TestSmallOrderEncodingsComplete derives the small-order points from the
// curve with math/big, independently of any list: the cofactor part [l]P
// of a point P generates the 8-torsion subgroup. Every encoding of each of
// its points that a lenient decoder would accept (both sign bits when
// x = 0; y + p when below 2^255) must be in smallOrderEncodings, and
// every entry must be such an encoding.
func TestSmallOrderEncodingsComplete(t *testing.T) {
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	var gen *point
	for y := int64(3); gen == nil; y++ {
		p, ok := decodeY(big.NewInt(y), 0)
		if !ok {
			continue
		}
		q := p.mul(l)
		if !q.mul(big.NewInt(4)).isIdentity() {
			gen = q
		}
	}
	if !gen.mul(big.NewInt(8)).isIdentity() {
		t.Fatal("[8]T is not the identity")
	}
	want := map[string]bool{}
	q := newIdentity()
	for range 8 {
		for _, sign := range []byte{0, 0x80} {
			if sign != 0 && q.x.Sign() != 0 {
				continue // the other sign is another point, also in the group
			}
			for _, y := range []*big.Int{q.y, new(big.Int).Add(q.y, edP)} {
				if y.BitLen() > 255 {
					continue
				}
				enc := leBytes(y, sign|q.sign())
				want[hex.EncodeToString(enc)] = true
			}
		}
		q = q.add(gen)
	}
	if !q.isIdentity() {
		t.Fatal("[8]T is not the identity")
	}
	got := map[string]bool{}
	for _, h := range smallOrderEncodings {
		got[h] = true
	}
	for h := range want {
		if !got[h] {
			t.Errorf("small-order encoding %s missing from the list", h)
		}
	}
	for h := range got {
		if !want[h] {
			t.Errorf("listed encoding %s is not of a small-order point", h)
		}
	}
	if len(want) != 14 {
		t.Errorf("%d encodings, want 8 canonical and 6 others", len(want))
	}
}

// Affine twisted Edwards arithmetic (-x² + y² = 1 + d x² y²) for the test
// above; slow and simple.
type point struct{ x, y *big.Int }

func newIdentity() *point { return &point{big.NewInt(0), big.NewInt(1)} }

func (p *point) isIdentity() bool { return p.x.Sign() == 0 && p.y.Cmp(big.NewInt(1)) == 0 }

func (p *point) sign() byte { return byte(p.x.Bit(0)) << 7 }

func modP(v *big.Int) *big.Int { return v.Mod(v, edP) }

func (p *point) add(q *point) *point {
	x1y2 := modP(new(big.Int).Mul(p.x, q.y))
	y1x2 := modP(new(big.Int).Mul(p.y, q.x))
	y1y2 := modP(new(big.Int).Mul(p.y, q.y))
	x1x2 := modP(new(big.Int).Mul(p.x, q.x))
	dxy := modP(new(big.Int).Mul(edD, modP(new(big.Int).Mul(x1x2, y1y2))))
	x3 := new(big.Int).Mul(new(big.Int).Add(x1y2, y1x2), new(big.Int).ModInverse(modP(new(big.Int).Add(big.NewInt(1), dxy)), edP))
	y3 := new(big.Int).Mul(new(big.Int).Add(y1y2, x1x2), new(big.Int).ModInverse(modP(new(big.Int).Sub(big.NewInt(1), dxy)), edP))
	return &point{modP(x3), modP(y3)}
}

func (p *point) mul(k *big.Int) *point {
	r := newIdentity()
	for i := k.BitLen() - 1; i >= 0; i-- {
		r = r.add(r)
		if k.Bit(i) == 1 {
			r = r.add(p)
		}
	}
	return r
}

// decodeY returns the point with y and the sign of x, if there is one.
func decodeY(y *big.Int, sign byte) (*point, bool) {
	y2 := modP(new(big.Int).Mul(y, y))
	u := modP(new(big.Int).Sub(y2, big.NewInt(1)))
	v := modP(new(big.Int).Add(modP(new(big.Int).Mul(edD, y2)), big.NewInt(1)))
	x := new(big.Int).ModSqrt(modP(new(big.Int).Mul(u, new(big.Int).ModInverse(v, edP))), edP)
	if x == nil {
		return nil, false
	}
	if byte(x.Bit(0))<<7 != sign {
		x = modP(new(big.Int).Neg(x))
	}
	return &point{x, new(big.Int).Set(y)}, true
}

// leBytes is the 32-byte little-endian encoding of y with sign in the top
// bit.
func leBytes(y *big.Int, sign byte) []byte {
	var be [32]byte
	y.FillBytes(be[:])
	be[0] |= sign
	out := make([]byte, 32)
	for i := range out {
		out[i] = be[31-i]
	}
	return out
}
