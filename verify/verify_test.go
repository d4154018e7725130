package verify

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/token"
)

// TestImportsNothingFromServer checks that the package depends on nothing
// of latch's server (and on no module outside the standard library) but
// the shared JOSE core, github.com/latchauth/latch/jws, which itself
// depends on the standard library alone, so that services can import it
// alone.
func TestImportsNothingFromServer(t *testing.T) {
	const core = "github.com/latchauth/latch/jws"
	// go test puts its own GOROOT/bin first on PATH, so this is the
	// toolchain running the test.
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool: %v", err)
	}
	for _, tt := range []struct {
		pkg     string
		allowed []string
	}{
		{".", []string{"github.com/latchauth/latch/verify", core}},
		{"../jws", []string{core}},
	} {
		out, err := exec.Command(gotool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", tt.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", tt.pkg, err, out)
		}
		var bad []string
		for _, p := range strings.Fields(string(out)) {
			if !slices.Contains(tt.allowed, p) {
				bad = append(bad, p)
			}
		}
		if len(bad) > 0 {
			t.Errorf("package %s depends on %q; it may import only the standard library and %q", tt.pkg, bad, tt.allowed)
		}
	}
}

func TestVerifyAccepts(t *testing.T) {
	f := fixtures()
	stub := newLatchStub(t, f.ed, f.ec, f.rs)
	v, _ := newVerifier(t, stub, nil)
	for _, k := range []*token.Key{f.ed, f.ec, f.rs} {
		t.Run(k.Alg, func(t *testing.T) {
			c, err := v.Verify(context.Background(), signed(t, k, func(c *token.Claims) {
				c.Audience = []string{"other", testAudience}
			}))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := Claims{
				Issuer: testIssuer, Subject: "user-1", Audience: []string{"other", testAudience},
				ExpiresAt: testNow.Add(15 * time.Minute), IssuedAt: testNow, NotBefore: testNow,
				ID: "jti-1", SessionID: "sess-1", Roles: []string{"user"},
				Email: "a@example.com", EmailVerified: true,
			}
			if !equalClaims(c, &want) {
				t.Errorf("claims:\ngot  %+v\nwant %+v", *c, want)
			}
			if !c.HasRole("user") || c.HasRole("admin") {
				t.Errorf("HasRole: user=%v admin=%v, want true false", c.HasRole("user"), c.HasRole("admin"))
			}
		})
	}
	if n := stub.jwksHits.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times for three tokens, want 1", n)
	}
}

func equalClaims(a, b *Claims) bool {
	return a.Issuer == b.Issuer && a.Subject == b.Subject && slices.Equal(a.Audience, b.Audience) &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.IssuedAt.Equal(b.IssuedAt) && a.NotBefore.Equal(b.NotBefore) &&
		a.ID == b.ID && a.SessionID == b.SessionID && slices.Equal(a.Roles, b.Roles) &&
		a.Email == b.Email && a.EmailVerified == b.EmailVerified
}

func TestVerifyRefuses(t *testing.T) {
	f := fixtures()
	stub := newLatchStub(t, f.ed, f.ec, f.rs)
	v, _ := newVerifier(t, stub, nil)
	hdr := func(k *token.Key) map[string]any { return map[string]any{"alg": k.Alg, "kid": k.KID, "typ": "at+jwt"} }
	payload := func(edit func(map[string]any)) string {
		p := validPayload()
		if edit != nil {
			edit(p)
		}
		return mustJSON(t, p)
	}
	good := signed(t, f.ed, nil)
	parts := strings.Split(good, ".")
	tests := []struct {
		name    string
		tok     string
		expired bool
	}{
		{"wrong issuer", signed(t, f.ed, func(c *token.Claims) { c.Issuer = "https://evil.example.com" }), false},
		{"wrong audience", signed(t, f.ed, func(c *token.Claims) { c.Audience = []string{"https://other.example.com"} }), false},
		{"expired beyond the leeway", signed(t, f.ed, func(c *token.Claims) { c.ExpiresAt = testNow.Add(-31 * time.Second) }), true},
		{"not yet valid beyond the leeway", signed(t, f.ed, func(c *token.Claims) { c.NotBefore = testNow.Add(31 * time.Second) }), false},
		{"issued in the future", signed(t, f.ed, func(c *token.Claims) { c.IssuedAt = testNow.Add(time.Minute) }), false},
		{"alg not the key's", forge(t, f.ed, mustJSON(t, map[string]any{"alg": "ES256", "kid": f.ed.KID, "typ": "at+jwt"}), payload(nil)), false},
		{"alg none", b64.EncodeToString([]byte(`{"alg":"none","kid":"`+f.ed.KID+`","typ":"at+jwt"}`)) + "." + parts[1] + ".AA", false},
		{"HS256 with the public key", forge(t, f.ed, mustJSON(t, map[string]any{"alg": "HS256", "kid": f.ed.KID, "typ": "at+jwt"}), payload(nil)), false},
		{"typ missing", forge(t, f.ed, mustJSON(t, map[string]any{"alg": "EdDSA", "kid": f.ed.KID}), payload(nil)), false},
		{"typ JWT", forge(t, f.ed, mustJSON(t, map[string]any{"alg": "EdDSA", "kid": f.ed.KID, "typ": "JWT"}), payload(nil)), false},
		{"header jku", forge(t, f.ed, mustJSON(t, map[string]any{"alg": "EdDSA", "kid": f.ed.KID, "typ": "at+jwt", "jku": "https://evil.example.com/jwks"}), payload(nil)), false},
		{"header crit", forge(t, f.ed, mustJSON(t, map[string]any{"alg": "EdDSA", "kid": f.ed.KID, "typ": "at+jwt", "crit": []string{"exp"}}), payload(nil)), false},
		{"duplicate header member", forge(t, f.ed, `{"alg":"EdDSA","kid":"`+f.ed.KID+`","typ":"at+jwt","alg":"EdDSA"}`, payload(nil)), false},
		{"duplicate claim", forge(t, f.ed, mustJSON(t, hdr(f.ed)), strings.Replace(payload(nil), `"sub":"user-1"`, `"sub":"user-1","sub":"admin"`, 1)), false},
		{"sub not a string", forge(t, f.ed, mustJSON(t, hdr(f.ed)), payload(func(p map[string]any) { p["sub"] = 7 })), false},
		{"exp a fraction in 1970", forge(t, f.ed, mustJSON(t, hdr(f.ed)), strings.Replace(payload(nil), `"exp":`, `"exp":1.5,"x":`, 1)), true},
		{"exp in exponent notation", forge(t, f.ed, mustJSON(t, hdr(f.ed)), strings.Replace(payload(nil), `"exp":`, `"exp":1.8e9,"x":`, 1)), false},
		{"exp past year 9999", forge(t, f.ed, mustJSON(t, hdr(f.ed)), payload(func(p map[string]any) { p["exp"] = int64(253402300800) })), false},
		{"nbf wrapping around int64", forge(t, f.ed, mustJSON(t, hdr(f.ed)), payload(func(p map[string]any) { p["nbf"] = int64(9223372036854775807) })), false},
		{"iat wrapping around int64", forge(t, f.ed, mustJSON(t, hdr(f.ed)), payload(func(p map[string]any) { p["iat"] = int64(9223372036854775807) })), false},
		{"exp missing", forge(t, f.ed, mustJSON(t, hdr(f.ed)), payload(func(p map[string]any) { delete(p, "exp") })), false},
		{"jti missing", forge(t, f.ed, mustJSON(t, hdr(f.ed)), payload(func(p map[string]any) { delete(p, "jti") })), false},
		{"roles not strings", forge(t, f.ed, mustJSON(t, hdr(f.ed)), payload(func(p map[string]any) { p["roles"] = []any{"user", 1} })), false},
		{"trailing data in payload", forge(t, f.ed, mustJSON(t, hdr(f.ed)), payload(nil)+"{}"), false},
		{"unknown kid", forge(t, f.ed2, mustJSON(t, hdr(f.ed2)), payload(nil)), false},
		{"bad signature", parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])), false},
		{"other key's signature", parts[0] + "." + parts[1] + "." + strings.Split(forge(t, f.ed2, mustJSON(t, hdr(f.ed)), payload(nil)), ".")[2], false},
		{"padding", good + "=", false},
		{"standard base64 alphabet", parts[0] + "." + parts[1] + ".+" + parts[2][1:], false},
		{"newline in a segment", parts[0] + "\n." + parts[1] + "." + parts[2], false},
		{"two segments", parts[0] + "." + parts[1], false},
		{"four segments", good + ".x", false},
		{"empty", "", false},
		{"too large", forge(t, f.ed, mustJSON(t, hdr(f.ed)), payload(func(p map[string]any) { p["pad"] = strings.Repeat("x", 9000) })), false},
		{"ES256 high S", func() string {
			in := b64.EncodeToString([]byte(mustJSON(t, hdr(f.ec)))) + "." + b64.EncodeToString([]byte(payload(nil)))
			return in + "." + b64.EncodeToString(signRaw(t, f.ec, []byte(in), true))
		}(), false},
		{"EdDSA token under the ES256 key", forge(t, f.ed, mustJSON(t, hdr(f.ec)), payload(nil)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tt.tok)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Verify: got %v, want an error wrapping ErrInvalid", err)
			}
			if got := errors.Is(err, ErrExpired); got != tt.expired {
				t.Errorf("errors.Is(err, ErrExpired) = %v, want %v (%v)", got, tt.expired, err)
			}
		})
	}
}

// TestVerifyLeeway: exp and nbf are allowed 30 seconds of skew by default,
// and the leeway is configurable.
func TestVerifyLeeway(t *testing.T) {
	f := fixtures()
	stub := newLatchStub(t, f.ed)
	tests := []struct {
		leeway time.Duration
		exp    time.Duration // relative to now
		ok     bool
	}{
		{0, -29 * time.Second, true},
		{0, -30 * time.Second, false},
		{5 * time.Second, -4 * time.Second, true},
		{5 * time.Second, -5 * time.Second, false},
		{-1, time.Second, true},
		{-1, 0, false},
	}
	for _, tt := range tests {
		v, _ := newVerifier(t, stub, func(c *Config) { c.Leeway = tt.leeway })
		tok := signed(t, f.ed, func(c *token.Claims) {
			c.ExpiresAt = testNow.Add(tt.exp)
			c.IssuedAt, c.NotBefore = testNow.Add(-time.Hour), testNow.Add(-time.Hour)
		})
		_, err := v.Verify(context.Background(), tok)
		if (err == nil) != tt.ok {
			t.Errorf("leeway %v, exp now%+v: got %v, want ok=%v", tt.leeway, tt.exp, err, tt.ok)
		}
	}
}

// TestKeyRotation: a token with an unknown kid fetches the keys again, but
// at most once per MinRefreshInterval.
func TestKeyRotation(t *testing.T) {
	f := fixtures()
	stub := newLatchStub(t, f.ed)
	v, clk := newVerifier(t, stub, nil)
	ctx := context.Background()
	if _, err := v.Verify(ctx, signed(t, f.ed, nil)); err != nil {
		t.Fatal(err)
	}
	stub.setKeys(f.ed, f.ed2) // latch published a new key
	clk.Add(10 * time.Second)
	if _, err := v.Verify(ctx, signed(t, f.ed2, nil)); err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
	if n := stub.jwksHits.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times, want 2", n)
	}
	// Garbage kids do not hammer latch.
	bogus := forge(t, f.ec, mustJSON(t, map[string]any{"alg": "ES256", "kid": "bogus", "typ": "at+jwt"}), mustJSON(t, validPayload()))
	for range 5 {
		if _, err := v.Verify(ctx, bogus); !errors.Is(err, ErrInvalid) {
			t.Fatalf("unknown kid: got %v, want ErrInvalid", err)
		}
	}
	if n := stub.jwksHits.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times after unknown kids within 10s, want 2", n)
	}
	clk.Add(10 * time.Second)
	_, _ = v.Verify(ctx, bogus)
	if n := stub.jwksHits.Load(); n != 3 {
		t.Fatalf("JWKS fetched %d times after 10s more, want 3", n)
	}
	// A key that latch no longer publishes stops working after a refresh.
	stub.setKeys(f.ed2)
	clk.Add(10 * time.Second)
	_, _ = v.Verify(ctx, bogus)
	if _, err := v.Verify(ctx, signed(t, f.ed, nil)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("token of a retired key: got %v, want ErrInvalid", err)
	}
}

// TestPeriodicRefresh: keys are fetched again in the background once the
// answer's max-age has passed, while cached keys keep serving.
func TestPeriodicRefresh(t *testing.T) {
	f := fixtures()
	stub := newLatchStub(t, f.ed)
	stub.cacheControl = "public, max-age=60"
	v, clk := newVerifier(t, stub, nil)
	ctx := context.Background()
	tok := signed(t, f.ed, nil)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	<-stub.fetched
	clk.Add(59 * time.Second)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if n := stub.jwksHits.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times before max-age, want 1", n)
	}
	clk.Add(time.Second)
	if _, err := v.Verify(ctx, signed(t, f.ed, func(c *token.Claims) { c.ExpiresAt = testNow.Add(time.Hour) })); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stub.fetched:
	case <-time.After(10 * time.Second):
		t.Fatal("no background refresh after max-age")
	}
}

// TestLatchDown: with latch unreachable, cached keys keep verifying.
func TestLatchDown(t *testing.T) {
	f := fixtures()
	stub := newLatchStub(t, f.ed)
	v, clk := newVerifier(t, stub, nil)
	ctx := context.Background()
	if err := v.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	stub.setDown(true)
	clk.Add(6 * time.Minute) // past the periodic refresh
	tok := signed(t, f.ed, func(c *token.Claims) { c.ExpiresAt = testNow.Add(time.Hour) })
	for range 3 {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("with latch down: %v", err)
		}
	}
	if err := v.Refresh(ctx); err == nil {
		t.Fatal("Refresh with latch down: no error")
	}
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("after a failed refresh: %v", err)
	}
	stub.Close()
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("with latch gone: %v", err)
	}
}

func TestNewNeedsIssuerAndAudience(t *testing.T) {
	for _, c := range []Config{{}, {Issuer: testIssuer}, {Audience: testAudience}} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v): no error", c)
		}
	}
}

func TestParseJWKS(t *testing.T) {
	f := fixtures()
	good := func(k *token.Key) string {
		b, err := k.PublicJWK()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	edit := func(k *token.Key, fn func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal([]byte(good(k)), &m); err != nil {
			t.Fatal(err)
		}
		fn(m)
		return mustJSON(t, m)
	}
	tests := []struct {
		name    string
		set     string
		kids    []string
		skipped int
	}{
		{"all three algorithms", `{"keys":[` + good(f.ed) + `,` + good(f.ec) + `,` + good(f.rs) + `]}`, []string{f.ed.KID, f.ec.KID, f.rs.KID}, 0},
		{"use enc skipped", `{"keys":[` + edit(f.ed, func(m map[string]any) { m["use"] = "enc" }) + `,` + good(f.ec) + `]}`, []string{f.ec.KID}, 1},
		{"no use skipped", `{"keys":[` + edit(f.ed, func(m map[string]any) { delete(m, "use") }) + `]}`, nil, 1},
		{"no alg skipped", `{"keys":[` + edit(f.ed, func(m map[string]any) { delete(m, "alg") }) + `]}`, nil, 1},
		{"unknown alg skipped", `{"keys":[` + edit(f.rs, func(m map[string]any) { m["alg"] = "PS256" }) + `]}`, nil, 1},
		{"alg not fitting kty skipped", `{"keys":[` + edit(f.ed, func(m map[string]any) { m["alg"] = "ES256" }) + `]}`, nil, 1},
		{"no kid skipped", `{"keys":[` + edit(f.ed, func(m map[string]any) { delete(m, "kid") }) + `]}`, nil, 1},
		{"private member skipped", `{"keys":[` + edit(f.ed, func(m map[string]any) { m["d"] = "AAAA" }) + `]}`, nil, 1},
		{"duplicate kid dropped", `{"keys":[` + good(f.ed) + `,` + edit(f.ed2, func(m map[string]any) { m["kid"] = f.ed.KID }) + `,` + good(f.ec) + `]}`, []string{f.ec.KID}, 1},
		{"off-curve EC point skipped", `{"keys":[` + edit(f.ec, func(m map[string]any) { m["y"] = m["x"] }) + `]}`, nil, 1},
		{"other members ignored", `{"keys":[],"x":1}`, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, skipped, err := ParseJWKS([]byte(tt.set))
			if err != nil {
				t.Fatalf("ParseJWKS: %v", err)
			}
			var kids []string
			for kid := range keys {
				kids = append(kids, kid)
			}
			slices.Sort(kids)
			want := slices.Clone(tt.kids)
			slices.Sort(want)
			if !slices.Equal(kids, want) || len(skipped) != tt.skipped {
				t.Errorf("got kids %q and %d skipped (%v), want %q and %d", kids, len(skipped), skipped, want, tt.skipped)
			}
		})
	}
	for _, bad := range []string{``, `[]`, `{"keys":{}}`, `{"keys":[1,}`, `{"keys":[],"keys":[]}`} {
		if _, _, err := ParseJWKS([]byte(bad)); err == nil {
			t.Errorf("ParseJWKS(%q): no error", bad)
		}
	}
}
