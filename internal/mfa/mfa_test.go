package mfa_test

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/mfa"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

func TestMatchRefusesUsedAndEarlierSteps(t *testing.T) {
	secret, url, err := mfa.NewTOTP("latch", "kate@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "otpauth://totp/") || !strings.Contains(url, "secret="+secret) {
		t.Fatalf("url = %q", url)
	}
	now := time.Unix(1_800_000_000, 0)
	// The code as an authenticator app computes it (pquerna/otp's own
	// generator, RFC 6238 defaults).
	code, err := totp.GenerateCodeCustom(secret, now, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	step, ok, err := mfa.Match(secret, code, now, -1)
	if err != nil || !ok || step != mfa.Step(now) {
		t.Fatalf("Match = %d, %v, %v; want the current step", step, ok, err)
	}
	if _, ok, _ := mfa.Match(secret, code, now, step); ok {
		t.Fatal("a code of the step already used was accepted again")
	}
	if _, ok, _ := mfa.Match(secret, code, now, step+1); ok {
		t.Fatal("a code of an earlier step than the last used was accepted")
	}
	// One step of drift either way; two steps is too far.
	if _, ok, _ := mfa.Match(secret, code, now.Add(30*time.Second), -1); !ok {
		t.Fatal("a code from the previous step was refused")
	}
	if _, ok, _ := mfa.Match(secret, code, now.Add(61*time.Second), -1); ok {
		t.Fatal("a code two steps old was accepted")
	}
	wrong := "000000"
	if wrong == code {
		wrong = "111111"
	}
	if _, ok, _ := mfa.Match(secret, wrong, now, -1); ok {
		t.Fatal("a wrong code was accepted")
	}
	if !mfa.ValidSecret(secret) || mfa.ValidSecret("AAAA") {
		t.Fatal("ValidSecret")
	}
}

func TestParseCode(t *testing.T) {
	for in, want := range map[string]string{"123456": "123456", "123 456": "123456", " 123-456 ": "123456"} {
		if got, ok := mfa.ParseCode(in); !ok || got != want {
			t.Errorf("ParseCode(%q) = %q, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "12345", "1234567", "12a456", "１２３４５６", "12-34-56"} {
		if got, ok := mfa.ParseCode(in); ok {
			t.Errorf("ParseCode(%q) = %q, want refused", in, got)
		}
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes, err := mfa.NewRecoveryCodes(mfa.RecoveryCodeCount)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if len(c) != 19 || strings.Count(c, "-") != 3 {
			t.Fatalf("code %q is not four groups of four", c)
		}
		canon, ok := mfa.ParseRecoveryCode(c)
		if !ok {
			t.Fatalf("ParseRecoveryCode(%q) refused its own code", c)
		}
		if seen[canon] {
			t.Fatal("two equal codes in a set")
		}
		seen[canon] = true
		// As typed: upper case, no dashes.
		typed := strings.ToUpper(strings.ReplaceAll(c, "-", " "))
		if again, ok := mfa.ParseRecoveryCode(typed); !ok || again != canon {
			t.Fatalf("ParseRecoveryCode(%q) = %q, %v; want %q", typed, again, ok, canon)
		}
		if !bytes.Equal(mfa.HashRecoveryCode(canon), mfa.HashRecoveryCode(canon)) {
			t.Fatal("hash not deterministic")
		}
	}
	if _, ok := mfa.ParseRecoveryCode("123456"); ok {
		t.Fatal("a TOTP code parsed as a recovery code")
	}
	if a, ok := mfa.ParseRecoveryCode("0000-1111-OOOO-LLLL"); !ok || a != "0000111100001111" {
		t.Fatalf("look-alikes: %q %v", a, ok)
	}
}

func TestQRPNG(t *testing.T) {
	_, url, err := mfa.NewTOTP("latch", "kate@example.com")
	if err != nil {
		t.Fatal(err)
	}
	b, err := mfa.QRPNG(url)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	r := img.Bounds()
	if r.Dx() != r.Dy() || r.Dx() < 21*6 {
		t.Fatalf("image %v", r)
	}
	// The quiet zone is white, the top-left finder pattern black.
	if c, _, _, _ := img.At(0, 0).RGBA(); c != 0xffff {
		t.Fatal("corner is not white")
	}
	if c, _, _, _ := img.At(4*6+1, 4*6+1).RGBA(); c != 0 {
		t.Fatal("finder pattern is not black")
	}
}

func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"123456", "123 456", "12-3456", "", "abcdef", "１２３４５６"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := mfa.ParseCode(s)
		if !ok {
			return
		}
		if len(c) != mfa.Digits {
			t.Fatalf("ParseCode(%q) = %q", s, c)
		}
		for _, r := range c {
			if r < '0' || r > '9' {
				t.Fatalf("ParseCode(%q) = %q", s, c)
			}
		}
		if again, ok := mfa.ParseCode(c); !ok || again != c {
			t.Fatalf("not idempotent: %q", c)
		}
	})
}

func FuzzParseRecoveryCode(f *testing.F) {
	for _, s := range []string{"k7dq-x2mf-9hcw-tp4e", "K7DQ X2MF 9HCW TP4E", "", "ilo0-ilo0-ilo0-ilo0", "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := mfa.ParseRecoveryCode(s)
		if !ok {
			return
		}
		if len(c) != 16 {
			t.Fatalf("ParseRecoveryCode(%q) = %q", s, c)
		}
		if again, ok := mfa.ParseRecoveryCode(c); !ok || again != c {
			t.Fatalf("not idempotent: %q -> %q", c, again)
		}
	})
}
