package mail_test

import (
	"html"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/mail"
)

func TestComposeEveryKind(t *testing.T) {
	c := mail.NewComposer()
	const link = "https://auth.example.com/confirm?token=tok_ABC-123"
	data := auth.MailData{
		To:        "alice@example.org",
		Link:      link,
		PublicURL: "https://auth.example.com/",
		Product:   "Acme",
		NewEmail:  "alice.new@example.org",
		ExpiresIn: 60 * time.Minute,
		Change:    "An authenticator app was turned on.",
	}
	tests := []struct {
		kind        string
		subject     string   // substring of the subject
		contains    []string // substrings of the body
		notContains []string
	}{
		{auth.MailConfirm, "Confirm your email address for Acme",
			[]string{link, "alice@example.org", "valid for 60 minutes", "If you did not ask for this, ignore this mail"}, nil},
		{auth.MailDuplicateSignup, "sign up",
			[]string{link, "Someone tried to sign up", "already have an account", "reset"}, nil},
		{auth.MailReset, "Reset your Acme password",
			[]string{link, "valid for 60 minutes", "If you did not ask for this, ignore this mail"}, nil},
		{auth.MailUnknownAccount, "password reset request",
			[]string{link, "alice@example.org", "no Acme account with this address", "ignore this mail"}, nil},
		{auth.MailPasswordChanged, "password was changed",
			[]string{"alice@example.org", link}, nil},
		{auth.MailPasswordReset, "password was reset",
			[]string{"alice@example.org", "signed out", link}, nil},
		{auth.MailEmailChange, "Confirm your new email address",
			[]string{link, "alice.new@example.org", "valid for 60 minutes", "If you did not ask for this, ignore this mail"}, nil},
		{auth.MailEmailChanged, "email address",
			[]string{"alice@example.org", "alice.new@example.org", "https://auth.example.com"}, []string{"https://auth.example.com/ "}},
		{auth.MailAccountDeleted, "deleted",
			[]string{"alice@example.org", "https://auth.example.com"}, nil},
		{auth.MailMFAChanged, "second factor",
			[]string{"alice@example.org", "An authenticator app was turned on.", "forgot-password"}, nil},
		{auth.MailRecoveryCodeUsed, "recovery code",
			[]string{"alice@example.org", "works once", "forgot-password"}, nil},
		{auth.MailMFAFailures, "Wrong codes",
			[]string{"alice@example.org", "wrong second-factor codes", "forgot-password"}, nil},
		{auth.MailPasskeyCounter, "passkey",
			[]string{"alice@example.org", "signature counter went backwards", "remove it"}, nil},
	}
	if len(tests) != len(mail.Kinds) {
		t.Fatalf("test covers %d kinds, Kinds lists %d", len(tests), len(mail.Kinds))
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			m, err := c.Compose(tt.kind, data)
			if err != nil {
				t.Fatalf("Compose: %v", err)
			}
			if m.To != data.To {
				t.Errorf("To = %q, want %q", m.To, data.To)
			}
			if !strings.Contains(m.Subject, tt.subject) {
				t.Errorf("Subject = %q, want it to contain %q", m.Subject, tt.subject)
			}
			if strings.ContainsAny(m.Subject, "\r\n") {
				t.Errorf("Subject %q spans lines", m.Subject)
			}
			for _, want := range tt.contains {
				if !strings.Contains(m.Text, want) {
					t.Errorf("body does not contain %q:\n%s", want, m.Text)
				}
			}
			for _, bad := range append(tt.notContains, "<no value>", "{{", "Subject:", "\n\n\n") {
				if strings.Contains(m.Text, bad) {
					t.Errorf("body contains %q:\n%s", bad, m.Text)
				}
			}
			if !strings.Contains(m.Text, "Acme") {
				t.Errorf("body does not name the product:\n%s", m.Text)
			}
			if !strings.HasSuffix(m.Text, "\n") || strings.HasSuffix(m.Text, "\n\n") {
				t.Errorf("body should end with exactly one newline: %q", m.Text[max(0, len(m.Text)-20):])
			}
			// The HTML alternative says the same, links included, and
			// escapes what it shows.
			for _, want := range append(tt.contains, "<!DOCTYPE html>", "<title>"+html.EscapeString(m.Subject)+"</title>") {
				if w := html.EscapeString(want); !strings.Contains(m.HTML, w) && !strings.Contains(m.HTML, want) {
					t.Errorf("HTML does not contain %q:\n%s", want, m.HTML)
				}
			}
			if strings.Contains(m.HTML, "<no value>") || strings.Contains(m.HTML, "{{") {
				t.Errorf("HTML has template leftovers:\n%s", m.HTML)
			}
		})
	}
}

func TestComposeWithoutOptionalData(t *testing.T) {
	c := mail.NewComposer()
	for _, kind := range mail.Kinds {
		m, err := c.Compose(kind, auth.MailData{To: "bob@example.org"})
		if err != nil {
			t.Errorf("Compose(%q) with minimal data: %v", kind, err)
			continue
		}
		if !strings.Contains(m.Subject+m.Text, mail.DefaultProduct) {
			t.Errorf("Compose(%q): product defaults to %q, not found in %q", kind, mail.DefaultProduct, m.Subject)
		}
		if strings.Contains(m.Text, "<no value>") {
			t.Errorf("Compose(%q) body has <no value>:\n%s", kind, m.Text)
		}
	}
}

func TestComposeNotificationLinkFallback(t *testing.T) {
	c := mail.NewComposer()
	d := auth.MailData{To: "bob@example.org", PublicURL: "https://id.example.com"}
	for _, kind := range []string{auth.MailPasswordChanged, auth.MailPasswordReset} {
		m, err := c.Compose(kind, d)
		if err != nil {
			t.Fatalf("Compose(%q): %v", kind, err)
		}
		if want := "https://id.example.com/forgot-password"; !strings.Contains(m.Text, want) {
			t.Errorf("Compose(%q) without Link: body lacks %q:\n%s", kind, want, m.Text)
		}
	}
}

func TestComposeExpiry(t *testing.T) {
	c := mail.NewComposer()
	tests := []struct {
		in   time.Duration
		want string
	}{
		{60 * time.Minute, "valid for 60 minutes"},
		{15 * time.Minute, "valid for 15 minutes"},
		{24 * time.Hour, "valid for 1 day"},
		{48 * time.Hour, "valid for 2 days"},
		{2 * time.Hour, "valid for 2 hours"},
		{90 * time.Minute, "valid for 1 hour and 30 minutes"},
		{61 * time.Minute, "valid for 1 hour and 1 minute"},
		{30 * time.Second, "valid for 30 seconds"},
		{time.Second, "valid for 1 second"},
		{0, "valid for a limited time"},
	}
	for _, tt := range tests {
		m, err := c.Compose(auth.MailReset, auth.MailData{To: "a@example.org", Link: "https://x/r", ExpiresIn: tt.in})
		if err != nil {
			t.Fatalf("Compose: %v", err)
		}
		if !strings.Contains(m.Text, tt.want) {
			t.Errorf("ExpiresIn %v: body lacks %q:\n%s", tt.in, tt.want, m.Text)
		}
	}
}

func TestComposeSubjectIsOneLine(t *testing.T) {
	c := mail.NewComposer()
	m, err := c.Compose(auth.MailConfirm, auth.MailData{To: "a@example.org", Product: "Evil\r\nBcc: x@example.org"})
	if err != nil {
		t.Fatalf("Compose: %v", err)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		t.Errorf("Subject = %q spans lines", m.Subject)
	}
}

func TestComposeUnknownKind(t *testing.T) {
	c := mail.NewComposer()
	for _, kind := range []string{"", "nope", "CONFIRM", "../confirm"} {
		if m, err := c.Compose(kind, auth.MailData{To: "a@example.org"}); err == nil {
			t.Errorf("Compose(%q) = %+v, want an error", kind, m)
		}
	}
}
