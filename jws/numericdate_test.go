package jws

import (
	"errors"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNumericDate(t *testing.T) {
	tests := []struct {
		raw  string
		want time.Time // zero: refused
	}{
		{"0", time.Unix(0, 0)},
		{"1700000000", time.Unix(1700000000, 0)},
		{"1700000000.5", time.Unix(1700000000, 500_000_000)},
		{"1700000000.000000001", time.Unix(1700000000, 1)},
		{"1700000000.1234567899", time.Unix(1700000000, 123456789)}, // beyond nanoseconds: truncated
		{"253402300799", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
		{"253402300799.999999999", time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},

		// Past year 9999, up to where time.Unix wraps around.
		{"253402300800", time.Time{}},
		{"9223372036854775807", time.Time{}},
		{"9223372036854775808", time.Time{}},
		{"99999999999999999999", time.Time{}},
		// Negative.
		{"-1", time.Time{}},
		{"-0", time.Time{}},
		{"-1700000000", time.Time{}},
		// Exponents (1.7e9 is never how a NumericDate is written) and
		// what is not a JSON number.
		{"1.5e10", time.Time{}},
		{"1e9", time.Time{}},
		{"17E8", time.Time{}},
		{"01", time.Time{}},
		{"1.", time.Time{}},
		{".5", time.Time{}},
		{"+1", time.Time{}},
		{"", time.Time{}},
		{"NaN", time.Time{}},
		{"Infinity", time.Time{}},
		{`"1700000000"`, time.Time{}},
		{"null", time.Time{}},
		{"1 ", time.Time{}},
	}
	for _, tt := range tests {
		got, ok := numericDate([]byte(tt.raw))
		switch {
		case tt.want.IsZero() && ok:
			t.Errorf("numericDate(%q) = %v, want refused", tt.raw, got)
		case !tt.want.IsZero() && (!ok || !got.Equal(tt.want)):
			t.Errorf("numericDate(%q) = %v, %v; want %v", tt.raw, got, ok, tt.want.UTC())
		}
	}
}

// TestVerifyTimeClaimsBounded: NumericDates too large for time.Unix wrapped
// around into the distant past, so that a token not valid before (or
// issued in) the year 292277026596 was accepted; they are malformed.
func TestVerifyTimeClaimsBounded(t *testing.T) {
	ed := fixtures().ed
	const huge = "9223372036854775807"
	tests := []struct {
		name  string
		claim string
		value string
	}{
		{"nbf int64 max", "nbf", huge},
		{"iat int64 max", "iat", huge},
		{"exp int64 max", "exp", huge},
		{"nbf past year 9999", "nbf", "253402300800"},
		{"exp past year 9999", "exp", "253402300800"},
		{"exp fractional past year 9999", "exp", "253402300800.5"},
		{"nbf negative", "nbf", "-1"},
		{"exp in exponent notation", "exp", "1.8e9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := payload(t, func(p map[string]any) { p[tt.claim] = "PLACEHOLDER" })
			p = strings.Replace(p, `"PLACEHOLDER"`, tt.value, 1)
			c, err := Verify(ed.forge(t, ed.header(), p), keyFor, checks())
			if c != nil || !errors.Is(err, ErrInvalid) || errors.Is(err, ErrExpired) {
				t.Fatalf("Verify with %s %s = %+v, %v; want a refusal as malformed (not expired)", tt.claim, tt.value, c, err)
			}
		})
	}
	// A fractional NumericDate (RFC 7519 §2) is compared to the
	// nanosecond.
	exp := testNow.Unix()
	for _, tt := range []struct {
		value string
		ok    bool
	}{{strconv.FormatInt(exp, 10) + ".000000001", true}, {strconv.FormatInt(exp, 10) + ".0", false}, {strconv.FormatInt(exp-1, 10) + ".999999999", false}} {
		p := payload(t, func(p map[string]any) { p["exp"] = "PLACEHOLDER" })
		p = strings.Replace(p, `"PLACEHOLDER"`, tt.value, 1)
		c, err := Verify(ed.forge(t, ed.header(), p), keyFor, checks())
		if (err == nil) != tt.ok || !tt.ok && !errors.Is(err, ErrExpired) {
			t.Errorf("Verify with exp %s at %d = %+v, %v; want ok=%v", tt.value, exp, c, err, tt.ok)
		}
	}
}

// TestVerifyZeroNowMeansNow: a Checks without Now checks the times against
// the current time instead of not at all.
func TestVerifyZeroNowMeansNow(t *testing.T) {
	ed := fixtures().ed
	now := time.Now()
	zero := func() *Checks { return &Checks{Issuer: testIssuer, Audience: testAudience} }
	tests := []struct {
		name    string
		edit    func(map[string]any)
		ok      bool
		expired bool
	}{
		{"valid now", func(p map[string]any) {
			p["exp"], p["iat"], p["nbf"] = now.Add(time.Hour).Unix(), now.Unix(), now.Unix()
		}, true, false},
		{"expired an hour ago", func(p map[string]any) {
			p["exp"], p["iat"], p["nbf"] = now.Add(-time.Hour).Unix(), now.Add(-2*time.Hour).Unix(), now.Add(-2*time.Hour).Unix()
		}, false, true},
		{"expired in 1970", func(p map[string]any) { p["exp"], p["iat"], p["nbf"] = 1, 0, 0 }, false, true},
		{"expired, without nbf or iat", func(p map[string]any) {
			p["exp"] = now.Add(-time.Hour).Unix()
			delete(p, "nbf")
			delete(p, "iat")
		}, false, true},
		{"not valid before tomorrow", func(p map[string]any) {
			p["exp"], p["iat"], p["nbf"] = now.Add(48*time.Hour).Unix(), now.Unix(), now.Add(24*time.Hour).Unix()
		}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Verify(ed.forge(t, ed.header(), payload(t, tt.edit)), keyFor, zero())
			if (err == nil) != tt.ok || errors.Is(err, ErrExpired) != tt.expired {
				t.Fatalf("Verify with a zero Now = %+v, %v; want ok=%v expired=%v", c, err, tt.ok, tt.expired)
			}
		})
	}
}

// FuzzNumericDate checks numericDate against a reference built on
// math/big: it accepts exactly the JSON numbers without sign or exponent
// from 0 to the end of year 9999, and returns their value truncated to
// the nanosecond.
func FuzzNumericDate(f *testing.F) {
	for _, s := range []string{
		"0", "1", "1700000000", "1700000000.5", "253402300799", "253402300799.999999999", "253402300800",
		"9223372036854775807", "9223372036854775808", "-1", "-0", "1e9", "1.5E+10", "01", "1.", ".5", "00.1",
		"1.0000000001", "NaN", "Infinity", `"1"`, "null", " 1", "1 ", "0x10", "١",
	} {
		f.Add([]byte(s))
	}
	maxDate := big.NewRat(maxNumericDate+1, 1)
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := numericDate(raw)
		wantOK := plainNumber(raw)
		var r *big.Rat
		if wantOK {
			var parsed bool
			r, parsed = new(big.Rat).SetString(string(raw))
			wantOK = parsed && r.Cmp(maxDate) < 0
		}
		if ok != wantOK {
			t.Fatalf("numericDate(%q) ok = %v (%v), reference says %v", raw, ok, got, wantOK)
		}
		if !ok {
			return
		}
		// floor(r * 1e9) = seconds*1e9 + nanoseconds.
		ns := new(big.Int).Quo(new(big.Rat).Mul(r, big.NewRat(1e9, 1)).Num(), new(big.Rat).Mul(r, big.NewRat(1e9, 1)).Denom())
		want := new(big.Int).Add(new(big.Int).Mul(big.NewInt(got.Unix()), big.NewInt(1e9)), big.NewInt(int64(got.Nanosecond())))
		if ns.Cmp(want) != 0 || got.Location() != time.UTC {
			t.Fatalf("numericDate(%q) = %v (%s ns), reference %s ns", raw, got, want, ns)
		}
		if got.Year() < 1970 || got.Year() > 9999 {
			t.Fatalf("numericDate(%q) = %v, outside 1970 to 9999", raw, got)
		}
	})
}

// plainNumber reports whether raw is a JSON number (RFC 8259 §6) with
// neither minus sign nor exponent.
func plainNumber(raw []byte) bool {
	s := string(raw)
	intPart, frac, hasFrac := strings.Cut(s, ".")
	digits := func(s string) bool {
		for _, c := range []byte(s) {
			if c < '0' || c > '9' {
				return false
			}
		}
		return s != ""
	}
	if !digits(intPart) || len(intPart) > 1 && intPart[0] == '0' {
		return false
	}
	return !hasFrac || digits(frac)
}
