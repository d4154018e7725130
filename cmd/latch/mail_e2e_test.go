package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/mail/smtptest"
	"github.com/latchauth/latch/internal/svctest"
)

// Mail over SMTP and the browser pages, end to end.

const mailPW = "correct horse battery staple"

// startMailServer runs latch delivering over SMTP to srv.
func startMailServer(t *testing.T, srv *smtptest.Server, env map[string]string) *server {
	t.Helper()
	full := map[string]string{
		"LATCH_SMTP_URL":     srv.URL(),
		"LATCH_MAIL_FROM":    "no-reply@latch.test",
		"LATCH_PRODUCT_NAME": "Acme ID",
	}
	for k, v := range env {
		full[k] = v
	}
	return startServer(t, full)
}

var mailLinkRE = regexp.MustCompile(`https?://[^\s"<>]+[?&]token=[A-Za-z0-9_-]{43}`)

// mailedLink waits for the n-th (1-based) mail to addr and returns it with
// the link it carries (with a token), checking that the HTML part carries
// the same link.
func mailedLink(t *testing.T, srv *smtptest.Server, addr string, n int) (smtptest.Received, string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var got []smtptest.Received
		for _, m := range srv.Messages() {
			if len(m.To) == 1 && m.To[0] == addr {
				got = append(got, m)
			}
		}
		if len(got) >= n {
			m := got[n-1]
			if m.ParseErr != nil {
				t.Fatalf("mail to %s does not parse: %v\n%s", addr, m.ParseErr, m.Raw)
			}
			link := mailLinkRE.FindString(m.Text)
			if link != "" && !strings.Contains(m.HTML, `href="`+strings.ReplaceAll(link, "&", "&amp;")+`"`) {
				t.Errorf("HTML part lacks the link %s:\n%s", link, m.HTML)
			}
			return m, link
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail #%d to %s (server got %d mails)", n, addr, len(srv.Messages()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pageClient is a browser-like client: cookies, and the Origin of the
// page it posts from.
type pageClient struct {
	t *testing.T
	c *http.Client
}

func newPageClient(t *testing.T) *pageClient {
	jar, _ := cookiejar.New(nil)
	return &pageClient{t: t, c: &http.Client{Jar: jar}}
}

var csrfFieldRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (p *pageClient) get(u string) (int, string) {
	p.t.Helper()
	resp, err := p.c.Get(u)
	if err != nil {
		p.t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (p *pageClient) post(u string, form url.Values) (int, string) {
	p.t.Helper()
	resp, err := p.c.PostForm(u, form)
	if err != nil {
		p.t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	sm := csrfFieldRE.FindStringSubmatch(body)
	if sm == nil {
		t.Fatalf("no csrf field in:\n%s", body)
	}
	return sm[1]
}

// onServer rewrites a mailed link (under LATCH_PUBLIC_URL) to the test
// server's address.
func onServer(t *testing.T, s *server, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return s.URL + u.Path + "?" + u.RawQuery
}

func TestMailSignupConfirmLoginOverSMTP(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	s := startMailServer(t, srv, nil)
	addr := "ana@example.com"
	s.do("POST", "/v1/signup", "", map[string]string{"email": addr, "password": mailPW}).want(t, 202, "")
	m, link := mailedLink(t, srv, addr, 1)

	if m.From != "no-reply@latch.test" || !strings.Contains(m.Header.Get("From"), "no-reply@latch.test") {
		t.Errorf("envelope from %q, From %q; want LATCH_MAIL_FROM", m.From, m.Header.Get("From"))
	}
	if m.Username != smtptest.Username || m.Password != smtptest.Password {
		t.Errorf("SMTP credentials %q/%q, want the URL's", m.Username, m.Password)
	}
	if ct := m.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
		t.Errorf("Content-Type %q, want multipart/alternative", ct)
	}
	if !strings.Contains(m.Subject, "Acme ID") || !strings.Contains(m.Text, "Acme ID") || !strings.Contains(m.HTML, "Acme ID") {
		t.Errorf("mail does not name LATCH_PRODUCT_NAME: subject %q\n%s", m.Subject, m.Text)
	}
	if !strings.HasPrefix(link, "http://latch.test/confirm?token=") {
		t.Fatalf("link %q is not under LATCH_PUBLIC_URL's /confirm", link)
	}

	// The link opens a page with a button; the button confirms.
	b := newPageClient(t)
	status, body := b.get(onServer(t, s, link))
	if status != 200 || !strings.Contains(body, "Confirm my email address") {
		t.Fatalf("GET confirm page: %d\n%s", status, body)
	}
	s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": mailPW}).want(t, 403, "email_not_confirmed")
	tok := tokenInLink.FindStringSubmatch(link)[1]
	status, body = b.post(s.URL+"/confirm", url.Values{"csrf": {csrfOf(t, body)}, "token": {tok}})
	if status != 200 || !strings.Contains(body, "confirmed") {
		t.Fatalf("POST /confirm: %d\n%s", status, body)
	}
	s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": mailPW}).want(t, 200, "")

	// Nothing secret reached the log: no token, no password.
	logs := s.logs.all()
	for _, secret := range []string{tok, mailPW, smtptest.Password} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}

func TestMailSMTPOutage(t *testing.T) {
	svctest.ParallelUnlessTiming(t)
	srv := smtptest.Start(t)
	s := startMailServer(t, srv, nil)
	srv.Stop()
	addrs := []string{"o1@example.com", "o2@example.com", "o3@example.com"}
	for _, a := range addrs {
		start := time.Now()
		s.do("POST", "/v1/signup", "", map[string]string{"email": a, "password": mailPW}).want(t, 202, "")
		if d := time.Since(start); svctest.Timing() && d > 5*time.Second {
			t.Errorf("signup with SMTP down took %v", d)
		}
	}
	// The worker tried, failed, and said so.
	if _, ok := s.logs.wait(10*time.Second, func(m map[string]any) bool { return m["msg"] == "mail: delivery failed" }); !ok {
		t.Fatalf("no delivery failure logged:\n%s", s.logs.all())
	}
	srv.Restart(t)
	for _, a := range addrs {
		mailedLink(t, srv, a, 1)
	}
	// One more mail after the backlog proves the worker passed again;
	// nothing was sent twice.
	s.do("POST", "/v1/password/forgot", "", map[string]string{"email": "o1@example.com"}).want(t, 202, "")
	mailedLink(t, srv, "o1@example.com", 2)
	count := map[string]int{}
	for _, m := range srv.Messages() {
		count[m.To[0]+" "+m.Subject]++
	}
	for k, n := range count {
		if n != 1 {
			t.Errorf("%d copies of %q", n, k)
		}
	}
	if len(count) != 4 {
		t.Errorf("got %d distinct mails, want 4: %v", len(count), count)
	}
}

func TestMailTemplatesOverride(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{
		"confirm.txt":  "Subject: Welcome aboard {{.Product}}\n\nHi! Confirm here: {{.Link}}\nCustom footer.\n",
		"confirm.html": `{{define "content"}}<p class="custom">Hi! <a href="{{.Link}}">Confirm</a></p>{{end}}`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv := smtptest.Start(t)
	s := startMailServer(t, srv, map[string]string{"LATCH_TEMPLATES_DIR": dir})
	s.do("POST", "/v1/signup", "", map[string]string{"email": "tpl@example.com", "password": mailPW}).want(t, 202, "")
	m, link := mailedLink(t, srv, "tpl@example.com", 1)
	if m.Subject != "Welcome aboard Acme ID" || !strings.Contains(m.Text, "Custom footer.") || !strings.Contains(m.HTML, `<p class="custom">`) {
		t.Errorf("overridden templates not used: subject %q\ntext %s\nhtml %s", m.Subject, m.Text, m.HTML)
	}
	if link == "" {
		t.Errorf("overridden mail lacks the link")
	}
	// Not overridden: the embedded template.
	s.do("POST", "/v1/password/forgot", "", map[string]string{"email": "tpl@example.com"}).want(t, 202, "")
	// (unconfirmed accounts get reset mails too)
	r, _ := mailedLink(t, srv, "tpl@example.com", 2)
	if !strings.Contains(r.Subject, "Reset your Acme ID password") {
		t.Errorf("reset mail subject %q, want the embedded one", r.Subject)
	}

	// A broken override fails the start, naming the file.
	if err := os.WriteFile(filepath.Join(dir, "reset.html"), []byte(`{{define "content"}}{{.Nope}}{{end}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"LATCH_ADDR":          "127.0.0.1:0",
		"LATCH_DATABASE_URL":  "sqlite:" + filepath.Join(t.TempDir(), "latch.db"),
		"LATCH_TEMPLATES_DIR": dir,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	err := run(ctx, []string{"serve"}, func(k string) string { return env[k] }, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "reset.html") || !strings.Contains(err.Error(), "Nope") {
		t.Errorf("run with a broken template: %v, want an error naming reset.html and the field", err)
	}
}

func TestMailLinksIgnoreRequestHost(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	// Even with the client a "trusted proxy", forwarded host headers do not
	// make links.
	s := startMailServer(t, srv, map[string]string{"LATCH_TRUSTED_PROXIES": "127.0.0.1/32"})
	hostile := func(path, body string) {
		req, err := http.NewRequest("POST", s.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "evil.example"
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-Host", "evil.example")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("Forwarded", "host=evil.example;proto=https")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 202 {
			t.Fatalf("POST %s: %d", path, resp.StatusCode)
		}
	}
	hostile("/v1/signup", `{"email":"host@example.com","password":"`+mailPW+`"}`)
	hostile("/v1/password/forgot", `{"email":"host@example.com"}`)
	for n, want := range []string{"http://latch.test/confirm?token=", "http://latch.test/reset-password?token="} {
		m, link := mailedLink(t, srv, "host@example.com", n+1)
		if !strings.HasPrefix(link, want) {
			t.Errorf("mail %d link %q, want it to start with %q", n+1, link, want)
		}
		if strings.Contains(m.Text+m.HTML, "evil.example") {
			t.Errorf("mail %d mentions the request's host:\n%s", n+1, m.Text)
		}
	}
}

func TestMailUnknownAccount(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	s := startMailServer(t, srv, map[string]string{"LATCH_MAIL_UNKNOWN_ACCOUNTS": "true"})
	s.do("POST", "/v1/password/forgot", "", map[string]string{"email": "ghost@example.com"}).want(t, 202, "")
	m, _ := mailedLink(t, srv, "ghost@example.com", 1)
	if !strings.Contains(m.Text, "no Acme ID account with this address") || !strings.Contains(m.Text, "http://latch.test/forgot-password") {
		t.Errorf("unknown-account mail:\n%s", m.Text)
	}
}
