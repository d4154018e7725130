package jws

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestImportsStandardLibraryOnly: verify imports this package, and may
// import nothing of latch's server nor any module.
func TestImportsStandardLibraryOnly(t *testing.T) {
	// go test puts its own GOROOT/bin first on PATH, so this is the
	// toolchain running the test.
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool: %v", err)
	}
	out, err := exec.Command(gotool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	if got := strings.Fields(string(out)); !slices.Equal(got, []string{"github.com/latchauth/latch/jws"}) {
		t.Fatalf("package jws depends on %q; want the standard library only", got)
	}
}

func TestVerifyAccepts(t *testing.T) {
	f := fixtures()
	for _, s := range []*signer{f.ed, f.ec, f.rs} {
		t.Run(s.pub.Alg, func(t *testing.T) {
			tok := s.forge(t, s.header(), payload(t, func(p map[string]any) { p["aud"] = []string{"other", testAudience} }))
			c, err := Verify(tok, keyFor, checks())
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := Claims{
				Issuer: testIssuer, Subject: "user-1", Audience: []string{"other", testAudience},
				ExpiresAt: testNow.Add(15 * time.Minute), IssuedAt: testNow, NotBefore: testNow,
				ID: "jti-1", SessionID: "sess-1", Roles: []string{"user"},
				Email: "a@example.com", EmailVerified: true,
			}
			if c.Issuer != want.Issuer || c.Subject != want.Subject || !slices.Equal(c.Audience, want.Audience) ||
				!c.ExpiresAt.Equal(want.ExpiresAt) || !c.IssuedAt.Equal(want.IssuedAt) || !c.NotBefore.Equal(want.NotBefore) ||
				c.ID != want.ID || c.SessionID != want.SessionID || !slices.Equal(c.Roles, want.Roles) ||
				c.Email != want.Email || c.EmailVerified != want.EmailVerified {
				t.Errorf("claims:\ngot  %+v\nwant %+v", *c, want)
			}
			if !c.HasRole("user") || c.HasRole("admin") {
				t.Errorf("HasRole: user=%v admin=%v, want true false", c.HasRole("user"), c.HasRole("admin"))
			}
		})
	}
}

// TestVerifyRefuses checks the refusals and what they wrap. The full
// attack catalogue runs through internal/token's and verify's own tests.
func TestVerifyRefuses(t *testing.T) {
	f := fixtures()
	ed := f.ed
	good := ed.forge(t, ed.header(), payload(t, nil))
	lookupErr := errors.New("lookup failed")
	tests := []struct {
		name    string
		tok     string
		keyFor  func(string) (*Key, error)
		want    error // ErrInvalid, ErrExpired or lookupErr
		expired bool
	}{
		{name: "expired", tok: ed.forge(t, ed.header(), payload(t, func(p map[string]any) { p["exp"] = testNow.Unix() })), want: ErrExpired, expired: true},
		{name: "alg not the key's", tok: ed.forge(t, `{"alg":"ES256","kid":"`+ed.pub.KID+`","typ":"at+jwt"}`, payload(t, nil)), want: ErrInvalid},
		{name: "header jku", tok: ed.forge(t, `{"alg":"EdDSA","kid":"`+ed.pub.KID+`","typ":"at+jwt","jku":"x"}`, payload(t, nil)), want: ErrInvalid},
		{name: "duplicate claim", tok: ed.forge(t, ed.header(), `{"sub":"a","sub":"b"}`), want: ErrInvalid},
		{name: "wrong audience", tok: ed.forge(t, ed.header(), payload(t, func(p map[string]any) { p["aud"] = "x" })), want: ErrInvalid},
		{name: "padding", tok: good + "=", want: ErrInvalid},
		{name: "too large", tok: ed.forge(t, ed.header(), payload(t, func(p map[string]any) { p["pad"] = strings.Repeat("x", DefaultMaxSize) })), want: ErrInvalid},
		{name: "key lookup error passed on", tok: good, keyFor: func(string) (*Key, error) { return nil, lookupErr }, want: lookupErr},
		{name: "nil key", tok: good, keyFor: func(string) (*Key, error) { return nil, nil }, want: ErrInvalid},
		{name: "key unusable for its alg", tok: good, keyFor: func(string) (*Key, error) {
			return &Key{KID: ed.pub.KID, Alg: EdDSA, Public: f.ec.pub.Public}, nil
		}, want: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kf := keyFor
			if tt.keyFor != nil {
				kf = tt.keyFor
			}
			c, err := Verify(tt.tok, kf, checks())
			if c != nil || !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, %v; want an error wrapping %v", c, err, tt.want)
			}
			if got := errors.Is(err, ErrExpired); got != tt.expired {
				t.Errorf("errors.Is(err, ErrExpired) = %v, want %v", got, tt.expired)
			}
		})
	}
}

// TestThumbprintRFC8037 is the known answer of RFC 8037 Appendix A.3.
func TestThumbprintRFC8037(t *testing.T) {
	k, err := ParseJWK([]byte(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; k.KID != want || k.Alg != EdDSA {
		t.Errorf("KID, Alg = %s, %s; want %s, EdDSA", k.KID, k.Alg, want)
	}
}

// TestParseJWKRequire: members left optional by RFC 7517 are required on
// demand.
func TestParseJWKRequire(t *testing.T) {
	const bare = `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"`
	tests := []struct {
		jwk  string
		req  Require
		okay bool
	}{
		{bare + `}`, 0, true},
		{bare + `}`, RequireUse, false},
		{bare + `}`, RequireAlg, false},
		{bare + `}`, RequireKID, false},
		{bare + `,"use":"sig","alg":"EdDSA","kid":"k"}`, RequireAll, true},
		{bare + `,"use":"enc"}`, 0, false},
		{bare + `,"kid":""}`, 0, false},
		{bare + `,"alg":""}`, 0, false},
	}
	for _, tt := range tests {
		k, err := ParseJWK([]byte(tt.jwk), tt.req)
		if (err == nil) != tt.okay {
			t.Errorf("ParseJWK(%s, %b) = %+v, %v; want ok=%v", tt.jwk, tt.req, k, err, tt.okay)
		}
	}
}

// TestJWKRoundTrip: what JWK writes, ParseJWK(RequireAll) and ParseJWKS
// read back.
func TestJWKRoundTrip(t *testing.T) {
	f := fixtures()
	keys := []*Key{f.ed.pub, f.ec.pub, f.rs.pub}
	for _, k := range keys {
		b, err := k.JWK()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseJWK(b, RequireAll)
		if err != nil || back.KID != k.KID || back.Alg != k.Alg || CheckKey(back.Alg, back.Public) != nil {
			t.Errorf("ParseJWK(%s) = %+v, %v", b, back, err)
		}
	}
	set, err := JWKS(keys)
	if err != nil {
		t.Fatal(err)
	}
	got, skipped, err := ParseJWKS(set)
	if err != nil || len(got) != 3 || len(skipped) != 0 {
		t.Errorf("ParseJWKS = %d keys, %v, %v; want 3 keys", len(got), skipped, err)
	}
}
