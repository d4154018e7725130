package jws

import (
	"errors"
	"math/big"
)

// Ed25519 public keys are checked here with math/big rather than by
// decoding the point with an edwards25519 package, which the standard
// library keeps internal. Only key parsing pays for the arithmetic; each
// verification compares against a table.

var (
	// edP is the field prime 2^255 - 19.
	edP = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	// edD is the curve constant d = -121665/121666 mod p of
	// -x² + y² = 1 + d x² y² (RFC 8032 §5.1).
	edD = func() *big.Int {
		d := new(big.Int).Mul(big.NewInt(-121665), new(big.Int).ModInverse(big.NewInt(121666), edP))
		return d.Mod(d, edP)
	}()
)

// smallOrderY are the encodings, sign bit cleared, of the y coordinates of
// the Ed25519 points of order 1, 2, 4 and 8, including the non-canonical
// y = p and y = p+1 that decoders reducing modulo p accept. With either
// sign bit they cover all 14 encodings of small-order points (8 canonical,
// 6 not). The values are libsodium's small-order blocklist
// (ge25519_has_small_order); a test derives them from the curve.
//
// A public key of small order makes [k]A take at most 8 values whatever
// the message, so that signatures verify without the private key (the
// identity: R = B, S = 1 for every message).
var smallOrderY = [7][32]byte{
	// 0: (±sqrt(-1), 0), order 4
	{},
	// 1: the identity, order 1
	{0x01},
	// order 8
	{0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
		0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
	// order 8
	{0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
		0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
	// p-1: (0, -1), order 2
	{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	// p: 0 again, not canonical
	{0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	// p+1: 1 again, not canonical
	{0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
}

// ed25519SmallOrder reports whether the 32-byte encoding a is of a point
// of small order, in any encoding a lenient decoder accepts.
func ed25519SmallOrder(a []byte) bool {
	for i := range smallOrderY {
		y := &smallOrderY[i]
		if string(a[:31]) == string(y[:31]) && a[31]&0x7f == y[31] {
			return true
		}
	}
	return false
}

// checkEd25519 reports whether a is a usable Ed25519 public key: the
// canonical encoding (RFC 8032 §5.1.3: y < p, and no sign bit when x = 0)
// of a point on the curve that is not of small order.
func checkEd25519(a []byte) error {
	if len(a) != 32 {
		return errors.New("jws: Ed25519 key is not 32 bytes")
	}
	if ed25519SmallOrder(a) {
		return errors.New("jws: Ed25519 key is a point of small order")
	}
	var be [32]byte
	for i := range be {
		be[i] = a[31-i]
	}
	sign := be[0] >> 7
	be[0] &= 0x7f
	y := new(big.Int).SetBytes(be[:])
	if y.Cmp(edP) >= 0 {
		return errors.New("jws: Ed25519 key is not canonically encoded")
	}
	// x² = (y² - 1) / (d y² + 1): a point exists when u·v is a square
	// (v is never 0: -1/d is not a square).
	y2 := new(big.Int).Mul(y, y)
	y2.Mod(y2, edP)
	u := new(big.Int).Sub(y2, big.NewInt(1))
	u.Mod(u, edP)
	v := new(big.Int).Mul(edD, y2)
	v.Add(v, big.NewInt(1))
	v.Mod(v, edP)
	if u.Sign() == 0 {
		// x = 0 (y = ±1, already refused as small order): no sign.
		if sign != 0 {
			return errors.New("jws: Ed25519 key is not canonically encoded")
		}
		return nil
	}
	uv := u.Mul(u, v)
	uv.Mod(uv, edP)
	if big.Jacobi(uv, edP) != 1 {
		return errors.New("jws: Ed25519 key is not a point on the curve")
	}
	return nil
}
