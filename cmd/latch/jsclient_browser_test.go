package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchauth/latch/internal/svctest"
)

// The TypeScript client (clients/js) in real Chromium: an app on an origin
// of its own signs in with a password, then four tabs of it refresh at once,
// over and over, against a latch whose access tokens live 2 s.

// jsClientDist builds clients/js with tsc into a temporary directory and
// answers the directory holding the compiled modules. It reuses
// clients/js/node_modules when present (.ci/run installs it) and otherwise
// runs npm ci in the copy, so the source tree stays clean. Without node or
// npm it skips (fails with LATCH_TEST_REQUIRE_SERVICES=1).
func jsClientDist(t *testing.T) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("LATCH_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format+" (set LATCH_TEST_REQUIRE_SERVICES=1 to fail instead)", args...)
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing("node is not installed, so clients/js cannot be built: %v", err)
	}
	src, err := filepath.Abs(filepath.Join("..", "..", "clients", "js"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	files := []string{"package.json", "package-lock.json", "tsconfig.json"}
	entries, err := os.ReadDir(filepath.Join(src, "src"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(tmp, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".ts") {
			files = append(files, filepath.Join("src", e.Name()))
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(src, "node_modules", "typescript", "package.json")); err == nil {
		if err := os.Symlink(filepath.Join(src, "node_modules"), filepath.Join(tmp, "node_modules")); err != nil {
			t.Fatal(err)
		}
	} else {
		if _, err := exec.LookPath("npm"); err != nil {
			missing("npm is not installed, so clients/js cannot be built: %v", err)
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			missing("npm ci in clients/js failed: %v\n%s", err, out)
		}
	}
	cmd := exec.Command("node", filepath.Join("node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tsc (clients/js): %v\n%s", err, out)
	}
	return filepath.Join(tmp, "dist")
}

// jsApp serves the test app (testdata/jsclient) and the built client under
// /latch-js/.
func jsApp(t *testing.T, dist string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET /latch-js/", http.StripPrefix("/latch-js/", http.FileServer(http.Dir(dist))))
	index := func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join("testdata", "jsclient", "index.html"))
	}
	mux.HandleFunc("GET /{$}", index)
	mux.HandleFunc("GET /callback", index) // the code flow's redirect URI
	app := httptest.NewServer(mux)
	t.Cleanup(app.Close)
	return app
}

// tabResult is what window.loop reports from one tab.
type tabResult struct {
	Errors []string `json:"errors"`
	Events []string `json:"events"`
	Tokens int      `json:"tokens"`
	Me     int      `json:"me"`
}

// jsRounds is how many rounds each tab runs: half forced refreshes, half
// uses of the session, each with a call of /v1/me.
const jsRounds = 40

// openTabs opens n-1 more tabs in the browser of ctx (whose own tab is the
// first): they share its profile, so its localStorage, Web Locks and
// BroadcastChannels.
func openTabs(t *testing.T, ctx context.Context, n int) []context.Context {
	t.Helper()
	tabs := []context.Context{ctx}
	for len(tabs) < n {
		tctx, cancel := chromedp.NewContext(ctx)
		t.Cleanup(cancel)
		// Open the tab now, without a deadline: the first Run's context
		// is the tab's lifetime.
		if err := chromedp.Do(tctx); err != nil {
			t.Fatalf("open a tab: %v", err)
		}
		tabs = append(tabs, tctx)
	}
	return tabs
}

// loadApp (re)loads the app in every tab, each with a client made by
// setup(opts).
func loadApp(t *testing.T, tabs []context.Context, page, opts string) {
	t.Helper()
	for i, tab := range tabs {
		runIn(t, tab, fmt.Sprintf("open the app in tab %d", i), chromedp.Navigate(page),
			chromedp.Poll[chromedp.Void](`window.appReady === true`, chromedp.WithPollingTimeout(20*time.Second)))
		has := get(t, tab, "set the client up", chromedp.Evaluate[map[string]bool](`setup(`+opts+`)`))
		if !has["locks"] || !has["channel"] {
			t.Fatalf("tab %d: Web Locks %v, BroadcastChannel %v: both must be present", i, has["locks"], has["channel"])
		}
	}
}

// waitThroughNavigation waits until expr is true in tab, while the tab may
// still be navigating (an evaluation then fails and is tried again).
func waitThroughNavigation(t *testing.T, tab context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(svctest.Patience(20 * time.Second))
	for {
		ctx, cancel := context.WithTimeout(tab, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			loc, _ := chromedp.Run(tab, chromedp.Location())
			t.Fatalf("%s: %s still false (last error %v); the browser is at %s", what, expr, err, loc)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// loopAll runs window.loop in every tab at once and answers their results.
func loopAll(t *testing.T, tabs []context.Context) []tabResult {
	t.Helper()
	results := make([]tabResult, len(tabs))
	errs := make([]error, len(tabs))
	var wg sync.WaitGroup
	for i, tab := range tabs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(tab, svctest.Patience(60*time.Second))
			defer cancel()
			results[i], errs[i] = chromedp.Run(ctx, chromedp.Evaluate[tabResult](fmt.Sprintf(`loop(%d)`, jsRounds), chromedp.EvalAwaitPromise))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("tab %d: loop: %v", i, err)
		}
	}
	return results
}

func TestJSClientInChromium(t *testing.T) {
	t.Parallel()
	_ = chromiumPath(t)
	dist := jsClientDist(t)
	app := jsApp(t, dist)
	s := startServer(t, map[string]string{
		"LATCH_CORS_ORIGINS": app.URL,
		"LATCH_ACCESS_TTL":   "2s",
		// No retry grace: a refresh token presented twice, however
		// quickly, is reuse and ends the session. The client must never
		// need the grace window to keep four tabs signed in.
		"LATCH_REFRESH_GRACE": "1ms",
	})
	const email, controlEmail = "tabs@example.com", "tabs.control@example.com"
	s.signupConfirmed(email, goodPassword)
	s.signupConfirmed(controlEmail, goodPassword)
	reuses := func() int {
		return s.logs.count(func(l map[string]any) bool { return l["event"] == "refresh_reuse_detected" })
	}
	page := app.URL + "/?latch=" + s.URL
	tabs := openTabs(t, newBrowser(t), 4)

	t.Run("four tabs share one session", func(t *testing.T) {
		loadApp(t, tabs, page, `{}`)
		if !get(t, tabs[0], "log in", chromedp.Evaluate[bool](fmt.Sprintf(`login(%q, %q)`, email, goodPassword), chromedp.EvalAwaitPromise)) {
			t.Fatal("login answered false")
		}
		results := loopAll(t, tabs)
		for i, r := range results {
			if len(r.Errors) > 0 {
				t.Errorf("tab %d saw %d errors, e.g. %q", i, len(r.Errors), r.Errors[0])
			}
			for _, e := range r.Events {
				if e == "SIGNED_OUT" {
					t.Errorf("tab %d was signed out; events %v", i, r.Events)
					break
				}
			}
			if r.Me != jsRounds {
				t.Errorf("tab %d: /v1/me answered 200 %d times of %d", i, r.Me, jsRounds)
			}
			// Each forced refresh gives the tab a pair newer than the one
			// it had: a tab that saw fewer tokens did not really refresh.
			if r.Tokens < jsRounds/2 {
				t.Errorf("tab %d saw %d access tokens, want at least %d", i, r.Tokens, jsRounds/2)
			}
		}
		if n := reuses(); n != 0 {
			t.Fatalf("latch detected %d refresh token reuses", n)
		}
		for i, tab := range tabs {
			get(t, tab, fmt.Sprintf("stop tab %d", i), chromedp.Evaluate[bool](`stop()`))
		}
		// The persisted refresh token still works.
		if got := get(t, tabs[0], "whoami", chromedp.Evaluate[string](`whoami({})`, chromedp.EvalAwaitPromise)); got != email {
			t.Fatalf("whoami = %q, want %q", got, email)
		}
		if n := reuses(); n != 0 {
			t.Fatalf("latch detected %d refresh token reuses", n)
		}
	})

	t.Run("sign out reaches every tab", func(t *testing.T) {
		loadApp(t, tabs, page, `{}`)
		if !get(t, tabs[0], "log in", chromedp.Evaluate[bool](fmt.Sprintf(`login(%q, %q)`, email, goodPassword), chromedp.EvalAwaitPromise)) {
			t.Fatal("login answered false")
		}
		for i, tab := range tabs[1:] {
			runIn(t, tab, fmt.Sprintf("tab %d hears of the sign-in", i+1),
				chromedp.Poll[chromedp.Void](`window.signedIn === true`, chromedp.WithPollingTimeout(20*time.Second)))
		}
		get(t, tabs[0], "sign out", chromedp.Evaluate[bool](`signOut()`, chromedp.EvalAwaitPromise))
		// The session ended at latch, not only in the browser.
		if n := s.logs.count(func(l map[string]any) bool { return l["event"] == "logout" }); n != 1 {
			t.Errorf("latch logged %d logouts, want 1", n)
		}
		for i, tab := range tabs {
			runIn(t, tab, fmt.Sprintf("tab %d hears of the sign-out", i),
				chromedp.Poll[chromedp.Void](`window.signedIn === false && events.includes("SIGNED_OUT")`, chromedp.WithPollingTimeout(20*time.Second)))
			if get(t, tab, "getSession", chromedp.Evaluate[bool](`hasSession()`, chromedp.EvalAwaitPromise)) {
				t.Errorf("tab %d still has a session after the sign-out", i)
			}
		}
		if n := reuses(); n != 0 {
			t.Fatalf("latch detected %d refresh token reuses", n)
		}
	})

	t.Run("second factor", func(t *testing.T) {
		// A latch of its own, with the default access token lifetime: the
		// enrolment below takes longer than 2 s when it waits for a TOTP step.
		sm := startServer(t, map[string]string{"LATCH_CORS_ORIGINS": app.URL})
		const mfaEmail = "tabs.mfa@example.com"
		conf := sm.signupConfirmed(mfaEmail, goodPassword)
		_, codes := sm.enrolTOTP(conf.str("access_token"), goodPassword)
		loadApp(t, tabs[:1], app.URL+"/?latch="+sm.URL, `{storageKey: "latch-mfa"}`)
		type answer struct {
			Asked *struct {
				Code     string   `json:"code"`
				Status   int      `json:"status"`
				Methods  []string `json:"methods"`
				HasToken bool     `json:"hasToken"`
			} `json:"asked"`
			Email string `json:"email"`
		}
		got := get(t, tabs[0], "log in with a recovery code",
			chromedp.Evaluate[answer](fmt.Sprintf(`loginWithFactor(%q, %q, %q)`, mfaEmail, goodPassword, codes[0]), chromedp.EvalAwaitPromise))
		if got.Asked == nil || got.Asked.Code != "mfa_required" || got.Asked.Status != 403 || !got.Asked.HasToken ||
			!slices.Contains(got.Asked.Methods, "totp") || !slices.Contains(got.Asked.Methods, "recovery_code") {
			t.Errorf("the password step answered %+v, want MfaRequiredError (403 mfa_required) with an mfa token and methods totp, recovery_code", got.Asked)
		}
		if got.Email != mfaEmail {
			t.Errorf("signed in as %q, want %q", got.Email, mfaEmail)
		}
	})

	t.Run("fetch retries once after token_expired", func(t *testing.T) {
		// A stopped clock: the client never sees its token expire, latch does.
		loadApp(t, tabs[:1], page, `{storageKey: "latch-expiry", autoRefresh: false, now: () => 0}`)
		if !get(t, tabs[0], "log in", chromedp.Evaluate[bool](fmt.Sprintf(`login(%q, %q)`, email, goodPassword), chromedp.EvalAwaitPromise)) {
			t.Fatal("login answered false")
		}
		type answer struct {
			Status    int  `json:"status"`
			Refreshes int  `json:"refreshes"`
			NewToken  bool `json:"newToken"`
		}
		got := get(t, tabs[0], "fetch with an expired token", chromedp.Evaluate[answer](`expiredThenFetch()`, chromedp.EvalAwaitPromise))
		if got != (answer{Status: 200, Refreshes: 1, NewToken: true}) {
			t.Errorf("fetch wrapper after expiry: %+v, want status 200 after one refresh with a new token", got)
		}
	})

	t.Run("user metadata", func(t *testing.T) {
		// PATCH /v1/me from the app's origin: CORS lets it through, and
		// latch keeps what the client sent.
		loadApp(t, tabs[:1], page, `{storageKey: "latch-meta"}`)
		if !get(t, tabs[0], "log in", chromedp.Evaluate[bool](fmt.Sprintf(`login(%q, %q)`, email, goodPassword), chromedp.EvalAwaitPromise)) {
			t.Fatal("login answered false")
		}
		type answer struct {
			Updated map[string]any `json:"updated"`
			Read    map[string]any `json:"read"`
			App     map[string]any `json:"app"`
			Event   bool           `json:"event"`
		}
		got := get(t, tabs[0], "update the user's metadata", chromedp.Evaluate[answer](`updateMeta({theme: "dark", langs: ["de", "en"]})`, chromedp.EvalAwaitPromise))
		if got.Updated["theme"] != "dark" || got.Read["theme"] != "dark" || fmt.Sprint(got.Read["langs"]) != "[de en]" || got.App == nil || !got.Event {
			t.Fatalf("updateUser from the browser: %+v", got)
		}
	})

	t.Run("authorization code flow", func(t *testing.T) {
		// A latch the browser reaches at its public URL (the issuer), with
		// the app registered as a public client.
		addr := freeAddr(t)
		public := "http://" + addr
		so := startServer(t, map[string]string{
			"LATCH_ADDR":         addr,
			"LATCH_PUBLIC_URL":   public,
			"LATCH_ADMIN_KEY":    testAdminKey,
			"LATCH_CORS_ORIGINS": app.URL,
		})
		const codeEmail = "tabs.code@example.com"
		so.signupConfirmed(codeEmail, goodPassword)
		callback := app.URL + "/callback"
		cl := so.registerClient(map[string]any{"name": "Test SPA", "type": "public", "redirect_uris": []string{callback}})
		opts := fmt.Sprintf(`{clientId: %q, redirectUri: %q, storageKey: "latch-code"}`, cl.str("client_id"), callback)
		loadApp(t, tabs[:1], app.URL+"/?latch="+public, opts)
		get(t, tabs[0], "start the code flow", chromedp.Evaluate[bool](`startCodeFlow()`))
		runIn(t, tabs[0], "sign in on latch's login page",
			chromedp.WaitVisible(chromedp.ID("password")),
			chromedp.SendKeys(chromedp.ID("email"), codeEmail),
			chromedp.SendKeys(chromedp.ID("password"), goodPassword),
			chromedp.Click(chromedp.ID("submit")))
		waitThroughNavigation(t, tabs[0], "the redirect back to the app", `location.pathname === "/callback" && window.appReady === true`)
		get(t, tabs[0], "set the client up on the callback page", chromedp.Evaluate[map[string]bool](`setup(`+opts+`)`))
		type answer struct {
			Email     string   `json:"email"`
			OAuth     bool     `json:"oauth"`
			IDToken   bool     `json:"idToken"`
			Refreshed bool     `json:"refreshed"`
			Replay    string   `json:"replay"`
			Events    []string `json:"events"`
		}
		got := get(t, tabs[0], "finish the code flow", chromedp.Evaluate[answer](`finishCodeFlow()`, chromedp.EvalAwaitPromise))
		want := answer{Email: codeEmail, OAuth: true, IDToken: true, Refreshed: true, Replay: "state_mismatch",
			Events: []string{"SIGNED_IN", "TOKEN_REFRESHED", "SIGNED_OUT"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("code flow: %+v, want %+v", got, want)
		}
	})

	// Control: the same tabs and loop with cross-tab coordination turned
	// off (each tab trusts the refresh token in its own memory) present
	// tokens another tab already rotated, and latch ends the session.
	t.Run("control without cross-tab coordination", func(t *testing.T) {
		loadApp(t, tabs, page, `{crossTab: false, storageKey: "latch-control"}`)
		if !get(t, tabs[0], "log in", chromedp.Evaluate[bool](fmt.Sprintf(`login(%q, %q)`, controlEmail, goodPassword), chromedp.EvalAwaitPromise)) {
			t.Fatal("login answered false")
		}
		results := loopAll(t, tabs)
		ended := 0
		for _, r := range results {
			for _, e := range r.Errors {
				if strings.Contains(e, "invalid_token") {
					ended++
					break
				}
			}
		}
		if ended == 0 {
			t.Errorf("no tab saw invalid_token without coordination: %+v", results)
		}
		if n := reuses(); n == 0 {
			t.Errorf("latch detected no refresh token reuse without coordination")
		}
	})

	t.Run("passkeys", func(t *testing.T) {
		// WebAuthn wants the app's origin under latch's RP ID: both on
		// localhost (a secure context over http), on their own ports.
		appOrigin := "http://localhost:" + app.URL[strings.LastIndexByte(app.URL, ':')+1:]
		addr := freeAddr(t)
		public := "http://localhost:" + addr[strings.LastIndexByte(addr, ':')+1:]
		sp := startServer(t, map[string]string{
			"LATCH_ADDR":             addr,
			"LATCH_PUBLIC_URL":       public,
			"LATCH_CORS_ORIGINS":     appOrigin,
			"LATCH_WEBAUTHN_ORIGINS": appOrigin,
		})
		const pkEmail = "tabs.passkey@example.com"
		sp.signupConfirmed(pkEmail, goodPassword)
		addVirtualAuthenticator(t, tabs[0])
		loadApp(t, tabs[:1], appOrigin+"/?latch="+public, `{storageKey: "latch-passkey"}`)
		if !get(t, tabs[0], "log in", chromedp.Evaluate[bool](fmt.Sprintf(`login(%q, %q)`, pkEmail, goodPassword), chromedp.EvalAwaitPromise)) {
			t.Fatal("login answered false")
		}
		if name := get(t, tabs[0], "add a passkey", chromedp.Evaluate[string](fmt.Sprintf(`addPasskey(%q)`, goodPassword), chromedp.EvalAwaitPromise)); name != "Laptop" {
			t.Fatalf("addPasskey answered %q", name)
		}
		get(t, tabs[0], "sign out", chromedp.Evaluate[bool](`signOut()`, chromedp.EvalAwaitPromise))
		if who := get(t, tabs[0], "sign in with the passkey", chromedp.Evaluate[string](`passkeySignIn()`, chromedp.EvalAwaitPromise)); who != pkEmail {
			t.Fatalf("signInWithPasskey signed in as %q", who)
		}
		get(t, tabs[0], "sign out", chromedp.Evaluate[bool](`signOut()`, chromedp.EvalAwaitPromise))
		if who := get(t, tabs[0], "password, then the passkey", chromedp.Evaluate[string](fmt.Sprintf(`passkeyFactor(%q, %q)`, pkEmail, goodPassword), chromedp.EvalAwaitPromise)); who != pkEmail {
			t.Fatalf("verifyMfaWithPasskey: %q", who)
		}
		if n := sp.logs.count(func(l map[string]any) bool { return l["event"] == "passkey_added" }); n != 1 {
			t.Errorf("latch logged %d passkey_added events, want 1", n)
		}
	})
}
