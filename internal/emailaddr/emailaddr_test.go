package emailaddr

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	long252 := strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + "." + strings.Repeat("e", 60)
	const (
		ok       = ""
		syntax   = "email is not a valid address"
		nonASCII = "the part of the email address before the @ must be ASCII: this server does not accept internationalised local parts"
		badLocal = "the part of the email address before the @ has characters that cannot be used in an address"
		badDom   = "the domain of the email address is not a valid domain name"
		tooLong  = "email is too long (at most 254 bytes, 64 before the @)"
	)
	tests := []struct {
		name      string
		in        string
		unicode   bool
		mail, key string
		err       string
	}{
		{"plain", "ada@example.com", false, "ada@example.com", "ada@example.com", ok},
		{"surrounding space", "  ada@example.com\t", false, "ada@example.com", "ada@example.com", ok},
		{"ASCII case kept for mail, folded for key", "Ada.Lovelace@Example.COM", false, "Ada.Lovelace@Example.COM", "ada.lovelace@example.com", ok},
		{"plus address", "ada+latch@example.com", false, "ada+latch@example.com", "ada+latch@example.com", ok},

		// Spellings that strings.ToLower folds onto ASCII addresses.
		{"dotted capital I", "\u0130nfo@corp.example", false, "", "", nonASCII},
		{"Kelvin sign", "\u212Aate@corp.example", false, "", "", nonASCII},
		{"long s", "\u017Fam@corp.example", false, "", "", nonASCII},
		{"fullwidth letters", "\uff49\uff4e\uff46\uff4f@corp.example", false, "", "", nonASCII},
		{"dotted capital I, unicode: its own address", "\u0130nfo@corp.example", true, "\u0130nfo@corp.example", "\u0130nfo@corp.example", ok},
		{"Kelvin sign, unicode: mailed as the ASCII K it normalises to", "\u212Aate@corp.example", true, "Kate@corp.example", "kate@corp.example", ok},
		{"long s, unicode: a compatibility character, refused", "\u017Fam@corp.example", true, "", "", badLocal},
		{"fullwidth letters, unicode: mailed as ASCII", "\uff49\uff4e\uff46\uff4f@corp.example", true, "info@corp.example", "info@corp.example", ok},
		{"fullwidth at sign, unicode", "a\uff20b@corp.example", true, "", "", badLocal},
		{"fullwidth full stop, unicode", "a\uff0eb@corp.example", true, "a.b@corp.example", "a.b@corp.example", ok},
		{"fullwidth full stop doubling a dot, unicode", "a.\uff0eb@corp.example", true, "", "", badLocal},
		{"non-ASCII case kept in the key, unicode", "J\u00d6rg@example.de", true, "J\u00d6rg@example.de", "j\u00d6rg@example.de", ok},
		{"combining sequence composed, unicode", "jo\u0308rg@example.de", true, "j\u00f6rg@example.de", "j\u00f6rg@example.de", ok},
		{"sharp s not expanded, unicode", "stra\u00dfe@example.de", true, "stra\u00dfe@example.de", "stra\u00dfe@example.de", ok},
		{"symbol, unicode", "\u2603@example.com", true, "", "", badLocal},

		// Domains: one A-label form.
		{"U-label domain", "kate@ex\u00e4mple.com", false, "kate@xn--exmple-cua.com", "kate@xn--exmple-cua.com", ok},
		{"A-label domain", "kate@xn--exmple-cua.com", false, "kate@xn--exmple-cua.com", "kate@xn--exmple-cua.com", ok},
		{"mixed-case A-label", "kate@XN--Exmple-CUA.com", false, "kate@XN--Exmple-CUA.com", "kate@xn--exmple-cua.com", ok},
		{"upper-case U-label", "kate@EX\u00c4MPLE.COM", false, "kate@xn--exmple-cua.com", "kate@xn--exmple-cua.com", ok},
		{"uppercase domain", "kate@EXAMPLE.COM", false, "kate@EXAMPLE.COM", "kate@example.com", ok},
		{"ideographic full stop", "kate@example\u3002com", false, "kate@example.com", "kate@example.com", ok},
		{"fullwidth domain", "kate@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com", false, "kate@example.com", "kate@example.com", ok},
		{"non-transitional sharp s", "x@fa\u00df.de", false, "x@xn--fa-hia.de", "x@xn--fa-hia.de", ok},
		{"trailing dot", "kate@example.com.", false, "", "", syntax},
		{"leading dot", "kate@.example.com", false, "", "", syntax},
		{"undotted domain", "kate@localhost", false, "", "", badDom},
		{"underscore", "kate@ex_ample.com", false, "", "", badDom},
		{"hyphen-led label", "kate@-example.com", false, "", "", badDom},
		{"bad A-label", "kate@xn--abc-.com", false, "", "", badDom},
		{"A-label of a mapped form", "kate@xn--EXMPLE-CUA.com", false, "kate@xn--EXMPLE-CUA.com", "kate@xn--exmple-cua.com", ok},
		{"zero-width joiner", "kate@exa\u200dmple.com", false, "", "", badDom},
		{"63-byte label", "kate@" + strings.Repeat("a", 63) + ".com", false, "kate@" + strings.Repeat("a", 63) + ".com", "kate@" + strings.Repeat("a", 63) + ".com", ok},
		{"64-byte label", "kate@" + strings.Repeat("a", 64) + ".com", false, "", "", badDom},
		{"domain literal", "kate@[192.0.2.1]", false, "", "", syntax},

		// The existing syntax and length rules.
		{"empty", "", false, "", "", syntax},
		{"no at", "kate", false, "", "", syntax},
		{"display name", "Kate <kate@example.com>", false, "", "", syntax},
		{"comment", "kate@example.com (Kate)", false, "", "", syntax},
		{"two addresses", "kate@example.com, bob@example.com", false, "", "", syntax},
		{"quoted local part", `"kate"@example.com`, false, "", "", syntax},
		{"double dot", "ka..te@example.com", false, "", "", syntax},
		{"invalid UTF-8", "kate\xff@example.com", false, "", "", syntax},
		{"64-byte local part", strings.Repeat("a", 64) + "@example.com", false, strings.Repeat("a", 64) + "@example.com", strings.Repeat("a", 64) + "@example.com", ok},
		{"65-byte local part", strings.Repeat("a", 65) + "@example.com", false, "", "", tooLong},
		{"254 bytes", "a@" + long252, false,
			"a@" + long252,
			"a@" + long252, ok},
		{"255 bytes", "ab@" + long252, false, "", "", tooLong},
	}
	for _, tt := range tests {
		a, err := Parse(tt.in, tt.unicode)
		got := ""
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("%s: Parse(%q) error %v is a %T, want *Error", tt.name, tt.in, err, err)
			}
			got = err.Error()
		}
		if got != tt.err || a.Mail != tt.mail || a.Key != tt.key {
			t.Errorf("%s: Parse(%q, unicode=%v) = {%q, %q}, %q; want {%q, %q}, %q", tt.name, tt.in, tt.unicode, a.Mail, a.Key, got, tt.mail, tt.key, tt.err)
		}
	}
}

// TestSameKeySameMailbox lists spellings that must be one account, and
// spellings that must not reach the ASCII one.
func TestSameKeySameMailbox(t *testing.T) {
	key := func(s string, unicode bool) string {
		t.Helper()
		a, err := Parse(s, unicode)
		if err != nil {
			return "error: " + err.Error()
		}
		return a.Key
	}
	for _, u := range []bool{false, true} {
		for _, pair := range [][2]string{
			{"kate@ex\u00e4mple.com", "kate@xn--exmple-cua.com"},
			{"kate@ex\u00e4mple.com", "KATE@XN--EXMPLE-CUA.COM"},
			{"Info@Corp.Example", "info@corp.example"},
		} {
			if a, b := key(pair[0], u), key(pair[1], u); a != b {
				t.Errorf("unicode=%v: %q has key %q, %q has %q; want one key", u, pair[0], a, pair[1], b)
			}
		}
	}
	for _, s := range []string{"\u0130nfo@corp.example", "\u0131nfo@corp.example", "info\u0307@corp.example"} {
		for _, u := range []bool{false, true} {
			if k := key(s, u); k == "info@corp.example" {
				t.Errorf("unicode=%v: %q has the key of info@corp.example", u, s)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"ada@example.com", "Ada.Lovelace@Example.COM", "\u0130nfo@corp.example", "\u212Aate@corp.example",
		"\u017Fam@corp.example", "\uff49\uff4e\uff46\uff4f@corp.example", "kate@ex\u00e4mple.com",
		"kate@XN--EXMPLE-CUA.com", "kate@example.com.", "a\uff20b@corp.example", "a.\uff0eb@x.com",
		"stra\u00dfe@fa\u00df.de", "jo\u0308rg@example.de", "\u05d0@\u05d0.com", "a@x\u200d.com",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, unicode bool) {
		a, err := Parse(s, unicode)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || a != (Address{}) {
				t.Fatalf("Parse(%q) = %+v, %v (%T)", s, a, err, err)
			}
			return
		}
		// The key is the mail address with ASCII case folded (and back in
		// NFC): two spellings with one key are mailed at one mailbox.
		at := strings.LastIndexByte(a.Mail, '@')
		if localKey(a.Mail[:at])+lowerASCII(a.Mail[at:]) != a.Key {
			t.Fatalf("Parse(%q): key %q is not the mail address %q with ASCII case folded", s, a.Key, a.Mail)
		}
		if !unicode && (!ascii(a.Key) || !ascii(a.Mail)) {
			t.Fatalf("Parse(%q) without unicode = %+v, not ASCII", s, a)
		}
		if len(a.Mail) > MaxLength || !utf8.ValidString(a.Mail) {
			t.Fatalf("Parse(%q): mail address %q too long or not UTF-8", s, a.Mail)
		}
		// An ASCII address is mailed as given and keyed as strings.ToLower
		// keyed it, so accounts stored under the old rules keep their keys.
		if in := strings.TrimSpace(s); ascii(in) && (a.Mail != in || a.Key != strings.ToLower(in)) {
			t.Fatalf("Parse(%q) = %+v: an ASCII address changed", s, a)
		}
		// Normalising is idempotent: the mail address and the key parse to
		// themselves.
		b, err := Parse(a.Mail, unicode)
		if err != nil || b != a {
			t.Fatalf("Parse(%q) = %+v, but Parse(its mail address) = %+v, %v", s, a, b, err)
		}
		k, err := Parse(a.Key, unicode)
		if err != nil || k.Key != a.Key || k.Mail != a.Key {
			t.Fatalf("Parse(%q) = %+v, but Parse(its key) = %+v, %v", s, a, k, err)
		}
		// The modes agree on what both accept.
		if !unicode {
			u, err := Parse(s, true)
			if err != nil || u != a {
				t.Fatalf("Parse(%q): %+v without unicode, %+v, %v with", s, a, u, err)
			}
		}
	})
}
