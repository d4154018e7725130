package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchauth/latch/internal/mail/smtptest"
)

// The browser pages in real headless Chromium. With
// LATCH_UPDATE_SCREENSHOTS=1 the test also rewrites docs/screenshots/.

// chromiumPath finds Chromium, or skips (fails with
// LATCH_TEST_REQUIRE_SERVICES=1).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("LATCH_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatal("chromium is not installed (apt-get install chromium) and LATCH_TEST_REQUIRE_SERVICES=1")
	}
	t.Skip("chromium is not installed (apt-get install chromium): skipping the browser test")
	return ""
}

// newBrowser starts headless Chromium with a fresh profile.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("font-render-hinting", "none"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 760),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// Start the browser now (without a deadline: it would stop the
	// browser when it passes).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago: the browser must reach latch at LATCH_PUBLIC_URL.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// shots takes the screenshots for docs/pages.md when
// LATCH_UPDATE_SCREENSHOTS=1.
type shots struct {
	t   *testing.T
	dir string // "" when not updating
}

func newShots(t *testing.T) *shots {
	s := &shots{t: t}
	if os.Getenv("LATCH_UPDATE_SCREENSHOTS") == "1" {
		s.dir = filepath.Join("..", "..", "docs", "screenshots")
		if err := os.MkdirAll(s.dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// take saves the current page at desktop and phone widths.
func (s *shots) take(ctx context.Context, name string) {
	s.t.Helper()
	if s.dir == "" {
		return
	}
	for _, v := range []struct {
		suffix string
		w, h   int64
		scale  float64
	}{
		{"desktop", 1000, 760, 1},
		{"phone", 390, 844, 2},
	} {
		err := chromedp.Do(ctx, chromedp.EmulateViewport(v.w, v.h, chromedp.EmulateScale(v.scale)))
		var png []byte
		if err == nil {
			png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
		}
		if err != nil {
			s.t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(s.dir, name+"-"+v.suffix+".png"), png, 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1000, 760)); err != nil {
		s.t.Fatal(err)
	}
}

// runIn runs actions with a deadline, failing the test with what.
func runIn(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		// Show where the browser is, for the failure message.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		loc, _ := chromedp.Run(dctx, chromedp.Location())
		body, _ := chromedp.Run(dctx, chromedp.OuterHTML(chromedp.CSS("body")))
		t.Fatalf("%s: %v\nthe browser is at %s:\n%s", what, err, loc, body)
	}
}

// get runs one action that answers a value, with a deadline.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func waitH1(text string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.Search(fmt.Sprintf(`//h1[contains(., %q)]`, text)))
}

func TestPagesInChromium(t *testing.T) {
	t.Parallel()
	_ = chromiumPath(t)
	srv := smtptest.Start(t)
	addr := freeAddr(t)
	public := "http://" + addr
	app := startApp(t) // where the signup's confirmation returns to
	s := startMailServer(t, srv, map[string]string{
		"LATCH_ADDR":          addr,
		"LATCH_PUBLIC_URL":    public,
		"LATCH_REDIRECT_URLS": app.URL + "/",
	})
	ctx := newBrowser(t)
	shots := newShots(t)
	email := "browser@example.com"

	// Confirm: the mailed link shows a button; the button confirms.
	s.do("POST", "/v1/signup", "", map[string]string{"email": email, "password": mailPW}).want(t, 202, "")
	_, link := mailedLink(t, srv, email, 1)
	if !strings.HasPrefix(link, public+"/confirm?token=") {
		t.Fatalf("confirm link %q", link)
	}
	runIn(t, ctx, "open the confirm link", chromedp.Navigate(link), waitH1("Confirm your email address"))
	// The stylesheet loaded despite the strict CSP.
	bg := get(t, ctx, "read the button's style",
		chromedp.Evaluate[string](`getComputedStyle(document.querySelector("button")).backgroundColor`))
	if bg != "rgb(29, 78, 216)" {
		t.Errorf("button background %q, want rgb(29, 78, 216): the stylesheet did not apply", bg)
	}
	shots.take(ctx, "confirm")
	s.do("POST", "/v1/login", "", map[string]string{"email": email, "password": mailPW}).want(t, 403, "email_not_confirmed")
	runIn(t, ctx, "press confirm", chromedp.Click(chromedp.ID("confirm")), waitH1("Email address confirmed"))
	shots.take(ctx, "confirmed")
	s.do("POST", "/v1/login", "", map[string]string{"email": email, "password": mailPW}).want(t, 200, "")

	// The used link says so, with a form to ask again.
	runIn(t, ctx, "open the used confirm link", chromedp.Navigate(link), waitH1("This link no longer works"),
		chromedp.WaitVisible(chromedp.ID("resend")))
	shots.take(ctx, "confirm-expired")

	// Reset: ask on the forgot-password page, follow the mailed link,
	// try a weak password, then a good one.
	runIn(t, ctx, "open forgot-password", chromedp.Navigate(public+"/forgot-password"), waitH1("Reset your password"))
	shots.take(ctx, "forgot-password")
	runIn(t, ctx, "ask for a reset link",
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.Click(chromedp.ID("submit")),
		waitH1("Check your inbox"))
	shots.take(ctx, "forgot-password-sent")
	_, reset := mailedLink(t, srv, email, 2)
	if !strings.HasPrefix(reset, public+"/reset-password?token=") {
		t.Fatalf("reset link %q", reset)
	}
	runIn(t, ctx, "open the reset link", chromedp.Navigate(reset), waitH1("Choose a new password"))
	shots.take(ctx, "reset-password")
	runIn(t, ctx, "type a weak password",
		chromedp.SendKeys(chromedp.ID("password"), "password123"),
		chromedp.SendKeys(chromedp.ID("password_confirm"), "password123"),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.CSS(".error")))
	errText := get(t, ctx, "read the error", chromedp.Text(chromedp.CSS(".error")))
	if !strings.Contains(errText, "common") {
		t.Errorf("weak password error %q, want the policy's message", errText)
	}
	shots.take(ctx, "reset-password-error")
	const newPW = "a fresh passphrase for chromium"
	runIn(t, ctx, "type mismatched passwords",
		chromedp.SendKeys(chromedp.ID("password"), newPW),
		chromedp.SendKeys(chromedp.ID("password_confirm"), newPW+"?"),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(@class, "error") and contains(., "do not match")]`)))
	runIn(t, ctx, "type a good password",
		chromedp.SendKeys(chromedp.ID("password"), newPW),
		chromedp.SendKeys(chromedp.ID("password_confirm"), newPW),
		chromedp.Click(chromedp.ID("submit")),
		waitH1("Password changed"))
	shots.take(ctx, "reset-password-done")
	s.do("POST", "/v1/login", "", map[string]string{"email": email, "password": newPW}).want(t, 200, "")
	s.do("POST", "/v1/login", "", map[string]string{"email": email, "password": mailPW}).want(t, 401, "invalid_credentials")

	// The used reset link says so, with a way to ask again.
	runIn(t, ctx, "open the used reset link", chromedp.Navigate(reset), waitH1("This link no longer works"))
	shots.take(ctx, "reset-password-expired")
	href := get(t, ctx, "read the ask-again link", chromedp.AttributeValue(chromedp.CSS("a.button"), "href"))
	if href.Value != "/forgot-password" {
		t.Errorf("ask-again link %q, want /forgot-password", href.Value)
	}
	if got := get(t, ctx, "read h1", chromedp.Text(chromedp.CSS("h1"))); strings.TrimSpace(got) != "This link no longer works" {
		t.Errorf("h1 %q", got)
	}

	// Signup: an app sends the browser to /signup with its redirect_to;
	// the mailed link's confirmation sends it back to the app (a 303 after
	// the form's POST, to another origin, which the page's CSP must allow).
	newcomer := "newcomer@example.com"
	done := app.URL + "/welcome?from=latch"
	runIn(t, ctx, "open signup", chromedp.Navigate(public+"/signup?redirect_to="+url.QueryEscape(done)), waitH1("Create your account"))
	shots.take(ctx, "signup")
	runIn(t, ctx, "sign up with a weak password",
		chromedp.SendKeys(chromedp.ID("email"), newcomer),
		chromedp.SendKeys(chromedp.ID("password"), "password123"),
		chromedp.SendKeys(chromedp.ID("password_confirm"), "password123"),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.CSS(".error")))
	if errText := get(t, ctx, "read the signup error", chromedp.Text(chromedp.CSS(".error"))); !strings.Contains(errText, "common") {
		t.Errorf("weak password error %q, want the policy's message", errText)
	}
	shots.take(ctx, "signup-error")
	// The address stays in the form; the passwords are typed again.
	runIn(t, ctx, "sign up",
		chromedp.SendKeys(chromedp.ID("password"), mailPW),
		chromedp.SendKeys(chromedp.ID("password_confirm"), mailPW),
		chromedp.Click(chromedp.ID("submit")),
		waitH1("Check your inbox"))
	shots.take(ctx, "signup-sent")
	welcome := mailedFullLink(t, srv, newcomer, 1)
	if !strings.HasPrefix(welcome, public+"/confirm?token=") || !strings.HasSuffix(welcome, "&redirect_to="+url.QueryEscape(done)) {
		t.Fatalf("signup's confirm link %q", welcome)
	}
	runIn(t, ctx, "open the signup's link", chromedp.Navigate(welcome), waitH1("Confirm your email address"))
	runIn(t, ctx, "confirm, back to the app", chromedp.Click(chromedp.ID("confirm")), waitH1("Welcome back to the app"))
	if loc := get(t, ctx, "read the location", chromedp.Location()); loc != done {
		t.Errorf("the browser is at %s, want %s", loc, done)
	}
	s.do("POST", "/v1/login", "", map[string]string{"email": newcomer, "password": mailPW}).want(t, 200, "")
}
