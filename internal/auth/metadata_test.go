package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/token"
)

func TestNormalizeMetadata(t *testing.T) {
	deep := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	deepArr := func(n int) string { return `{"a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + "}" }
	for _, tt := range []struct {
		in   string
		want string // the stored form, or "" for a refusal
		code Code
	}{
		{in: `{}`, want: `{}`},
		{in: " {\n \"plan\" : \"pro\", \"seats\": 5 }\t", want: `{"plan":"pro","seats":5}`},
		{in: `{"z":1,"a":2}`, want: `{"z":1,"a":2}`}, // key order kept
		{in: `{"n":1.50,"big":123456789012345678901234567890}`, want: `{"n":1.50,"big":123456789012345678901234567890}`},
		{in: `{"h":"<b>&\u2028"}`, want: `{"h":"\u003cb\u003e\u0026\u2028"}`},
		{in: "{\"h\":\"\u2028\"}", want: `{"h":"\u2028"}`},
		{in: `{"a":{"x":1},"b":{"x":2}}`, want: `{"a":{"x":1},"b":{"x":2}}`}, // the same key in different objects
		{in: `{"a":[{"x":1},{"x":2}]}`, want: `{"a":[{"x":1},{"x":2}]}`},
		{in: deep(MaxMetadataDepth), want: deep(MaxMetadataDepth)},
		{in: deepArr(MaxMetadataDepth), want: deepArr(MaxMetadataDepth)},
		{in: `{"k":"` + strings.Repeat("x", MaxMetadataSize-8) + `"}`, want: `{"k":"` + strings.Repeat("x", MaxMetadataSize-8) + `"}`},

		{in: ``, code: CodeInvalidRequest},
		{in: `null`, code: CodeInvalidRequest},
		{in: `[]`, code: CodeInvalidRequest},
		{in: `"x"`, code: CodeInvalidRequest},
		{in: `42`, code: CodeInvalidRequest},
		{in: `{"a":1}{}`, code: CodeInvalidRequest},
		{in: `{"a":1,}`, code: CodeInvalidRequest},
		{in: `{"a" 1}`, code: CodeInvalidRequest},
		{in: "{\"a\":\"\xff\"}", code: CodeInvalidRequest},
		{in: `{"a":1,"a":2}`, code: CodeInvalidMetadata},
		{in: `{"a":{"b":1,"b":1}}`, code: CodeInvalidMetadata},
		{in: `{"\u0061":1,"a":2}`, code: CodeInvalidMetadata}, // equal once unescaped
		{in: deep(MaxMetadataDepth + 1), code: CodeInvalidMetadata},
		{in: deepArr(MaxMetadataDepth + 1), code: CodeInvalidMetadata},
		{in: `{"k":"` + strings.Repeat("x", MaxMetadataSize-7) + `"}`, code: CodeInvalidMetadata},
		// The limit is on the stored form: each '<' takes six bytes.
		{in: `{"k":"` + strings.Repeat("<", MaxMetadataSize/6) + `"}`, code: CodeInvalidMetadata},
	} {
		got, err := NormalizeMetadata("app_metadata", []byte(tt.in))
		if tt.want != "" {
			if err != nil || string(got) != tt.want {
				t.Errorf("NormalizeMetadata(%.60q) = %.60q, %v; want %.60q", tt.in, got, err, tt.want)
			}
			continue
		}
		if ErrorCode(err) != tt.code || got != nil {
			t.Errorf("NormalizeMetadata(%.60q) = %.60q, %v; want code %s", tt.in, got, err, tt.code)
		}
		if err != nil && !strings.Contains(err.Error(), "app_metadata") {
			t.Errorf("NormalizeMetadata(%.60q): %v does not name the field", tt.in, err)
		}
	}
}

// FuzzNormalizeMetadata feeds arbitrary bytes, as a client may send them,
// to the metadata check. What it accepts must be a JSON object equal to
// the input, within the limits, normalized already, and carried unchanged
// by a signed access token through the verifier services use; what it
// refuses is a client's mistake (400 or 422), never anything else.
func FuzzNormalizeMetadata(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"plan":"pro","n":[1,2.5,-3e10,true,null]}`, `{"a":{"a":{"a":[]}}}`,
		`{"a":1,"a":2}`, `{"\ud800":1,"\ud801":2}`, `{"x":"<>&\u2028\u2029"}`, `[]`, `null`,
		`{"a":"\u0000"}`, ` {"a" : 1 } `, "{\"a\":\"\xed\xa0\x80\"}",
	} {
		f.Add([]byte(s))
	}
	key, err := token.GenerateKey("EdDSA")
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	v := &token.IssuerVerifier{
		Keys:     func(kid string) (*token.Key, bool) { return key, kid == key.KID },
		Issuer:   "https://latch.test",
		Audience: "https://latch.test",
		Now:      func() time.Time { return now },
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := NormalizeMetadata("user_metadata", in)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || (e.Code != CodeInvalidRequest && e.Code != CodeInvalidMetadata) || got != nil {
				t.Fatalf("refusal of %q: %v, %q", in, err, got)
			}
			return
		}
		if len(got) > MaxMetadataSize || len(got) == 0 || got[0] != '{' {
			t.Fatalf("accepted %q as %q", in, got)
		}
		again, err := NormalizeMetadata("user_metadata", got)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("normalizing %q again: %q, %v", got, again, err)
		}
		if !sameJSON(t, in, got) {
			t.Fatalf("%q normalized to %q, a different value", in, got)
		}
		tok, err := token.Sign(key, &token.Claims{
			Issuer: v.Issuer, Subject: "u", Audience: []string{v.Audience}, ID: "j",
			IssuedAt: now, ExpiresAt: now.Add(time.Minute), AppMetadata: got,
		})
		if err != nil {
			t.Fatalf("signing %q: %v", got, err)
		}
		c, err := v.Verify(tok)
		if err != nil {
			t.Fatalf("a token carrying %q is refused: %v", got, err)
		}
		if !bytes.Equal(c.AppMetadata, got) {
			t.Fatalf("the token carries %q, want %q", c.AppMetadata, got)
		}
	})
}

func sameJSON(t *testing.T, a, b []byte) bool {
	decode := func(x []byte) any {
		d := json.NewDecoder(bytes.NewReader(x))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("decoding %q: %v", x, err)
		}
		return v
	}
	return reflect.DeepEqual(decode(a), decode(b))
}
