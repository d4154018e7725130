package pages_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/pages"
)

func TestConfirmPage(t *testing.T) {
	f := newFixture(t, nil)
	addr := "ana@example.com"
	tok := f.signup(addr)
	b := f.browser()

	form := b.get("/confirm?token="+tok).want(t, 200, "Confirm your email address", "Acme ID", `method="post"`, `action="/confirm"`)
	// Opening the link (as a mail scanner does) confirms nothing.
	if err := f.login(addr, goodPW); auth.ErrorCode(err) != auth.CodeEmailNotConfirmed {
		t.Fatalf("login after GET /confirm: %v, want email_not_confirmed", err)
	}
	b.post("/confirm", url.Values{"csrf": {form.csrf(t)}, "token": {tok}}).
		want(t, 200, "Email address confirmed", addr, "sign in to Acme ID")
	if err := f.login(addr, goodPW); err != nil {
		t.Fatalf("login after confirming: %v", err)
	}
	// The link is used up: the page says so, with a way to ask again.
	b.post("/confirm", url.Values{"csrf": {form.csrf(t)}, "token": {tok}}).
		want(t, 400, "This link no longer works", `action="/confirm/resend"`, `name="email"`)
	b.get("/confirm?token="+tok).want(t, 400, "This link no longer works", `action="/confirm/resend"`)
}

func TestConfirmPageEmailChange(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	tok := f.signup("old@example.com")
	p, err := f.svc.Confirm(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := f.svc.Authenticate(ctx, p.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ChangeEmail(ctx, pr, "new@example.com", goodPW, ""); err != nil {
		t.Fatal(err)
	}
	change := f.mailToken("new@example.com", auth.MailEmailChange)
	b := f.browser()
	form := b.get("/confirm?token="+change).want(t, 200, "Confirm your new email address", "Confirm my new address")
	b.post("/confirm", url.Values{"csrf": {form.csrf(t)}, "token": {change}}).want(t, 200, "new@example.com is confirmed")
	if got := f.mailKinds("old@example.com"); len(got) != 1 || got[0] != auth.MailEmailChanged {
		t.Errorf("mails to the old address: %v, want [%s]", got, auth.MailEmailChanged)
	}
}

func TestBadLinks(t *testing.T) {
	f := newFixture(t, nil)
	confirmTok := f.signup("bad@example.com")
	if _, err := f.svc.Confirm(context.Background(), confirmTok); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ForgotPassword(context.Background(), "bad@example.com"); err != nil {
		t.Fatal(err)
	}
	resetTok := f.mailToken("bad@example.com", auth.MailReset)
	tests := []struct {
		path string
		want string // on the 400 page
	}{
		{"/confirm", `action="/confirm/resend"`},
		{"/confirm?token=", `action="/confirm/resend"`},
		{"/confirm?token=not-a-token", `action="/confirm/resend"`},
		{"/confirm?token=" + strings.Repeat("A", 43), `action="/confirm/resend"`},
		{"/confirm?token=" + confirmTok, `action="/confirm/resend"`}, // used
		{"/confirm?token=" + resetTok, `action="/confirm/resend"`},   // another kind
		{"/reset-password", `href="/forgot-password"`},
		{"/reset-password?token=%ff%fe", `href="/forgot-password"`},
		{"/reset-password?token=" + confirmTok, `href="/forgot-password"`},
		{"/reset-password?token=" + strings.Repeat("x", 5000), `href="/forgot-password"`},
	}
	b := f.browser()
	for _, tt := range tests {
		b.get(tt.path).want(t, 400, "This link no longer works", tt.want)
	}
	// The reset link still works after all that.
	b.get("/reset-password?token="+resetTok).want(t, 200, "Choose a new password")

	// An expired link says so too.
	f.clock.Advance(61 * time.Minute)
	b.get("/reset-password?token="+resetTok).want(t, 400, "This link no longer works")
}

func TestResetPage(t *testing.T) {
	f := newFixture(t, nil)
	addr := "rosa@example.com"
	if _, err := f.svc.Confirm(context.Background(), f.signup(addr)); err != nil {
		t.Fatal(err)
	}
	b := f.browser()
	forgot := b.get("/forgot-password").want(t, 200, "Reset your password", `name="email"`)
	b.post("/forgot-password", url.Values{"csrf": {forgot.csrf(t)}, "email": {addr}}).
		want(t, 200, "Check your inbox", "If an account exists for "+addr)
	tok := f.mailToken(addr, auth.MailReset)

	form := b.get("/reset-password?token="+tok).want(t, 200, "Choose a new password",
		`name="password"`, `name="password_confirm"`, `autocomplete="new-password"`)
	csrf := form.csrf(t)
	const newPW = "a brand new passphrase 42"
	tests := []struct {
		name        string
		pw, confirm string
		status      int
		want        string
	}{
		{"empty", "", "", 422, "Enter a new password."},
		{"mismatch", newPW, newPW + "!", 422, "do not match"},
		{"too short", "short", "short", 422, "at least 8"},
		{"common", "password123", "password123", 422, "common"},
		{"contains the address", "rosa-rosa-rosa", "rosa-rosa-rosa", 422, "email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := b.post("/reset-password", url.Values{"csrf": {csrf}, "token": {tok}, "password": {tt.pw}, "password_confirm": {tt.confirm}})
			p.want(t, tt.status, tt.want, `role="alert"`, `aria-invalid="true"`, `name="token" value="`+tok+`"`)
			if strings.Contains(p.Body, `value="`+tt.pw+`"`) && tt.pw != "" {
				t.Errorf("the page echoes the password")
			}
		})
	}
	// After all these mistakes the link still works.
	b.post("/reset-password", url.Values{"csrf": {csrf}, "token": {tok}, "password": {newPW}, "password_confirm": {newPW}}).
		want(t, 200, "Password changed", "every device was signed out")
	if err := f.login(addr, newPW); err != nil {
		t.Errorf("login with the new password: %v", err)
	}
	if err := f.login(addr, goodPW); auth.ErrorCode(err) != auth.CodeInvalidCredentials {
		t.Errorf("login with the old password: %v, want invalid_credentials", err)
	}
	b.post("/reset-password", url.Values{"csrf": {csrf}, "token": {tok}, "password": {newPW + "x"}, "password_confirm": {newPW + "x"}}).
		want(t, 400, "This link no longer works", `href="/forgot-password"`)
	// A mismatch on a used link says the link is used.
	b.post("/reset-password", url.Values{"csrf": {csrf}, "token": {tok}, "password": {"a"}, "password_confirm": {"b"}}).
		want(t, 400, "This link no longer works")
	if got := f.mailKinds(addr); len(got) != 1 || got[0] != auth.MailPasswordReset {
		t.Errorf("mails after the reset: %v, want [%s]", got, auth.MailPasswordReset)
	}
}

func TestResendPage(t *testing.T) {
	f := newFixture(t, nil)
	addr := "carl@example.com"
	f.signup(addr)
	b := f.browser()
	bad := b.get("/confirm?token=expired").want(t, 400)
	b.post("/confirm/resend", url.Values{"csrf": {bad.csrf(t)}, "email": {""}}).want(t, 422, "Enter your email address.")
	b.post("/confirm/resend", url.Values{"csrf": {bad.csrf(t)}, "email": {addr}}).want(t, 200, "Check your inbox", addr)
	tok := f.mailToken(addr, auth.MailConfirm)
	form := b.get("/confirm?token="+tok).want(t, 200)
	b.post("/confirm", url.Values{"csrf": {form.csrf(t)}, "token": {tok}}).want(t, 200, "confirmed")
}

func TestForgotPageEmpty(t *testing.T) {
	f := newFixture(t, nil)
	b := f.browser()
	p := b.get("/forgot-password").want(t, 200)
	b.post("/forgot-password", url.Values{"csrf": {p.csrf(t)}, "email": {"  "}}).want(t, 422, "Enter your email address.", `role="alert"`)
	// Whatever the address, the answer is the same.
	for _, addr := range []string{"nobody@example.com", "not an address"} {
		b.post("/forgot-password", url.Values{"csrf": {p.csrf(t)}, "email": {addr}}).want(t, 200, "Check your inbox")
	}
	if got := f.mailKinds("nobody@example.com"); len(got) != 0 {
		t.Errorf("mails to an unknown address: %v, want none", got)
	}
}

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t, nil)
	b := f.browser()
	for _, path := range []string{"/confirm?token=x", "/reset-password?token=x", "/forgot-password", "/signup", "/nope"} {
		p := b.get(path)
		if p.Status >= 500 {
			t.Errorf("GET %s: %d", path, p.Status)
		}
		want := map[string]string{
			"Content-Security-Policy": pages.CSP,
			"Referrer-Policy":         "no-referrer",
			"X-Frame-Options":         "DENY",
			"X-Content-Type-Options":  "nosniff",
			"Cache-Control":           "no-store",
			"Content-Type":            "text/html; charset=utf-8",
		}
		for k, v := range want {
			if got := p.Header.Get(k); got != v {
				t.Errorf("GET %s: %s = %q, want %q", path, k, got, v)
			}
		}
		for _, bad := range []string{"<script", " style=", "<style"} {
			if strings.Contains(p.Body, bad) {
				t.Errorf("GET %s: page has %q, which the CSP forbids", path, bad)
			}
		}
	}
	if !strings.Contains(pages.CSP, "default-src 'none'") || strings.Contains(pages.CSP, "unsafe") || strings.Contains(pages.CSP, "script-src") {
		t.Errorf("CSP %q is not strict", pages.CSP)
	}
	css := b.get(pages.PathCSS).want(t, 200, ".card")
	if ct := css.Header.Get("Content-Type"); ct != "text/css; charset=utf-8" {
		t.Errorf("stylesheet Content-Type %q", ct)
	}
}

func TestCSRF(t *testing.T) {
	f := newFixture(t, nil)
	addr := "csrf@example.com"
	tok := f.signup(addr)
	b := f.browser()
	csrf := b.get("/confirm?token="+tok).want(t, 200).csrf(t)
	other := f.browser() // has a cookie of its own
	otherCSRF := other.get("/forgot-password").want(t, 200).csrf(t)

	tests := []struct {
		name   string
		b      *browser
		field  string
		header http.Header
	}{
		{"no cookie", &browser{f: f, c: &http.Client{}, origin: f.origin}, csrf, nil},
		{"no field", b, "", nil},
		{"another browser's value", b, otherCSRF, nil},
		{"wrong length", b, csrf + "A", nil},
		{"foreign origin", b, csrf, http.Header{"Origin": {"https://evil.example"}}},
		{"null origin, cross-site", b, csrf, http.Header{"Origin": {"null"}, "Sec-Fetch-Site": {"cross-site"}}},
		{"null origin, no cookie", &browser{f: f, c: &http.Client{}}, csrf, http.Header{"Origin": {"null"}, "Sec-Fetch-Site": {"same-origin"}}},
		{"look-alike origin", b, csrf, http.Header{"Origin": {f.origin + ".evil.example"}}},
		{"two origins", b, csrf, http.Header{"Origin": {f.origin, "https://evil.example"}}},
		{"cross-site fetch", b, csrf, http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{"same-site fetch", b, csrf, http.Header{"Sec-Fetch-Site": {"same-site"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", f.srv.URL+"/confirm", strings.NewReader(url.Values{"csrf": {tt.field}, "token": {tok}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.header == nil {
				req.Header.Set("Origin", f.origin)
			}
			for k, vs := range tt.header {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			resp, err := tt.b.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("status %d, want 403", resp.StatusCode)
			}
		})
	}
	if err := f.login(addr, goodPW); auth.ErrorCode(err) != auth.CodeEmailNotConfirmed {
		t.Fatalf("after forged posts, login: %v; want email_not_confirmed (nothing confirmed)", err)
	}
	// What a browser sends from the page itself (Origin: null under
	// Referrer-Policy: no-referrer) passes, as does a request with neither
	// header (not a browser) that has the cookie.
	req, _ := http.NewRequest("POST", f.srv.URL+"/confirm", strings.NewReader(url.Values{"csrf": {csrf}, "token": {"wrong"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "null")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest { // past the CSRF checks, to the bad token
		t.Errorf("Origin null, same-origin: status %d, want 400 (a bad link)", resp.StatusCode)
	}
	noOrigin := *b
	noOrigin.origin = ""
	noOrigin.post("/confirm", url.Values{"csrf": {csrf}, "token": {tok}}).want(t, 200, "confirmed")
}

func TestCSRFCookie(t *testing.T) {
	tests := []struct {
		publicURL string
		want      []string
	}{
		{"https://id.example.com", []string{pages.CSRFCookieSecure + "=", "Secure", "HttpOnly", "SameSite=Strict", "Path=/"}},
		{"http://localhost:8080", []string{pages.CSRFCookie + "=", "HttpOnly", "SameSite=Strict", "Path=/"}},
	}
	for _, tt := range tests {
		h := pages.New(pages.Config{PublicURL: tt.publicURL})
		req := httptest.NewRequest("GET", "/forgot-password", nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		c := w.Header().Get("Set-Cookie")
		for _, s := range tt.want {
			if !strings.Contains(c, s) {
				t.Errorf("%s: Set-Cookie %q lacks %q", tt.publicURL, c, s)
			}
		}
		if strings.Contains(c, "Domain=") {
			t.Errorf("%s: Set-Cookie %q has a Domain", tt.publicURL, c)
		}
	}
}

func TestPublicURLPath(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) { c.PublicURL = "http://id.example.com/auth/" })
	h := pages.New(pages.Config{Service: f.svc, PublicURL: "http://id.example.com/auth/"})
	req := httptest.NewRequest("GET", "/reset-password?token=x", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	for _, want := range []string{`href="/auth/forgot-password"`, `href="/auth/static/latch.css?v=`} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("page lacks %q:\n%s", want, w.Body.String())
		}
	}
}

func TestRateLimitedPage(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) { c.RateLimits = true })
	b := f.browser()
	csrf := b.get("/forgot-password").csrf(t)
	var last *page
	for range 11 { // 10 per minute per IP
		last = b.post("/forgot-password", url.Values{"csrf": {csrf}, "email": {"x@example.com"}})
	}
	last.want(t, 429, "Too many attempts", "Please wait")
	if ra := last.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q, want seconds", ra)
	}
}

func TestClientMistakesAreNot5xx(t *testing.T) {
	f := newFixture(t, nil)
	b := f.browser()
	csrf := b.get("/forgot-password").csrf(t)
	big := strings.Repeat("a", 70<<10)
	tests := []struct {
		name, method, path, ctype, body string
		status                          int
	}{
		{"too big", "POST", "/reset-password", "application/x-www-form-urlencoded", "csrf=" + csrf + "&password=" + big, 413},
		{"bad encoding", "POST", "/forgot-password", "application/x-www-form-urlencoded", "csrf=%zz", 400},
		{"json body", "POST", "/forgot-password", "application/json", `{"email":"a@example.com"}`, 403},
		{"no body", "POST", "/reset-password", "", "", 403},
		{"unknown page", "GET", "/confirm/elsewhere", "", "", 404},
		{"token in the query only", "POST", "/confirm?token=abc&csrf=" + csrf, "application/x-www-form-urlencoded", "", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, f.srv.URL+tt.path, strings.NewReader(tt.body))
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			resp, err := b.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
		})
	}
}
