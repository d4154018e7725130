package pages_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// signedIn is a browser signed in through the hosted login page.
func (f *fixture) signedIn(t *testing.T, addr string) *browser {
	t.Helper()
	// The cookie jar drops a cookie whose expiry is past by its own
	// clock: move the service's clock to now.
	if now := time.Now(); f.clock.Now().Before(now) {
		f.clock.Set(now)
	}
	b := f.browser()
	form := b.get("/login")
	b.post("/login", url.Values{"csrf": {form.csrf(t)}, "email": {addr}, "password": {goodPW}}).want(t, 200, "You are signed in")
	return b
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSecurityPageNeedsSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	b := f.browser()
	p := b.get("/account/security")
	if p.Status != 303 || p.Header.Get("Location") != "/login?redirect_to=/account/security" {
		t.Fatalf("no session: %d to %q, want 303 to the login page", p.Status, p.Header.Get("Location"))
	}
	// A form posted without a session signs in first too.
	form := b.get("/login")
	p = b.post("/account/security/totp", url.Values{"csrf": {form.csrf(t)}, "password": {goodPW}})
	if p.Status != 303 || !strings.HasPrefix(p.Header.Get("Location"), "/login?") {
		t.Fatalf("form without a session: %d to %q", p.Status, p.Header.Get("Location"))
	}
	// The script's endpoint answers JSON.
	b.post("/account/security/passkeys/begin", url.Values{"csrf": {form.csrf(t)}, "password": {goodPW}}).want(t, 401, "signed out")
}

func TestSecurityPageCSRF(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.confirmed("csrf@example.com")
	b := f.signedIn(t, "csrf@example.com")
	page := b.get("/account/security").want(t, 200, "csrf@example.com", `id="totp-state">Off.`)
	for _, path := range []string{"/account/security/totp", "/account/security/totp/disable", "/account/security/recovery-codes"} {
		b.post(path, url.Values{"password": {goodPW}, "code": {"123456"}}).want(t, 403, "This form has expired")
		b.post(path, url.Values{"csrf": {strings.Repeat("A", 43)}, "password": {goodPW}}).want(t, 403)
	}
	b.post("/account/security/passkeys/begin", url.Values{"password": {goodPW}}).want(t, 403, `"error"`)
	b.post("/login/passkey/begin", url.Values{}).want(t, 403, `"error"`)
	b.post("/account/security/step-up/begin", url.Values{}).want(t, 403, `"error"`)
	// An account without a passkey has nothing to step up with.
	if p := b.post("/account/security/step-up/begin", url.Values{"csrf": {page.csrf(t)}}); p.Status < 400 || p.Status >= 500 {
		t.Errorf("step-up without a passkey: %d %s", p.Status, p.Body)
	}
	// From another origin, even with the right field.
	b.origin = "https://evil.example"
	b.post("/account/security/totp", url.Values{"csrf": {page.csrf(t)}, "password": {goodPW}}).want(t, 403)
	// Nothing changed.
	b.origin = f.origin
	b.get("/account/security").want(t, 200, `id="totp-state">Off.`)
}

func TestSecurityPageHeaders(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.confirmed("headers@example.com")
	b := f.signedIn(t, "headers@example.com")
	p := b.get("/account/security").want(t, 200)
	csp := p.Header.Get("Content-Security-Policy")
	m := regexp.MustCompile(`script-src 'nonce-([A-Za-z0-9_-]{22})'`).FindStringSubmatch(csp)
	if m == nil || !strings.Contains(p.Body, `<script nonce="`+m[1]+`">`) {
		t.Fatalf("CSP %q: the script's nonce is missing", csp)
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "data:") {
		t.Errorf("CSP %q", csp)
	}
	if again := b.get("/account/security").Header.Get("Content-Security-Policy"); again == csp {
		t.Errorf("the nonce is the same in two answers")
	}
	for k, v := range map[string]string{"X-Frame-Options": "DENY", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"} {
		if p.Header.Get(k) != v {
			t.Errorf("%s: %q, want %q", k, p.Header.Get(k), v)
		}
	}
}

func TestLoginRedirectToPath(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.confirmed("path@example.com")
	for _, tc := range []struct {
		to   string
		kept bool
	}{
		{"/account/security", true},
		{"/account/security?tab=1", true},
		{"//evil.example/x", false},
		{`/\evil.example`, false},
		{"https://evil.example/", false},
		{"account/security", false},
		{"/a b", false},
		{"javascript:alert(1)", false},
	} {
		b := f.browser()
		form := b.get("/login?redirect_to="+url.QueryEscape(tc.to)).want(t, 200)
		if got := strings.Contains(form.Body, `name="redirect_to"`); got != tc.kept {
			t.Errorf("redirect_to %q: kept %v, want %v", tc.to, got, tc.kept)
		}
		// The signup link takes listed URLs only: a path of latch's stays
		// off it.
		if strings.Contains(form.Body, "/signup?redirect_to") {
			t.Errorf("redirect_to %q went on the signup link", tc.to)
		}
		p := b.post("/login", url.Values{"csrf": {form.csrf(t)}, "email": {"path@example.com"}, "password": {goodPW}, "redirect_to": {tc.to}})
		if tc.kept {
			if p.Status != 303 || p.Header.Get("Location") != tc.to {
				t.Errorf("redirect_to %q: %d to %q", tc.to, p.Status, p.Header.Get("Location"))
			}
		} else if p.Status != 200 || p.Header.Get("Location") != "" {
			t.Errorf("redirect_to %q: %d to %q, want the signed-in page", tc.to, p.Status, p.Header.Get("Location"))
		}
	}
}

var (
	secretRE = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)
	codesRE  = regexp.MustCompile(`<li><code>([^<]+)</code></li>`)
)

func TestSecurityPageTOTP(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.confirmed("totp@example.com")
	b := f.signedIn(t, "totp@example.com")
	page := b.get("/account/security").want(t, 200)
	csrf := page.csrf(t)

	b.post("/account/security/totp", url.Values{"csrf": {csrf}, "password": {"wrong password"}}).want(t, 401, "password is wrong")
	p := b.post("/account/security/totp", url.Values{"csrf": {csrf}, "password": {goodPW}}).want(t, 200, `<img src="data:image/png;base64,`)
	if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data:") {
		t.Errorf("enrolment CSP %q lacks img-src data:", csp)
	}
	m := secretRE.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no secret:\n%s", p.Body)
	}
	secret := m[1]
	b.post("/account/security/totp/confirm", url.Values{"csrf": {csrf}, "code": {"000000"}}).want(t, 401)
	p = b.post("/account/security/totp/confirm", url.Values{"csrf": {csrf}, "code": {totpCode(t, secret, f.clock.Now())}}).want(t, 200, "authenticator app is on")
	codes := codesRE.FindAllStringSubmatch(p.Body, -1)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown, want 10", len(codes))
	}
	b.get("/account/security").want(t, 200, `id="totp-state">On.`, `id="recovery-left">10 left.`)
	if !strings.Contains(f.login("totp@example.com", goodPW).Error(), "second factor") {
		t.Errorf("login does not ask for the second factor")
	}

	// New recovery codes with a recovery code: that one is spent.
	b.post("/account/security/recovery-codes", url.Values{"csrf": {csrf}, "password": {goodPW}}).want(t, 422)
	p = b.post("/account/security/recovery-codes", url.Values{"csrf": {csrf}, "password": {goodPW}, "code": {codes[0][1]}}).want(t, 200, "new recovery codes")
	fresh := codesRE.FindAllStringSubmatch(p.Body, -1)
	if len(fresh) != 10 || fresh[0][1] == codes[0][1] {
		t.Fatalf("new codes %v", fresh)
	}
	// An old code no longer works.
	f.clock.Advance(time.Minute)
	b.post("/account/security/totp/disable", url.Values{"csrf": {csrf}, "password": {goodPW}, "code": {codes[1][1]}}).want(t, 401)
	f.clock.Advance(time.Minute)
	b.post("/account/security/totp/disable", url.Values{"csrf": {csrf}, "password": {goodPW}, "code": {totpCode(t, secret, f.clock.Now())}}).
		want(t, 200, "authenticator app is off", `id="totp-state">Off.`)
	if err := f.login("totp@example.com", goodPW); err != nil {
		t.Errorf("login after turning the app off: %v", err)
	}
}

func TestSecurityPagePasskeyEndpoints(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.confirmed("pk@example.com")
	b := f.signedIn(t, "pk@example.com")
	csrf := b.get("/account/security").want(t, 200).csrf(t)

	b.post("/account/security/passkeys/begin", url.Values{"csrf": {csrf}}).want(t, 422, `"error":"Enter your password`)
	b.post("/account/security/passkeys/begin", url.Values{"csrf": {csrf}, "password": {"wrong password"}}).want(t, 401, `"error"`)
	p := b.post("/account/security/passkeys/begin", url.Values{"csrf": {csrf}, "password": {goodPW}}).want(t, 200, `"challenge_id":"`, `"publicKey":{`, `"rp":{`)
	if ct := p.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	challenge := regexp.MustCompile(`"challenge_id":"([^"]+)"`).FindStringSubmatch(p.Body)[1]
	// Broken or missing credentials are the client's mistakes.
	b.post("/account/security/passkeys/finish", url.Values{"csrf": {csrf}, "challenge_id": {challenge}}).want(t, 400, "no passkey")
	for _, cred := range []string{`{}`, `{"id":"x","response":{}}`, `{"type":"public-key","response":{"clientDataJSON":"AAAA","attestationObject":"AAAA"}}`} {
		if p := b.post("/account/security/passkeys/finish", url.Values{"csrf": {csrf}, "challenge_id": {challenge}, "name": {"Key"}, "credential": {cred}}); p.Status < 400 || p.Status >= 500 {
			t.Errorf("finish with %s: %d %s", cred, p.Status, p.Body)
		}
	}
	b.get("/account/security").want(t, 200, `id="passkeys-none"`)
	// The passkey login endpoints: a bad challenge is a 400.
	b.post("/login/passkey/begin", url.Values{"csrf": {csrf}}).want(t, 200, `"challenge_id":"`)
	b.post("/login/passkey/finish", url.Values{"csrf": {csrf}, "challenge_id": {"nope"}, "credential": {`{"id":"x"}`}}).want(t, 400, `"error"`)
	b.post("/login/passkey/begin", url.Values{"csrf": {csrf}, "mfa_token": {"nope"}}).want(t, 400, "took too long")
	// Rename and delete of an unknown passkey: 404 on the page.
	b.post("/account/security/passkeys/nope/rename", url.Values{"csrf": {csrf}, "name": {"x"}}).want(t, 404)
	b.post("/account/security/passkeys/nope/delete", url.Values{"csrf": {csrf}, "password": {goodPW}}).want(t, 404)
}
