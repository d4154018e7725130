package main

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/mail/smtptest"
)

// redirect_to end to end: an app sends the browser to latch's hosted pages
// with a redirect_to listed in LATCH_REDIRECT_URLS; the link latch mails
// carries it, and after the confirmation (or the reset) the browser lands
// back on the app.

// appServer is the app a hosted page sends the browser back to. It
// records the paths (with queries) it was asked for.
type appServer struct {
	*httptest.Server
	mu  sync.Mutex
	got []string
}

func startApp(t *testing.T) *appServer {
	a := &appServer{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.got = append(a.got, r.URL.RequestURI())
		a.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!DOCTYPE html><title>App</title><h1>Welcome back to the app</h1>")
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *appServer) requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.got...)
}

var fullLinkRE = regexp.MustCompile(`https?://[^\s"<>]+[?&]token=[A-Za-z0-9_-]{43}(?:&redirect_to=[^\s"<>]+)?`)

// mailedFullLink waits for the n-th mail to addr and returns its link with
// every query parameter, checking that the HTML part has the same.
func mailedFullLink(t *testing.T, srv *smtptest.Server, addr string, n int) string {
	t.Helper()
	var m smtptest.Received
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var got []smtptest.Received
		for _, m := range srv.Messages() {
			if len(m.To) == 1 && m.To[0] == addr {
				got = append(got, m)
			}
		}
		if len(got) >= n {
			m = got[n-1]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail #%d to %s (server got %d mails)", n, addr, len(srv.Messages()))
		}
	}
	if m.ParseErr != nil {
		t.Fatalf("mail to %s does not parse: %v\n%s", addr, m.ParseErr, m.Raw)
	}
	link := fullLinkRE.FindString(m.Text)
	if link == "" {
		t.Fatalf("no link in the mail to %s:\n%s", addr, m.Text)
	}
	if !strings.Contains(m.HTML, `href="`+html.EscapeString(link)+`"`) {
		t.Errorf("HTML part lacks the link %s:\n%s", link, m.HTML)
	}
	return link
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// formOf returns the hidden fields of a page's form, as a browser would
// send them.
func formOf(body string) url.Values {
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

// browse is a browser-like client that follows redirects, as a browser
// does after a form's POST.
type browse struct {
	t *testing.T
	c *http.Client
}

func newBrowse(t *testing.T) *browse {
	jar, _ := cookiejar.New(nil)
	return &browse{t: t, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// do answers the status, the body and the URL the client ended at.
func (b *browse) do(method, u string, form url.Values) (int, string, string) {
	b.t.Helper()
	var resp *http.Response
	var err error
	if method == "GET" {
		resp, err = b.c.Get(u)
	} else {
		resp, err = b.c.PostForm(u, form)
	}
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw), resp.Request.URL.String()
}

func TestPagesRedirectToOverSMTP(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	app := startApp(t)
	s := startMailServer(t, srv, map[string]string{"LATCH_REDIRECT_URLS": app.URL + "/"})
	done := app.URL + "/welcome?from=latch&next=%2Fhome"
	b := newBrowse(t)
	const addr = "lena@example.com"

	// Signup on the hosted page, with the app's redirect_to.
	status, body, _ := b.do("GET", s.URL+"/signup?redirect_to="+url.QueryEscape(done), nil)
	if status != 200 || formOf(body).Get("redirect_to") != done {
		t.Fatalf("GET /signup: %d, redirect_to field %q\n%s", status, formOf(body).Get("redirect_to"), body)
	}
	form := formOf(body)
	form.Set("email", addr)
	form.Set("password", mailPW)
	form.Set("password_confirm", mailPW)
	status, body, _ = b.do("POST", s.URL+"/signup", form)
	if status != 200 || !strings.Contains(body, "Check your inbox") {
		t.Fatalf("POST /signup: %d\n%s", status, body)
	}

	// The mailed link carries redirect_to; the confirm page sends the
	// browser back to the app.
	link := mailedFullLink(t, srv, addr, 1)
	if !strings.HasPrefix(link, "http://latch.test/confirm?token=") || !strings.HasSuffix(link, "&redirect_to="+url.QueryEscape(done)) {
		t.Fatalf("confirm link %q does not carry redirect_to", link)
	}
	status, body, _ = b.do("GET", onServer(t, s, link), nil)
	if status != 200 || !strings.Contains(body, "Confirm my email address") {
		t.Fatalf("GET confirm page: %d\n%s", status, body)
	}
	s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": mailPW}).want(t, 403, "email_not_confirmed")
	status, body, at := b.do("POST", s.URL+"/confirm", formOf(body))
	if status != 200 || at != done || !strings.Contains(body, "Welcome back to the app") {
		t.Fatalf("POST /confirm ended at %s (%d), want %s\n%s", at, status, done, body)
	}
	s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": mailPW}).want(t, 200, "")

	// Forgot password -> mailed link -> reset page -> back to the app.
	status, body, _ = b.do("GET", s.URL+"/forgot-password?redirect_to="+url.QueryEscape(done), nil)
	if status != 200 {
		t.Fatalf("GET /forgot-password: %d\n%s", status, body)
	}
	form = formOf(body)
	form.Set("email", addr)
	if status, body, _ = b.do("POST", s.URL+"/forgot-password", form); status != 200 || !strings.Contains(body, "Check your inbox") {
		t.Fatalf("POST /forgot-password: %d\n%s", status, body)
	}
	reset := mailedFullLink(t, srv, addr, 2)
	if !strings.HasPrefix(reset, "http://latch.test/reset-password?token=") || !strings.HasSuffix(reset, "&redirect_to="+url.QueryEscape(done)) {
		t.Fatalf("reset link %q does not carry redirect_to", reset)
	}
	status, body, _ = b.do("GET", onServer(t, s, reset), nil)
	if status != 200 {
		t.Fatalf("GET reset page: %d\n%s", status, body)
	}
	const newPW = "another passphrase for the app"
	form = formOf(body)
	form.Set("password", newPW)
	form.Set("password_confirm", newPW)
	status, body, at = b.do("POST", s.URL+"/reset-password", form)
	if status != 200 || at != done || !strings.Contains(body, "Welcome back to the app") {
		t.Fatalf("POST /reset-password ended at %s (%d), want %s\n%s", at, status, done, body)
	}
	s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": newPW}).want(t, 200, "")
	if got := app.requests(); len(got) != 2 {
		t.Errorf("the app saw %v, want two returns", got)
	}
}

// TestPagesRedirectToRefused: an unlisted redirect_to is a 400
// invalid_redirect from the JSON API, a 400 page from the forms, and a
// mailed link edited to another address confirms but sends nobody there.
func TestPagesRedirectToRefused(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t)
	app := startApp(t)
	evil := startApp(t)
	s := startMailServer(t, srv, map[string]string{"LATCH_REDIRECT_URLS": app.URL + "/"})
	const addr = "mia@example.com"
	u, _ := url.Parse(app.URL)
	for _, bad := range []string{
		evil.URL + "/",
		"http://" + u.Host + ".evil.example/",
		"http://user@" + u.Host + "/",
		"http://" + u.Host + "@evil.example/",
		"javascript:alert(1)",
		"//evil.example/",
		"/\\evil.example",
		"http://" + u.Host + "\\@evil.example/",
	} {
		s.do("POST", "/v1/signup", "", map[string]string{"email": addr, "password": mailPW, "redirect_to": bad}).want(t, 400, "invalid_redirect")
		s.do("POST", "/v1/password/forgot", "", map[string]string{"email": addr, "redirect_to": bad}).want(t, 400, "invalid_redirect")
		s.do("POST", "/v1/confirm/resend", "", map[string]string{"email": addr, "redirect_to": bad}).want(t, 400, "invalid_redirect")
		b := newBrowse(t)
		if status, body, at := b.do("GET", s.URL+"/signup?redirect_to="+url.QueryEscape(bad), nil); status != 400 || at != s.URL+"/signup?redirect_to="+url.QueryEscape(bad) {
			t.Errorf("GET /signup?redirect_to=%s: %d at %s\n%s", bad, status, at, body)
		}
	}
	s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": mailPW}).want(t, 401, "invalid_credentials")

	// A listed redirect_to through the JSON API; the link is then edited.
	s.do("POST", "/v1/signup", "", map[string]string{"email": addr, "password": mailPW, "redirect_to": app.URL + "/in"}).want(t, 202, "")
	link := mailedFullLink(t, srv, addr, 1)
	if !strings.HasSuffix(link, "&redirect_to="+url.QueryEscape(app.URL+"/in")) {
		t.Fatalf("link %q does not carry redirect_to", link)
	}
	forged := strings.Replace(onServer(t, s, link), url.QueryEscape(app.URL+"/in"), url.QueryEscape(evil.URL+"/"), 1)
	b := newBrowse(t)
	status, body, _ := b.do("GET", forged, nil)
	if status != 200 || formOf(body).Has("redirect_to") {
		t.Fatalf("GET the edited link: %d, form %v", status, formOf(body))
	}
	form := formOf(body)
	form.Set("redirect_to", evil.URL+"/") // as if the field were edited too
	status, body, at := b.do("POST", s.URL+"/confirm", form)
	if status != 200 || at != s.URL+"/confirm" || !strings.Contains(body, "Email address confirmed") {
		t.Fatalf("POST /confirm with an edited redirect_to ended at %s (%d)\n%s", at, status, body)
	}
	if got := evil.requests(); len(got) != 0 {
		t.Errorf("the unlisted site was visited: %v", got)
	}
	s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": mailPW}).want(t, 200, "")
}
