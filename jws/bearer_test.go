package jws

import (
	"strings"
	"testing"
)

func TestParseBearer(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   string
		err    error
	}{
		{"none", nil, "", ErrNoBearer},
		{"plain", []string{"Bearer abc.def-ghi_jkl"}, "abc.def-ghi_jkl", nil},
		{"lower-case scheme", []string{"bearer abc"}, "abc", nil},
		{"upper-case scheme", []string{"BEARER abc"}, "abc", nil},
		{"padding", []string{"Bearer abc+/~=="}, "abc+/~==", nil},
		{"several spaces", []string{"Bearer   abc"}, "abc", nil},
		{"empty header", []string{""}, "", ErrBadBearer},
		{"scheme only", []string{"Bearer"}, "", ErrBadBearer},
		{"scheme and space", []string{"Bearer "}, "", ErrBadBearer},
		{"basic", []string{"Basic dXNlcjpwYXNz"}, "", ErrBadBearer},
		{"no space", []string{"Bearerabc"}, "", ErrBadBearer},
		{"tab", []string{"Bearer\tabc"}, "", ErrBadBearer},
		{"two tokens", []string{"Bearer abc def"}, "", ErrBadBearer},
		{"trailing space", []string{"Bearer abc "}, "", ErrBadBearer},
		{"only padding", []string{"Bearer =="}, "", ErrBadBearer},
		{"padding inside", []string{"Bearer ab=c"}, "", ErrBadBearer},
		{"bad character", []string{"Bearer ab\"c"}, "", ErrBadBearer},
		{"non-ASCII", []string{"Bearer abcé"}, "", ErrBadBearer},
		{"two headers", []string{"Bearer abc", "Bearer def"}, "", ErrBadBearer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseBearer(tt.values)
			if got != tt.want || err != tt.err {
				t.Errorf("ParseBearer(%q) = %q, %v; want %q, %v", tt.values, got, err, tt.want, tt.err)
			}
		})
	}
}

func FuzzBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer a.b.c", "Bearer ", "Basic x", "Bearer a b", "Bearer ab==", "Bearer =", "", "Bearer\x00x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, err := ParseBearer([]string{h})
		if err != nil {
			if tok != "" {
				t.Fatalf("ParseBearer(%q) = %q with error %v", h, tok, err)
			}
			return
		}
		if !IsB64Token(tok) || strings.ContainsAny(tok, " \t\r\n") {
			t.Fatalf("ParseBearer(%q) = %q, not a b64token", h, tok)
		}
		if !strings.HasSuffix(h, tok) || !strings.EqualFold(h[:len("Bearer ")], "Bearer ") {
			t.Fatalf("ParseBearer(%q) = %q, not the header's token", h, tok)
		}
		again, err := ParseBearer([]string{"Bearer " + tok})
		if err != nil || again != tok {
			t.Fatalf("round trip of %q = %q, %v", tok, again, err)
		}
	})
}
