package pages_test

import (
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/pages"
)

const (
	appURL  = "https://app.example.com/"
	appDone = "https://app.example.com/welcome?from=latch&x=%2F"
	// appCSP is the CSP of a page whose form carries a redirect_to of
	// app.example.com.
	appCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' https://app.example.com; base-uri 'none'; frame-ancestors 'none'"
)

func redirectFixture(t *testing.T) *fixture {
	return newFixture(t, func(c *auth.Config) { c.RedirectURLs = []string{appURL} })
}

var signupHrefRE = regexp.MustCompile(`href="(/signup\?[^"]*)"`)

var mailLinkRE = regexp.MustCompile(`https?://\S+[?&]token=\S+`)

// mailLink waits for background work and returns the path and query of
// the link in the newest mail of kind to addr, emptying the outbox.
func (f *fixture) mailLink(addr, kind string) string {
	f.t.Helper()
	f.svc.Close()
	var link string
	for _, m := range authtest.DrainMail(f.t, f.db, f.clock.Now()) {
		if m.Message.To == addr && m.Kind == kind {
			link = mailLinkRE.FindString(m.Message.Text)
		}
	}
	if link == "" {
		f.t.Fatalf("no %s mail with a link to %s", kind, addr)
	}
	if !strings.HasPrefix(link, publicURL+"/") {
		f.t.Fatalf("link %q is not under the public URL", link)
	}
	return strings.TrimPrefix(link, publicURL)
}

func linkToken(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

// hidden is the form's redirect_to field as the page writes it.
func hidden(rt string) string {
	return `name="redirect_to" value="` + strings.ReplaceAll(rt, "&", "&amp;") + `"`
}

// TestSignupRedirect: the app's redirect_to goes from the signup page into
// the mailed link, from the link into the confirm form, and after the
// confirmation the browser goes there.
func TestSignupRedirect(t *testing.T) {
	f := redirectFixture(t)
	b := f.browser()
	form := b.get("/signup?redirect_to="+url.QueryEscape(appDone)).want(t, 200, hidden(appDone),
		`href="/forgot-password?redirect_to=`+strings.ReplaceAll(url.QueryEscape(appDone), "&", "&amp;")+`"`)
	if got := form.Header.Get("Content-Security-Policy"); got != appCSP {
		t.Errorf("CSP %q, want %q", got, appCSP)
	}
	// The login page's "Create an account" link leads here with its
	// redirect_to.
	login := b.get("/login?redirect_to="+url.QueryEscape(appDone)).want(t, 200)
	sm := signupHrefRE.FindStringSubmatch(login.Body)
	if sm == nil {
		t.Fatalf("the login page has no signup link:\n%s", login.Body)
	}
	b.get(html.UnescapeString(sm[1])).want(t, 200, "Create your account", hidden(appDone))
	const addr = "rita@example.com"
	// A mistake keeps the redirect_to in the form.
	b.post("/signup", url.Values{"csrf": {form.csrf(t)}, "email": {addr}, "password": {goodPW}, "password_confirm": {"x"}, "redirect_to": {appDone}}).
		want(t, 422, hidden(appDone))
	b.post("/signup", url.Values{"csrf": {form.csrf(t)}, "email": {addr}, "password": {goodPW}, "password_confirm": {goodPW}, "redirect_to": {appDone}}).
		want(t, 200, "Check your inbox")

	link := f.mailLink(addr, auth.MailConfirm)
	if !strings.HasSuffix(link, "&redirect_to="+url.QueryEscape(appDone)) {
		t.Fatalf("mailed link %q does not carry redirect_to", link)
	}
	confirm := b.get(link).want(t, 200, "Confirm your email address", hidden(appDone))
	if got := confirm.Header.Get("Content-Security-Policy"); got != appCSP {
		t.Errorf("confirm page CSP %q, want %q", got, appCSP)
	}
	done := b.post("/confirm", url.Values{"csrf": {confirm.csrf(t)}, "token": {linkToken(t, link)}, "redirect_to": {appDone}})
	done.want(t, 303)
	if loc := done.Header.Get("Location"); loc != appDone {
		t.Errorf("Location %q, want %q", loc, appDone)
	}
	for k, v := range map[string]string{"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Frame-Options": "DENY"} {
		if got := done.Header.Get(k); got != v {
			t.Errorf("303: %s = %q, want %q", k, got, v)
		}
	}
	if err := f.login(addr, goodPW); err != nil {
		t.Errorf("login after the redirect: %v", err)
	}
	// A used link keeps redirect_to in the resend form it offers.
	b.get(link).want(t, 400, "This link no longer works", hidden(appDone))
	bad := b.post("/confirm", url.Values{"csrf": {confirm.csrf(t)}, "token": {linkToken(t, link)}, "redirect_to": {appDone}}).
		want(t, 400, hidden(appDone))
	if loc := bad.Header.Get("Location"); loc != "" {
		t.Errorf("a used link redirected to %q", loc)
	}
}

// TestResendRedirect: the resend form offered by a dead confirmation link
// carries redirect_to into the new link.
func TestResendRedirect(t *testing.T) {
	f := redirectFixture(t)
	const addr = "sam@example.com"
	f.signup(addr)
	b := f.browser()
	dead := b.get("/confirm?token=gone&redirect_to="+url.QueryEscape(appDone)).want(t, 400, hidden(appDone))
	b.post("/confirm/resend", url.Values{"csrf": {dead.csrf(t)}, "email": {addr}, "redirect_to": {appDone}}).want(t, 200, "Check your inbox")
	link := f.mailLink(addr, auth.MailConfirm)
	if !strings.HasSuffix(link, "&redirect_to="+url.QueryEscape(appDone)) {
		t.Fatalf("resent link %q does not carry redirect_to", link)
	}
	form := b.get(link).want(t, 200, hidden(appDone))
	done := b.post("/confirm", url.Values{"csrf": {form.csrf(t)}, "token": {linkToken(t, link)}, "redirect_to": {appDone}}).want(t, 303)
	if loc := done.Header.Get("Location"); loc != appDone {
		t.Errorf("Location %q, want %q", loc, appDone)
	}
}

// TestResetRedirect: forgot password -> mailed link -> reset page -> 303.
func TestResetRedirect(t *testing.T) {
	f := redirectFixture(t)
	const addr = "tom@example.com"
	f.confirmed(addr)
	b := f.browser()
	forgot := b.get("/forgot-password?redirect_to="+url.QueryEscape(appDone)).want(t, 200, "Reset your password", hidden(appDone))
	b.post("/forgot-password", url.Values{"csrf": {forgot.csrf(t)}, "email": {addr}, "redirect_to": {appDone}}).want(t, 200, "Check your inbox")
	link := f.mailLink(addr, auth.MailReset)
	if !strings.HasSuffix(link, "&redirect_to="+url.QueryEscape(appDone)) {
		t.Fatalf("mailed link %q does not carry redirect_to", link)
	}
	form := b.get(link).want(t, 200, "Choose a new password", hidden(appDone))
	if got := form.Header.Get("Content-Security-Policy"); got != appCSP {
		t.Errorf("reset page CSP %q, want %q", got, appCSP)
	}
	tok := linkToken(t, link)
	const newPW = "a brand new passphrase 42"
	// Mistakes keep redirect_to.
	b.post("/reset-password", url.Values{"csrf": {form.csrf(t)}, "token": {tok}, "password": {newPW}, "password_confirm": {"x"}, "redirect_to": {appDone}}).
		want(t, 422, hidden(appDone))
	done := b.post("/reset-password", url.Values{"csrf": {form.csrf(t)}, "token": {tok}, "password": {newPW}, "password_confirm": {newPW}, "redirect_to": {appDone}})
	done.want(t, 303)
	if loc := done.Header.Get("Location"); loc != appDone {
		t.Errorf("Location %q, want %q", loc, appDone)
	}
	if err := f.login(addr, newPW); err != nil {
		t.Errorf("login with the new password: %v", err)
	}
	// A used link offers a new one that keeps redirect_to.
	b.get(link).want(t, 400, `href="/forgot-password?redirect_to=`+strings.ReplaceAll(url.QueryEscape(appDone), "&", "&amp;")+`"`)
}

// refusedRedirects are redirect_to values the list (https://app.example.com/)
// must not admit.
var refusedRedirects = []string{
	"https://evil.example/",
	"https://app.example.com.evil.example/",
	"https://app.example.com@evil.example/",
	"https://user@app.example.com/",
	"https://user:pw@app.example.com/",
	"javascript:alert(document.domain)",
	"JavaScript://app.example.com/%0aalert(1)",
	"data:text/html,<script>alert(1)</script>",
	"//evil.example/",
	"///evil.example/",
	"/\\evil.example/",
	"\\\\evil.example\\",
	"https://app.example.com\\@evil.example/",
	"https:\\\\app.example.com\\",
	"https://app.example.com/\\evil.example",
	"https://app.example.com/#@evil.example",
	"https://app.example.com/\r\nX: y",
	" https://app.example.com/",
	"http://app.example.com/",
	"https://app.example.com:444/",
	"https://APP.example.com/",
	"/welcome",
	"app.example.com/",
}

// TestRedirectRefused: whatever the page, a redirect_to the list does not
// admit never becomes a redirect: the forms that mail refuse it (400, no
// account, no mail), the link pages drop it and show their own done page.
func TestRedirectRefused(t *testing.T) {
	f := redirectFixture(t)
	const owner = "uma@example.com"
	f.confirmed(owner)
	b := f.browser()
	csrf := b.get("/signup").csrf(t)
	noRedirect := func(t *testing.T, what string, p *page) {
		t.Helper()
		if loc := p.Header.Get("Location"); loc != "" {
			t.Errorf("%s: redirected to %q", what, loc)
		}
		if strings.Contains(p.Body, `name="redirect_to"`) || strings.Contains(p.Body, "redirect_to=") {
			t.Errorf("%s: the page carries the redirect_to on:\n%s", what, p.Body)
		}
		if got := p.Header.Get("Content-Security-Policy"); got != pages.CSP {
			t.Errorf("%s: CSP %q, want %q", what, got, pages.CSP)
		}
		if p.Header.Get("X-Frame-Options") != "DENY" || p.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", what, p.Header)
		}
	}
	for i, bad := range refusedRedirects {
		q := "?redirect_to=" + url.QueryEscape(bad)
		noRedirect(t, "GET /signup"+q, b.get("/signup"+q).want(t, 400, "This page cannot return you there"))
		noRedirect(t, "GET /forgot-password"+q, b.get("/forgot-password"+q).want(t, 400, "This page cannot return you there"))
		addr := fmt.Sprintf("new%d@example.com", i)
		noRedirect(t, "POST /signup "+bad, b.post("/signup", url.Values{"csrf": {csrf}, "email": {addr}, "password": {goodPW}, "password_confirm": {goodPW}, "redirect_to": {bad}}).
			want(t, 400, "This page cannot return you there"))
		noRedirect(t, "POST /forgot-password "+bad, b.post("/forgot-password", url.Values{"csrf": {csrf}, "email": {owner}, "redirect_to": {bad}}).
			want(t, 400, "This page cannot return you there"))
		noRedirect(t, "POST /confirm/resend "+bad, b.post("/confirm/resend", url.Values{"csrf": {csrf}, "email": {addr}, "redirect_to": {bad}}).
			want(t, 400, "This page cannot return you there"))
		if err := f.login(addr, goodPW); auth.ErrorCode(err) != auth.CodeInvalidCredentials {
			t.Errorf("signup with redirect_to %q: login %v, want invalid_credentials (no account)", bad, err)
		}
	}
	if got := f.mailKinds(owner); len(got) != 0 {
		t.Errorf("mails after refused forms: %v", got)
	}

	// The link pages: the link still works, redirect_to is dropped.
	for i, bad := range refusedRedirects {
		addr := fmt.Sprintf("link%d@example.com", i)
		tok := f.signup(addr)
		q := "&redirect_to=" + url.QueryEscape(bad)
		form := b.get("/confirm?token="+tok+q).want(t, 200, "Confirm your email address")
		noRedirect(t, "GET /confirm "+bad, form)
		noRedirect(t, "POST /confirm "+bad, b.post("/confirm", url.Values{"csrf": {form.csrf(t)}, "token": {tok}, "redirect_to": {bad}}).
			want(t, 200, "Email address confirmed"))

		f.svc.ForgotPassword(t.Context(), addr)
		reset := f.mailToken(addr, auth.MailReset)
		rform := b.get("/reset-password?token="+reset+q).want(t, 200, "Choose a new password")
		noRedirect(t, "GET /reset-password "+bad, rform)
		noRedirect(t, "POST /reset-password "+bad, b.post("/reset-password", url.Values{"csrf": {rform.csrf(t)}, "token": {reset}, "password": {goodPW}, "password_confirm": {goodPW}, "redirect_to": {bad}}).
			want(t, 200, "Password changed"))
		noRedirect(t, "dead link "+bad, b.get("/reset-password?token="+reset+q).want(t, 400))
		noRedirect(t, "dead confirm link "+bad, b.get("/confirm?token="+tok+q).want(t, 400))
	}
}
