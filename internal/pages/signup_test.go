package pages_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/pages"
)

func TestSignupPage(t *testing.T) {
	f := newFixture(t, nil)
	b := f.browser()
	form := b.get("/signup").want(t, 200, "Create your account", "Acme ID", `action="/signup"`,
		`name="email"`, `name="password"`, `name="password_confirm"`, `autocomplete="new-password"`, `href="/forgot-password"`)
	if strings.Contains(form.Body, `name="redirect_to"`) {
		t.Errorf("a form without redirect_to has the field:\n%s", form.Body)
	}
	if got := form.Header.Get("Content-Security-Policy"); got != pages.CSP {
		t.Errorf("CSP %q, want %q", got, pages.CSP)
	}
	csrf := form.csrf(t)
	const addr = "nina@example.com"
	tests := []struct {
		name, email, pw, confirm string
		want                     string
		invalid                  string // the input marked aria-invalid
	}{
		{"no email", "  ", goodPW, goodPW, "Enter your email address.", "email"},
		{"no password", addr, "", "", "Choose a password.", "password"},
		{"mismatch", addr, goodPW, goodPW + "!", "do not match", "password"},
		{"invalid email", "nina-at-example.com", goodPW, goodPW, "", "email"},
		{"too short", addr, "short", "short", "at least 8", "password"},
		{"common", addr, "password123", "password123", "common", "password"},
		{"contains the address", addr, "nina-nina-nina", "nina-nina-nina", "email", "password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := b.post("/signup", url.Values{"csrf": {csrf}, "email": {tt.email}, "password": {tt.pw}, "password_confirm": {tt.confirm}})
			p.want(t, 422, tt.want, `role="alert"`, `action="/signup"`)
			if !strings.Contains(p.Body, `name="`+tt.invalid+`" type=`) ||
				!strings.Contains(p.Body[strings.Index(p.Body, `name="`+tt.invalid+`"`):], `aria-invalid="true"`) {
				t.Errorf("the %s input is not marked invalid:\n%s", tt.invalid, p.Body)
			}
			if tt.pw != "" && strings.Contains(p.Body, tt.pw+`"`) {
				t.Errorf("the page echoes the password:\n%s", p.Body)
			}
			if e := strings.TrimSpace(tt.email); e != "" && !strings.Contains(p.Body, `value="`+e+`"`) {
				t.Errorf("the page lost the address %q:\n%s", e, p.Body)
			}
		})
	}
	if got := f.mailKinds(addr); len(got) != 0 {
		t.Fatalf("mails after refused forms: %v", got)
	}

	// A new address and one that has an account get the same page; the
	// mailbox tells them apart.
	tok := f.signup("owner@example.com")
	if _, err := f.svc.Confirm(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	f.mailKinds("owner@example.com")
	newPage := b.post("/signup", url.Values{"csrf": {csrf}, "email": {addr}, "password": {goodPW}, "password_confirm": {goodPW}}).
		want(t, 200, "Check your inbox", "We sent a message to "+addr)
	link := f.mailLink(addr, auth.MailConfirm)
	oldPage := b.post("/signup", url.Values{"csrf": {csrf}, "email": {"owner@example.com"}, "password": {goodPW}, "password_confirm": {goodPW}}).
		want(t, 200, "Check your inbox")
	if strings.ReplaceAll(oldPage.Body, "owner@example.com", addr) != newPage.Body {
		t.Errorf("signup pages differ for a new and a taken address:\n%s\n---\n%s", newPage.Body, oldPage.Body)
	}
	if got := f.mailKinds("owner@example.com"); len(got) != 1 || got[0] != auth.MailDuplicateSignup {
		t.Errorf("mails to the owner: %v, want [%s]", got, auth.MailDuplicateSignup)
	}
	if err := f.login("owner@example.com", goodPW); err != nil {
		t.Errorf("the owner's login after someone's signup: %v", err)
	}

	// The link confirms, through the page, and the password works.
	if strings.Contains(link, "redirect_to") {
		t.Errorf("link without a redirect_to has one: %s", link)
	}
	confirm := b.get(link).want(t, 200, "Confirm your email address")
	b.post("/confirm", url.Values{"csrf": {confirm.csrf(t)}, "token": {linkToken(t, link)}}).want(t, 200, "Email address confirmed")
	if err := f.login(addr, goodPW); err != nil {
		t.Errorf("login after signing up on the page: %v", err)
	}
}

// TestSignupPageNoConfirmation: with confirmation off the account is ready
// at once, and the session Signup starts does not outlive the page.
func TestSignupPageNoConfirmation(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) {
		c.RequireConfirmation = false
		c.RedirectURLs = []string{appURL}
	})
	b := f.browser()
	csrf := b.get("/signup").csrf(t)
	b.post("/signup", url.Values{"csrf": {csrf}, "email": {"olga@example.com"}, "password": {goodPW}, "password_confirm": {goodPW}}).
		want(t, 200, "Account created", "olga@example.com")
	p := b.post("/signup", url.Values{"csrf": {csrf}, "email": {"pia@example.com"}, "password": {goodPW}, "password_confirm": {goodPW}, "redirect_to": {appDone}})
	p.want(t, 303)
	if loc := p.Header.Get("Location"); loc != appDone {
		t.Errorf("Location %q, want %q", loc, appDone)
	}
	b.post("/signup", url.Values{"csrf": {csrf}, "email": {"olga@example.com"}, "password": {goodPW}, "password_confirm": {goodPW}}).
		want(t, 409, "already exists", `href="/forgot-password"`)
	for _, addr := range []string{"olga@example.com", "pia@example.com"} {
		if err := f.login(addr, goodPW); err != nil {
			t.Errorf("login of %s: %v", addr, err)
		}
		u, err := f.db.UserByEmail(context.Background(), addr)
		if err != nil {
			t.Fatal(err)
		}
		// The login above is the one session.
		if ss, err := f.db.SessionsByUser(context.Background(), u.ID, f.clock.Now()); err != nil || len(ss) != 1 {
			t.Errorf("%s has %d sessions (%v), want 1: the signup's ended", addr, len(ss), err)
		}
	}
}
