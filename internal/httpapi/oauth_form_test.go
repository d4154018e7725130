package httpapi

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseOAuthForm(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string
		wantErr error
	}{
		{"", map[string]string{}, nil},
		{"a=1&b=2", map[string]string{"a": "1", "b": "2"}, nil},
		{"a=x+y%2Bz%20w", map[string]string{"a": "x y+z w"}, nil},
		{"a=1&&b=2&", map[string]string{"a": "1", "b": "2"}, nil},
		{"a=&b=2", map[string]string{"b": "2"}, nil},      // no value: absent
		{"a&b=2", map[string]string{"b": "2"}, nil},       // no "=": absent
		{"a=1;b=2", map[string]string{"a": "1;b=2"}, nil}, // ";" is not a separator
		{"a=b=c", map[string]string{"a": "b=c"}, nil},
		{"%C3%A9=%E2%82%AC", map[string]string{"é": "€"}, nil},
		{"a=1&a=2", nil, errFormDuplicate},
		{"a=1&a=1", nil, errFormDuplicate},
		{"a=&a=1", nil, errFormDuplicate},
		{"a=1&%61=2", nil, errFormDuplicate}, // the same name escaped
		{"a=%zz", nil, errFormSyntax},
		{"a=%4", nil, errFormSyntax},
		{"%=1", nil, errFormSyntax},
		{"a=%ff", nil, errFormSyntax},
		{"=1", nil, errFormSyntax},
		{manyParams(maxFormParams), nil, nil},
		{manyParams(maxFormParams + 1), nil, errFormSyntax},
	}
	for _, tt := range tests {
		got, err := parseOAuthForm(tt.in)
		name := tt.in
		if len(name) > 40 {
			name = name[:40] + "..."
		}
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("parseOAuthForm(%q) = %v, %v; want %v", name, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseOAuthForm(%q): %v", name, err)
			continue
		}
		if tt.want != nil && !maps.Equal(got, tt.want) {
			t.Errorf("parseOAuthForm(%q) = %v, want %v", name, got, tt.want)
		}
	}
}

func manyParams(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("p%d=v", i)
	}
	return strings.Join(parts, "&")
}

// FuzzOAuthForm checks the OAuth form parser on arbitrary bodies: it never
// panics; what it accepts has unique non-empty valid UTF-8 names and
// non-empty valid UTF-8 values, survives a round trip through
// url.Values.Encode, and agrees with url.ParseQuery wherever that accepts
// the body too.
func FuzzOAuthForm(f *testing.F) {
	for _, s := range []string{
		"grant_type=password&username=ada%40example.com&password=p%C3%A4ss+word",
		"grant_type=refresh_token&refresh_token=abc_DEF-123",
		"token=x&token_type_hint=refresh_token", "a=1&a=2", "a=%zz", "a=1;b=2", "&&=&", "%ff=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := parseOAuthForm(body)
		if err != nil {
			if !errors.Is(err, errFormSyntax) && !errors.Is(err, errFormDuplicate) {
				t.Fatalf("error %v wraps neither errFormSyntax nor errFormDuplicate", err)
			}
			return
		}
		v := url.Values{}
		for k, x := range form {
			if k == "" || x == "" || !utf8.ValidString(k) || !utf8.ValidString(x) {
				t.Fatalf("accepted %q=%q", k, x)
			}
			v.Set(k, x)
		}
		again, err := parseOAuthForm(v.Encode())
		if err != nil || !maps.Equal(again, form) {
			t.Fatalf("round trip of %v: %v, %v", form, again, err)
		}
		if q, err := url.ParseQuery(body); err == nil {
			for k, vs := range q {
				if len(vs) != 1 {
					t.Fatalf("url.ParseQuery sees %q %d times; the strict parser accepted it", k, len(vs))
				}
				if vs[0] != form[k] {
					t.Fatalf("%q: url.ParseQuery %q, strict parser %q", k, vs[0], form[k])
				}
			}
		}
	})
}

func TestParseOAuthClients(t *testing.T) {
	hx := strings.Repeat("ab", 32)
	tests := []struct {
		in      string
		wantIDs []string
		wantErr string
	}{
		{"", nil, ""},
		{" , ", nil, ""},
		{"app:0123456789abcdef", []string{"app"}, ""},
		{"app:0123456789abcdef, svc.v2:sha256:" + hx, []string{"app", "svc.v2"}, ""},
		{"app:secret:with:colons!", []string{"app"}, ""},
		{"app:short", nil, "at least 16"},
		{"app", nil, "want id:secret"},
		{":0123456789abcdef", nil, "want id:secret"},
		{"a b:0123456789abcdef", nil, "want id:secret"},
		{"app:sha256:" + hx[:62], nil, "64 hex"},
		{"app:sha256:" + strings.Repeat("zz", 32), nil, "64 hex"},
		{"app:0123456789abcdef,app:fedcba9876543210", nil, "twice"},
	}
	for _, tt := range tests {
		cs, err := ParseOAuthClients(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseOAuthClients(%q) = %v, %v; want an error containing %q", tt.in, cs, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "0123456789abcdef") {
				t.Errorf("ParseOAuthClients(%q) error %q shows the secret", tt.in, err)
			}
			continue
		}
		var ids []string
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
		if err != nil || fmt.Sprint(ids) != fmt.Sprint(tt.wantIDs) {
			t.Errorf("ParseOAuthClients(%q) = %v, %v; want %v", tt.in, ids, err, tt.wantIDs)
		}
	}
	cs, _ := ParseOAuthClients("app:0123456789abcdef,h:sha256:" + hx)
	if !cs[0].check("0123456789abcdef") || cs[0].check("0123456789abcdeF") || cs[0].check("") {
		t.Error("check of a clear secret is wrong")
	}
	if cs[1].check(hx) {
		t.Error("a hashed client accepted its hash as the secret")
	}
}

// FuzzBasicCredentials checks the HTTP Basic client credential parser on
// arbitrary Authorization headers: it never panics, and what it accepts
// survives a round trip through the RFC 6749 §2.3.1 encoding.
func FuzzBasicCredentials(f *testing.F) {
	for _, s := range []string{basic("app", clientSecret), "Basic Og==", "Basic !!!", "Bearer x", "basic YTpi", "Basic YQ=="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("POST", "/oauth/token", nil)
		r.Header.Set("Authorization", header)
		id, secret, err := basicCredentials(r)
		if err != nil {
			var oe *apiError
			if !errors.As(err, &oe) || oe.status != http.StatusUnauthorized && oe.status != http.StatusBadRequest {
				t.Fatalf("error %v is not a 400/401 OAuth error", err)
			}
			return
		}
		r.Header.Set("Authorization", basic(id, secret))
		id2, secret2, err := basicCredentials(r)
		if err != nil || id2 != id || secret2 != secret {
			t.Fatalf("round trip of %q/%q: %q/%q, %v", id, secret, id2, secret2, err)
		}
	})
}
