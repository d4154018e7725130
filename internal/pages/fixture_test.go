package pages_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/pages"
	"github.com/latchauth/latch/internal/sqlstore"
)

// fixture is the pages over the real service, store and limiter, served
// over HTTP.
type fixture struct {
	t     testing.TB
	svc   *auth.Service
	db    *sqlstore.DB
	clock *authtest.Clock
	srv   *httptest.Server
	// origin is the public URL's origin, which the pages accept.
	origin string
}

const publicURL = "http://id.example.com"

func newFixture(t testing.TB, mod func(*auth.Config)) *fixture {
	t.Helper()
	cfg := auth.Config{
		PublicURL:           publicURL,
		Product:             "Acme ID",
		RequireConfirmation: true,
		LoginAfterReset:     true,
	}
	if mod != nil {
		mod(&cfg)
	}
	fx := authtest.New(t, cfg)
	svc, db, clk := fx.Service, fx.DB, fx.Clock
	h := pages.New(pages.Config{Service: svc, PublicURL: cfg.PublicURL, Product: cfg.Product, RedirectURLs: cfg.RedirectURLs})
	// The transport (httpapi) puts the client's address in the context.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := auth.ContextWithClient(r.Context(), auth.ClientInfo{IP: "192.0.2.7", UserAgent: r.UserAgent()})
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(srv.Close)
	return &fixture{t: t, svc: svc, db: db, clock: clk, srv: srv, origin: publicURL}
}

// mailToken waits for background work, then returns the token in the
// newest outbox mail of kind to addr, and empties the outbox.
func (f *fixture) mailToken(addr, kind string) string {
	f.t.Helper()
	f.svc.Close()
	return authtest.LastToken(f.t, authtest.DrainMail(f.t, f.db, f.clock.Now()), addr, kind)
}

// mailKinds waits for background work and returns the kinds of the mails
// in the outbox to addr, emptying it.
func (f *fixture) mailKinds(addr string) []string {
	f.t.Helper()
	f.svc.Close()
	var out []string
	for _, m := range authtest.DrainMail(f.t, f.db, f.clock.Now()) {
		if m.Message.To == addr {
			out = append(out, m.Kind)
		}
	}
	return out
}

const goodPW = "correct horse battery staple"

// signup creates an unconfirmed account and returns its confirmation token.
func (f *fixture) signup(addr string) string {
	f.t.Helper()
	if _, err := f.svc.Signup(context.Background(), addr, goodPW); err != nil {
		f.t.Fatal(err)
	}
	return f.mailToken(addr, auth.MailConfirm)
}

// confirmed creates a confirmed account.
func (f *fixture) confirmed(addr string) {
	f.t.Helper()
	if _, err := f.svc.Confirm(context.Background(), f.signup(addr)); err != nil {
		f.t.Fatal(err)
	}
}

// browser is an HTTP client with a cookie jar that sends the Origin a
// browser would.
type browser struct {
	f      *fixture
	c      *http.Client
	origin string // "" sends none
}

func (f *fixture) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return &browser{f: f, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}, origin: f.origin}
}

// page is an answer.
type page struct {
	Status int
	Header http.Header
	Body   string
}

func (b *browser) get(path string) *page {
	b.f.t.Helper()
	return b.do(http.MethodGet, path, nil)
}

func (b *browser) post(path string, form url.Values) *page {
	b.f.t.Helper()
	return b.do(http.MethodPost, path, form)
}

func (b *browser) do(method, path string, form url.Values) *page {
	b.f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.f.srv.URL+path, body)
	if err != nil {
		b.f.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if b.origin != "" {
			req.Header.Set("Origin", b.origin)
		}
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.f.t.Fatal(err)
	}
	return &page{Status: resp.StatusCode, Header: resp.Header, Body: string(raw)}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// csrf returns the page's CSRF field.
func (p *page) csrf(t *testing.T) string {
	t.Helper()
	sm := csrfRE.FindStringSubmatch(p.Body)
	if sm == nil {
		t.Fatalf("page has no csrf field:\n%s", p.Body)
	}
	return sm[1]
}

// want checks the status and that the body contains every string.
func (p *page) want(t *testing.T, status int, contains ...string) *page {
	t.Helper()
	if p.Status != status {
		t.Fatalf("status %d, want %d\n%s", p.Status, status, p.Body)
	}
	for _, s := range contains {
		if !strings.Contains(p.Body, s) {
			t.Errorf("page lacks %q:\n%s", s, p.Body)
		}
	}
	return p
}

// login tries a login with the service.
func (f *fixture) login(addr, pw string) error {
	_, err := f.svc.Login(context.Background(), addr, pw)
	return err
}
