package password

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPolicyCheck(t *testing.T) {
	const (
		ok       = ""
		short8   = "must be at least 8 characters"
		common   = "is too common"
		hasEmail = "must not contain the part of your email address before the @"
	)
	tests := []struct {
		name   string
		policy Policy
		pw     string
		email  string
		want   string // "" for accepted, else the Reason
	}{
		{"plain accepted", Policy{}, "zebra-lantern-41-quiet", "jo@example.com", ok},
		{"7 characters", Policy{}, "zq8#kv2", "jo@example.com", short8},
		{"8 characters", Policy{}, "zq8#kv2w", "jo@example.com", ok},
		{"empty", Policy{}, "", "jo@example.com", short8},
		{"7 code points after NFC (14 before)", Policy{}, strings.Repeat("e\u0301", 7), "jo@example.com", short8},
		{"8 code points after NFC", Policy{}, strings.Repeat("e\u0301", 8), "jo@example.com", ok},
		{"8 emoji", Policy{}, "🔒🦓🔒🦓🔒🦓🔒🦓", "jo@example.com", ok},
		{"spaces allowed", Policy{}, "  four words here  ", "jo@example.com", ok},
		{"all spaces allowed", Policy{}, strings.Repeat(" ", 12), "jo@example.com", ok},
		{"tab allowed", Policy{}, "zebra\tlantern\t41", "jo@example.com", ok},
		{"invalid UTF-8", Policy{}, "zebra-lantern-\xff-41", "jo@example.com", "must be valid UTF-8 text"},
		{"configured minimum 15", Policy{MinLength: 15}, "zebra-lantern41", "jo@example.com", ok},
		{"under configured minimum 15", Policy{MinLength: 15}, "zebra-lantern4", "jo@example.com", "must be at least 15 characters"},
		{"1024 code points", Policy{}, strings.Repeat("zq8€", 256), "jo@example.com", ok},
		{"1025 code points", Policy{}, strings.Repeat("zq8€", 256) + "x", "jo@example.com", "must be at most 1024 characters"},
		{"maximum raised to 256", Policy{MaxLength: 100}, strings.Repeat("zq8€", 64), "jo@example.com", ok},
		{"over raised maximum", Policy{MaxLength: 100}, strings.Repeat("zq8€", 64) + "x", "jo@example.com", "must be at most 256 characters"},
		{"common", Policy{}, "password", "jo@example.com", common},
		{"common any case", Policy{}, "PassWord", "jo@example.com", common},
		{"common qwertyuiop", Policy{}, "QWERTYUIOP", "jo@example.com", common},
		{"common digits", Policy{}, "123456789", "jo@example.com", common},
		{"common iloveyou", Policy{}, "iloveyou", "jo@example.com", common},
		{"equals local part", Policy{}, "john.smith", "john.smith@example.com", hasEmail},
		{"contains local part", Policy{}, "xx-John.Smith-2024", "john.smith@example.com", hasEmail},
		{"contains local part of upper-case email", Policy{}, "xx-john.smith-2024", "John.Smith@Example.com", hasEmail},
		{"contains whole email", Policy{}, "john.smith@example.com", "john.smith@example.com", hasEmail},
		{"contains base of plus address", Policy{}, "xx-robert-tables-99!", "robert+latch@example.com", hasEmail},
		{"3-character base of plus address not applied", Policy{}, "bobby-tables-99!", "bob+latch@example.com", ok},
		{"4-character local part", Policy{}, "zebra-dela-lantern", "dela@example.com", hasEmail},
		{"3-character local part not applied", Policy{}, "deletion-of-records", "del@example.com", ok},
		{"2-character local part not applied", Policy{}, "always-alabama-42", "al@example.com", ok},
		{"1-character local part not applied", Policy{}, "a-zebra-lantern-a", "a@x.com", ok},
		{"no email", Policy{}, "zebra-lantern-41-quiet", "", ok},
		{"local part of NFC email", Policy{}, "zz-rene\u0301-zz", "ren\u00e9@example.com", hasEmail},
	}
	for _, tt := range tests {
		err := tt.policy.Check(tt.pw, tt.email)
		got := ""
		if err != nil {
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Errorf("%s: Check = %v (%T), want a *PolicyError", tt.name, err, err)
				continue
			}
			got = pe.Reason
			if err.Error() != "password "+pe.Reason {
				t.Errorf("%s: Error() = %q, want %q", tt.name, err.Error(), "password "+pe.Reason)
			}
		}
		if got != tt.want {
			t.Errorf("%s: Check(%q, %q) reason = %q, want %q", tt.name, tt.pw, tt.email, got, tt.want)
		}
	}
}

func TestCommonList(t *testing.T) {
	l := loadCommon()
	if l.len() < 100000 {
		t.Errorf("common list has %d entries, want at least 100000", l.len())
	}
	for i := 1; i < l.len(); i++ {
		if a, b := l.at(i-1), l.at(i); a >= b {
			t.Fatalf("common list not sorted and unique at %d: %q >= %q", i, a, b)
		}
	}
	for i := 0; i < l.len(); i++ {
		if e := l.at(i); e != strings.ToLower(Normalize(e)) || utf8.RuneCountInString(e) < 4 {
			t.Fatalf("entry %d %q is not lower-cased NFC of at least 4 code points", i, e)
		}
	}
	for _, tt := range []struct {
		pw   string
		want bool
	}{
		{"password", true},
		{"Password", true},
		{"123456789", true},
		{"qwertyuiop", true},
		{"letmein", true},
		{"iloveyou", true},
		{"zebra-lantern-41-quiet", false},
		{"", false},
		{"password\npassword", false},
		{"\x00", false},
	} {
		if got := IsCommon(tt.pw); got != tt.want {
			t.Errorf("IsCommon(%q) = %v, want %v", tt.pw, got, tt.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"cafe\u0301", "caf\u00e9"},
		{"caf\u00e9", "caf\u00e9"},
		{"\u212b", "\u00c5"}, // ANGSTROM SIGN -> A WITH RING ABOVE
		{"ﬁ", "ﬁ"},           // compatibility ligature kept (NFC, not NFKC)
	} {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%+q) = %+q, want %+q", tt.in, got, tt.want)
		}
	}
}
