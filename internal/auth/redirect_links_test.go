package auth_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
)

const appDone = "https://app.example.com/welcome?from=mail"

func redirectFixture(t *testing.T) *fixture {
	return newFixture(t, func(c *auth.Config) {
		c.RedirectURLs = []string{"https://app.example.com/"}
		c.MailUnknownAccounts = true
	})
}

// mailTexts waits for the work off the request path and returns the text
// of every mail in the outbox by "kind to", emptying it.
func (f *fixture) mailTexts(t *testing.T) map[string]string {
	t.Helper()
	f.svc.Close()
	out := map[string]string{}
	for _, m := range authtest.DrainMail(t, f.db, f.clock.Now()) {
		out[m.Kind+" "+m.Message.To] = m.Message.Text
	}
	return out
}

// TestRedirectInLinks: a listed redirect_to rides in every link the call
// mails, escaped as one query parameter after the token.
func TestRedirectInLinks(t *testing.T) {
	f := redirectFixture(t)
	ctx := auth.ContextWithRedirect(auth.ContextWithClient(context.Background(), client), appDone)
	want := "&redirect_to=" + url.QueryEscape(appDone)

	f.confirmed(t, "owner@example.com")
	f.mailTexts(t)
	if _, err := f.svc.Signup(ctx, "new@example.com", pw); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Signup(ctx, "owner@example.com", pw); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ForgotPassword(ctx, "owner@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ForgotPassword(ctx, "nobody@example.com"); err != nil {
		t.Fatal(err)
	}
	got := f.mailTexts(t)
	for kind, link := range map[string]string{
		auth.MailConfirm + " new@example.com":           "https://auth.example.com/confirm?token=",
		auth.MailDuplicateSignup + " owner@example.com": "https://auth.example.com/forgot-password?redirect_to=" + url.QueryEscape(appDone),
		auth.MailReset + " owner@example.com":           "https://auth.example.com/reset-password?token=",
		auth.MailUnknownAccount + " nobody@example.com": "https://auth.example.com/forgot-password?redirect_to=" + url.QueryEscape(appDone),
	} {
		text, ok := got[kind]
		if !ok {
			t.Errorf("no %s mail among %d", kind, len(got))
			continue
		}
		if !strings.Contains(text, link) {
			t.Errorf("%s mail lacks %q:\n%s", kind, link, text)
		}
		if strings.Contains(link, "token=") && !strings.Contains(text, want) {
			t.Errorf("%s mail lacks %q:\n%s", kind, want, text)
		}
	}

	// Resend too; without a redirect_to the link has none.
	if _, err := f.svc.Signup(auth.ContextWithClient(context.Background(), client), "plain@example.com", pw); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ResendConfirmation(ctx, "new@example.com"); err != nil {
		t.Fatal(err)
	}
	got = f.mailTexts(t)
	if text := got[auth.MailConfirm+" new@example.com"]; !strings.Contains(text, want) {
		t.Errorf("resent confirmation lacks %q:\n%s", want, text)
	}
	if text := got[auth.MailConfirm+" plain@example.com"]; text == "" || strings.Contains(text, "redirect_to") {
		t.Errorf("confirmation without redirect_to:\n%s", text)
	}
}

// TestRedirectRefused: a redirect_to the list does not admit is refused
// with invalid_redirect before anything happens: no account, no mail.
func TestRedirectRefused(t *testing.T) {
	f := redirectFixture(t)
	f.confirmed(t, "owner@example.com")
	f.mailTexts(t)
	for _, bad := range []string{
		"https://evil.example/",
		"https://app.example.com.evil.example/",
		"https://user@app.example.com/",
		"//evil.example/",
		"javascript:alert(1)",
		"https://app.example.com\\@evil.example/",
		"/relative",
	} {
		ctx := auth.ContextWithRedirect(auth.ContextWithClient(context.Background(), client), bad)
		_, err := f.svc.Signup(ctx, "new@example.com", pw)
		wantCode(t, err, auth.CodeInvalidRedirect)
		wantCode(t, f.svc.ResendConfirmation(ctx, "owner@example.com"), auth.CodeInvalidRedirect)
		wantCode(t, f.svc.ForgotPassword(ctx, "owner@example.com"), auth.CodeInvalidRedirect)
	}
	if got := f.mailTexts(t); len(got) != 0 {
		t.Errorf("mails after refused calls: %v", got)
	}
	if _, err := f.svc.Login(context.Background(), "new@example.com", pw); auth.ErrorCode(err) != auth.CodeInvalidCredentials {
		t.Errorf("login of the refused signup: %v, want invalid_credentials (no account)", err)
	}
}
