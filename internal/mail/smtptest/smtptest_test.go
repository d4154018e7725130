package smtptest_test

import (
	"net/smtp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/mail/smtptest"
)

const raw = "From: a@example.org\r\n" +
	"To: b@example.org\r\n" +
	"Subject: =?UTF-8?q?Gr=C3=BC=C3=9Fe?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=XYZ\r\n" +
	"\r\n" +
	"--XYZ\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"aGVsbG8gcGxh\r\naW4K\r\n" +
	"--XYZ\r\n" +
	"Content-Type: text/html; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"<p>hello=20html</p>\r\n" +
	"--XYZ--\r\n"

func send(addr string, a smtp.Auth) error {
	return smtp.SendMail(addr, a, "a@example.org", []string{"b@example.org", "c@example.org"}, []byte(raw))
}

func TestServer(t *testing.T) {
	srv := smtptest.Start(t)
	if !strings.HasPrefix(srv.URL(), "smtp://") || !strings.HasSuffix(srv.URL(), "@"+srv.Addr()) {
		t.Errorf("URL() = %q, want smtp://user:pass@%s", srv.URL(), srv.Addr())
	}
	if err := send(srv.Addr(), smtp.PlainAuth("", smtptest.Username, smtptest.Password, "127.0.0.1")); err != nil {
		t.Fatalf("send with auth: %v", err)
	}
	got := srv.WaitFor(t, 1, 5*time.Second)[0]
	checks := []struct{ name, got, want string }{
		{"from", got.From, "a@example.org"},
		{"to", strings.Join(got.To, ","), "b@example.org,c@example.org"},
		{"username", got.Username, smtptest.Username},
		{"password", got.Password, smtptest.Password},
		{"subject", got.Subject, "Grüße"},
		{"text", got.Text, "hello plain\n"},
		{"html", got.HTML, "<p>hello html</p>"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if got.ParseErr != nil {
		t.Errorf("ParseErr = %v", got.ParseErr)
	}

	if err := send(srv.Addr(), smtp.PlainAuth("", smtptest.Username, "wrong", "127.0.0.1")); err == nil {
		t.Error("send with a wrong password succeeded")
	}

	srv.Stop()
	srv.Stop() // idempotent
	if err := send(srv.Addr(), nil); err == nil {
		t.Error("send to a stopped server succeeded")
	}
	srv.Restart(t)
	if err := send(srv.Addr(), nil); err != nil {
		t.Fatalf("send without auth after restart: %v", err)
	}
	msgs := srv.WaitFor(t, 2, 5*time.Second)
	if len(msgs) != 2 {
		t.Fatalf("got %d messages, want 2", len(msgs))
	}
	if msgs[1].Username != "" || msgs[1].Password != "" {
		t.Errorf("unauthenticated message has credentials %q/%q", msgs[1].Username, msgs[1].Password)
	}
	if !slices.Equal(msgs[0].Raw, srv.Messages()[0].Raw) {
		t.Error("Messages() differs from WaitFor()")
	}
}
