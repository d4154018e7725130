package mail_test

import (
	"context"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/mail"
	"github.com/latchauth/latch/internal/mail/smtptest"
)

const from = "latch@example.com"

func newSender(t *testing.T, rawURL string) *mail.SMTPSender {
	t.Helper()
	s, err := mail.NewSMTPSender(rawURL, from)
	if err != nil {
		t.Fatalf("NewSMTPSender(%q): %v", rawURL, err)
	}
	return s
}

func TestSMTPSenderDelivers(t *testing.T) {
	srv := smtptest.Start(t)
	tests := []struct {
		name               string
		url                string
		wantUser, wantPass string
	}{
		{"with auth", srv.URL(), smtptest.Username, smtptest.Password},
		{"without auth", srv.URLNoAuth(), "", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSender(t, tt.url)
			msg := auth.Message{
				To:      "alice@example.org",
				Subject: "Confirm your email address – Grüße",
				Text:    "Hello,\n\nopen https://auth.example.com/confirm?token=abc_DEF-123&x=1 to confirm.\n\nA long line " + strings.Repeat("word ", 40) + "\n",
			}
			if err := s.Send(context.Background(), msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := srv.WaitFor(t, i+1, 5*time.Second)[i]
			if got.ParseErr != nil {
				t.Fatalf("server could not parse the message: %v\n%s", got.ParseErr, got.Raw)
			}
			if got.From != from {
				t.Errorf("envelope from = %q, want %q", got.From, from)
			}
			if len(got.To) != 1 || got.To[0] != msg.To {
				t.Errorf("envelope to = %q, want [%q]", got.To, msg.To)
			}
			if h := got.Header.Get("From"); !strings.Contains(h, from) {
				t.Errorf("From header = %q, want it to contain %q", h, from)
			}
			if h := got.Header.Get("To"); !strings.Contains(h, msg.To) {
				t.Errorf("To header = %q, want it to contain %q", h, msg.To)
			}
			if got.Subject != msg.Subject {
				t.Errorf("subject = %q, want %q", got.Subject, msg.Subject)
			}
			if strings.TrimRight(got.Text, "\n") != strings.TrimRight(msg.Text, "\n") {
				t.Errorf("text body =\n%q\nwant\n%q", got.Text, msg.Text)
			}
			if got.HTML != "" {
				t.Errorf("html = %q, want none", got.HTML)
			}
			if got.Username != tt.wantUser || got.Password != tt.wantPass {
				t.Errorf("server saw credentials %q/%q, want %q/%q", got.Username, got.Password, tt.wantUser, tt.wantPass)
			}
		})
	}
}

func TestSMTPSenderHTML(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSender(t, srv.URL())
	msg := auth.Message{
		To:      "bob@example.org",
		Subject: "Hi",
		Text:    "plain version\n",
		HTML:    "<p>html version</p>\n",
	}
	if err := s.Send(context.Background(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.WaitFor(t, 1, 5*time.Second)[0]
	if got.ParseErr != nil {
		t.Fatalf("parse: %v", got.ParseErr)
	}
	if ct := got.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
		t.Errorf("Content-Type = %q, want multipart/alternative", ct)
	}
	if strings.TrimSpace(got.Text) != "plain version" {
		t.Errorf("text = %q, want %q", got.Text, "plain version")
	}
	if strings.TrimSpace(got.HTML) != "<p>html version</p>" {
		t.Errorf("html = %q, want %q", got.HTML, "<p>html version</p>")
	}
}

func TestSMTPSenderWrongPassword(t *testing.T) {
	srv := smtptest.Start(t)
	const wrong = "not-the-password-42"
	u := url.URL{Scheme: "smtp", User: url.UserPassword(smtptest.Username, wrong), Host: srv.Addr()}
	s := newSender(t, u.String())
	err := s.Send(context.Background(), auth.Message{To: "a@example.org", Subject: "s", Text: "t"})
	if err == nil {
		t.Fatal("Send with a wrong password succeeded, want an error")
	}
	if strings.Contains(err.Error(), wrong) {
		t.Errorf("error %q contains the password", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("server got %d messages, want 0", n)
	}
	if str := s.String(); strings.Contains(str, wrong) {
		t.Errorf("String() = %q contains the password", str)
	}
}

func TestSMTPSenderServerDown(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSender(t, srv.URL())
	srv.Stop()
	err := s.Send(context.Background(), auth.Message{To: "a@example.org", Subject: "s", Text: "t"})
	if err == nil {
		t.Fatal("Send to a stopped server succeeded, want an error")
	}
	if strings.Contains(err.Error(), smtptest.Password) {
		t.Errorf("error %q contains the password", err)
	}
	srv.Restart(t)
	if err := s.Send(context.Background(), auth.Message{To: "a@example.org", Subject: "s", Text: "t"}); err != nil {
		t.Fatalf("Send after restart: %v", err)
	}
	if got := srv.WaitFor(t, 1, 5*time.Second); len(got) != 1 {
		t.Errorf("server got %d messages, want 1", len(got))
	}
}

func TestSMTPSenderBadRecipient(t *testing.T) {
	srv := smtptest.Start(t)
	s := newSender(t, srv.URL())
	if err := s.Send(context.Background(), auth.Message{To: "not an address", Subject: "s", Text: "t"}); err == nil {
		t.Error("Send to an invalid address succeeded, want an error")
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("server got %d messages, want 0", n)
	}
}

func TestNewSMTPSender(t *testing.T) {
	const secret = "Pa55w0rd"
	tests := []struct {
		url     string
		from    string
		want    string // String() on success
		wantErr string // substring of the error; "" means success
	}{
		{url: "smtp://mail.example.com", want: "smtp://mail.example.com:587"},
		{url: "smtp://u:" + secret + "@mail.example.com", want: "smtp://u@mail.example.com:587"},
		{url: "smtps://u:" + secret + "@mail.example.com", want: "smtps://u@mail.example.com:465"},
		{url: "SMTP://mail.example.com:2525/", want: "smtp://mail.example.com:2525"},
		{url: "smtp://u%40x:p%2Fw@[::1]:25", want: "smtp://u%40x@[::1]:25"},
		{url: "smtp://mail.example.com", from: "Latch <no-reply@example.com>", want: "smtp://mail.example.com:587"},
		{url: "http://mail.example.com", wantErr: `unsupported scheme "http"`},
		{url: "mail.example.com:25", wantErr: "want smtp://"},
		{url: "", wantErr: "want smtp://"},
		{url: "smtp:mail.example.com", wantErr: "not smtp:host"},
		{url: "smtp://", wantErr: "missing host"},
		{url: "smtp://u:" + secret + "@", wantErr: "missing host"},
		{url: "smtp://mail.example.com:0", wantErr: "port"},
		{url: "smtp://mail.example.com:70000", wantErr: "port"},
		{url: "smtp://mail.example.com:", wantErr: "empty port"},
		{url: "smtp://u:" + secret + "@mail.example.com:x25", wantErr: "port"},
		{url: "smtp://mail.example.com/path", wantErr: "unexpected path"},
		{url: "smtp://mail.example.com?insecure_skip_verify=1", wantErr: "query"},
		{url: "smtp://mail.example.com#frag", wantErr: "fragment"},
		{url: "smtp://:" + secret + "@mail.example.com", wantErr: "empty user name"},
		{url: "smtp://u:" + secret + "%zz@mail.example.com", wantErr: "user name or password"},
		{url: "smtp://u:" + secret + "/9999@mail.example.com", wantErr: "invalid SMTP URL"},
		{url: "smtp://u:99999/" + secret + "@mail.example.com", wantErr: "invalid SMTP URL"},
		{url: "smtp://u:" + secret + "@mail example.com", wantErr: "invalid SMTP URL"},
		{url: "smtp://mail.example.com", from: "not an address", wantErr: "invalid sender address"},
	}
	for _, tt := range tests {
		from := tt.from
		if from == "" {
			from = "latch@localhost"
		}
		s, err := mail.NewSMTPSender(tt.url, from)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("NewSMTPSender(%q): got error %v, want none", tt.url, err)
		case tt.wantErr == "" && s.String() != tt.want:
			t.Errorf("NewSMTPSender(%q).String() = %q, want %q", tt.url, s.String(), tt.want)
		case tt.wantErr != "" && err == nil:
			t.Errorf("NewSMTPSender(%q): got no error, want one containing %q", tt.url, tt.wantErr)
		case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
			t.Errorf("NewSMTPSender(%q): got error %q, want one containing %q", tt.url, err, tt.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("NewSMTPSender(%q): error %q contains the password", tt.url, err)
		}
		if err == nil && strings.Contains(s.String(), secret) {
			t.Errorf("NewSMTPSender(%q).String() = %q contains the password", tt.url, s.String())
		}
	}
}

// FuzzNewSMTPSender checks that parsing never panics and that neither an
// error nor String() ever shows the password.
func FuzzNewSMTPSender(f *testing.F) {
	f.Add("smtp", "user", "hunter2", "mail.example.com:587")
	f.Add("smtps", "u", "p/9999", "h")
	f.Add("smtp", "u", "99999/x", "h:25")
	f.Add("smtp", "", "a%zz", "[::1]:25")
	f.Add("smtp", "u", "a@b:c?d#e", "h")
	f.Fuzz(func(t *testing.T, scheme, user, pass, host string) {
		// Mark the password so that it cannot be confused with other parts.
		pass = "Q7" + pass + "Z3"
		if strings.Contains(scheme+user+host, pass) {
			return
		}
		raw := scheme + "://" + user + ":" + pass + "@" + host
		s, err := mail.NewSMTPSender(raw, "latch@localhost")
		if err != nil {
			if strings.Contains(err.Error(), pass) {
				t.Fatalf("NewSMTPSender(%q): error %q contains the password", raw, err)
			}
			return
		}
		if strings.Contains(s.String(), pass) {
			t.Fatalf("NewSMTPSender(%q).String() = %q contains the password", raw, s.String())
		}
	})
}

func TestSMTPSenderIPv6(t *testing.T) {
	if l, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		l.Close()
	}
	srv := smtptest.StartAddr(t, "[::1]:0")
	s := newSender(t, srv.URL())
	if err := s.Send(context.Background(), auth.Message{To: "a@example.org", Subject: "s", Text: "t"}); err != nil {
		t.Fatalf("Send to %s: %v", srv.Addr(), err)
	}
	got := srv.WaitFor(t, 1, 5*time.Second)[0]
	if got.Username != smtptest.Username {
		t.Errorf("server saw user %q, want %q", got.Username, smtptest.Username)
	}
}
