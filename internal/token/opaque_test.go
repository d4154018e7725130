package token

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

func TestNewOpaque(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		s, err := NewOpaque()
		if err != nil {
			t.Fatal(err)
		}
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		if len(s) != 43 || strings.Trim(s, alphabet) != "" {
			t.Fatalf("NewOpaque = %q, want 43 base64url characters", s)
		}
		if seen[s] {
			t.Fatalf("NewOpaque repeated %q", s)
		}
		seen[s] = true
		h, ok := HashOpaque(s)
		raw, _ := base64.RawURLEncoding.DecodeString(s)
		want := sha256.Sum256(raw)
		if !ok || !bytes.Equal(h, want[:]) {
			t.Fatalf("HashOpaque(%q) = %x, %v; want %x, true", s, h, ok, want)
		}
	}
}

func TestHashOpaqueRefuses(t *testing.T) {
	s, _ := NewOpaque()
	// Zero bytes encode to "A"s; the last of 43 characters carries 4 unused
	// bits, so "...AB" decodes leniently to the same 32 bytes.
	zero := strings.Repeat("A", 43)
	if _, ok := HashOpaque(zero); !ok {
		t.Fatal("HashOpaque of 32 zero bytes refused")
	}
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"42 chars", s[:42]},
		{"44 chars", s + "A"},
		{"padding", s + "="},
		{"padding in place of the last char", s[:42] + "="},
		{"non-canonical last char", zero[:42] + "B"},
		{"non-canonical last char P", zero[:42] + "P"},
		{"plus", "+" + s[1:]},
		{"slash", s[:10] + "/" + s[11:]},
		{"newline inside", s[:20] + "\n" + s[21:]},
		{"CR", s[:42] + "\r"},
		{"space", " " + s[1:]},
		{"dot", s[:42] + "."},
		{"non-ASCII", s[:41] + "é"},
		{"NUL", s[:42] + "\x00"},
		{"64 chars (48 bytes)", strings.Repeat("A", 64)},
		{"standard encoding of 32 bytes", base64.StdEncoding.EncodeToString(make([]byte, 32))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if h, ok := HashOpaque(tt.in); ok || h != nil {
				t.Errorf("HashOpaque(%q) = %x, %v; want nil, false", tt.in, h, ok)
			}
		})
	}
}
