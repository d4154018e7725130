package cursor

import (
	"math"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, p := range []Position{
		{},
		{Micros: 1577934245000006, ID: "0b7c-uuid"},
		{Micros: -315619200000000, ID: "with:colons:in:it"},
		{Num: math.MaxUint64},
		{Micros: math.MinInt64, Num: 1, ID: "é"},
	} {
		for _, k := range []Kind{Users, Audit, Revocations} {
			c := Encode(k, p)
			got, ok := Decode(k, c)
			if !ok || got != p {
				t.Errorf("Decode(%c, Encode(%+v)) = %+v, %v", k, p, got, ok)
			}
			if strings.ContainsAny(c, "+/=") {
				t.Errorf("cursor %q is not unpadded base64url", c)
			}
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	good := Encode(Users, Position{Micros: 5, ID: "x"})
	for name, c := range map[string]string{
		"empty":           "",
		"junk":            "garbage!",
		"old user format": "dTE6eDp5", // "u1:x:y"
		"other list":      Encode(Audit, Position{Micros: 5, ID: "x"}),
		"padded":          good + "=",
		"newline":         good[:4] + "\n" + good[4:],
		"short":           good[:10],
		"too long":        Encode(Users, Position{ID: strings.Repeat("x", MaxLen)}),
		"not utf-8":       Encode(Users, Position{ID: "\xff"}),
		"other version":   "Ag" + good[2:],
	} {
		if p, ok := Decode(Users, c); ok {
			t.Errorf("%s: Decode(%q) accepted as %+v", name, c, p)
		}
	}
}

// FuzzDecode: cursors come from query parameters. Decode must not panic,
// and what it accepts has one spelling: it encodes back to the same text.
func FuzzDecode(f *testing.F) {
	f.Add(byte(Users), Encode(Users, Position{Micros: 1, ID: "x"}))
	f.Add(byte(Audit), Encode(Audit, Position{Num: 7}))
	f.Add(byte(Revocations), Encode(Revocations, Position{Micros: 1, Num: 1 << 60}))
	f.Add(byte(Users), "dTE6MTIzOg")
	f.Add(byte(Audit), "")
	f.Fuzz(func(t *testing.T, k byte, c string) {
		p, ok := Decode(Kind(k), c)
		if !ok {
			return
		}
		if again := Encode(Kind(k), p); again != c {
			t.Errorf("cursor %q decodes to %+v, which encodes to %q", c, p, again)
		}
	})
}
