package main

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// The OpenID Provider end to end: golang.org/x/oauth2 builds the
// authorization requests and exchanges codes (PKCE S256), go-oidc reads
// the discovery document and verifies ID tokens, and a plain http.Client
// with a cookie jar plays the browser on the hosted login page.

const (
	oidcIssuer = "http://latch.test" // LATCH_PUBLIC_URL of startServer
	appCB      = "https://app.example.com/cb"
	nativeCB   = "http://127.0.0.1/cb"
)

// browser is a cookie-keeping client that reaches latch at its public URL
// and stops at any redirect leaving latch (to an application).
type browser struct {
	t  *testing.T
	hc *http.Client
}

func newRPBrowser(t *testing.T, s *server) *browser {
	t.Helper()
	u, _ := url.Parse(s.URL)
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == "latch.test:80" {
			addr = u.Host
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &browser{t: t, hc: &http.Client{Jar: jar, Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != "latch.test" {
			return http.ErrUseLastResponse
		}
		return nil
	}}}
}

// page is one answer the browser got.
type page struct {
	status int
	loc    *url.URL // where a redirect out of latch points
	body   string
	hdr    http.Header
}

func (b *browser) send(req *http.Request) page {
	b.t.Helper()
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, body: string(raw), hdr: resp.Header}
	if resp.StatusCode/100 == 3 {
		p.loc, _ = url.Parse(resp.Header.Get("Location"))
	}
	if resp.StatusCode >= 500 {
		b.t.Fatalf("%s %s answered %d: %s", req.Method, req.URL, resp.StatusCode, raw)
	}
	return p
}

func (b *browser) get(u string) page {
	req, _ := http.NewRequest("GET", u, nil)
	return b.send(req)
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// submit posts the page's form at action with its hidden fields and
// fields.
func (b *browser) submit(p page, action string, fields map[string]string) page {
	b.t.Helper()
	form := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(p.body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	for k, v := range fields {
		form.Set(k, v)
	}
	req, _ := http.NewRequest("POST", oidcIssuer+action, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.send(req)
}

// authorize opens authURL and, when the login page shows, signs in with
// email and pw; it returns the redirect to the application.
func (b *browser) authorize(authURL, email, pw string) (*url.URL, bool) {
	b.t.Helper()
	p := b.get(authURL)
	loggedIn := false
	if p.status == 200 {
		if !strings.Contains(p.body, `action="/login"`) {
			b.t.Fatalf("authorize: not the login page: %s", p.body)
		}
		p = b.submit(p, "/login", map[string]string{"email": email, "password": pw})
		loggedIn = true
	}
	if p.loc == nil {
		b.t.Fatalf("authorize: no redirect to the application: %d %s", p.status, p.body)
	}
	return p.loc, loggedIn
}

type oidcApp struct {
	cfg      oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newOIDCApp(ctx context.Context, t *testing.T, provider *oidc.Provider, id, secret, redirect string) *oidcApp {
	return &oidcApp{
		cfg: oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: redirect,
			Scopes: []string{oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess}},
		verifier: provider.Verifier(&oidc.Config{ClientID: id, SupportedSigningAlgs: []string{oidc.EdDSA}}),
	}
}

// exchange redeems code with its PKCE verifier, as the app's callback
// does, and verifies the ID token that comes with the tokens.
func (a *oidcApp) exchange(ctx context.Context, t *testing.T, code, verifier string) (*oauth2.Token, *oidc.IDToken) {
	t.Helper()
	tok, err := a.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := a.verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	return tok, idt
}

// TestOIDCAuthorizationCodeFlow drives the whole flow with real client
// libraries.
func TestOIDCAuthorizationCodeFlow(t *testing.T) {
	t.Parallel()
	s := startAdmin(t)
	addr := "alice@example.com"
	uid := s.adminCreate(addr)
	web := s.registerClient(map[string]any{"name": "Web App", "type": "confidential",
		"redirect_uris": []string{appCB}, "post_logout_redirect_uris": []string{"https://app.example.com/bye"}})
	native := s.registerClient(map[string]any{"name": "Native App", "type": "public", "redirect_uris": []string{nativeCB}})

	b := newRPBrowser(t, s)
	ctx := oidc.ClientContext(context.Background(), b.hc)
	provider, err := oidc.NewProvider(ctx, oidcIssuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var meta struct {
		AuthorizationEndpoint string   `json:"authorization_endpoint"`
		EndSession            string   `json:"end_session_endpoint"`
		CodeChallenge         []string `json:"code_challenge_methods_supported"`
		ISSParam              bool     `json:"authorization_response_iss_parameter_supported"`
		ResponseTypes         []string `json:"response_types_supported"`
	}
	if err := provider.Claims(&meta); err != nil || meta.AuthorizationEndpoint != oidcIssuer+"/oauth/authorize" ||
		meta.EndSession != oidcIssuer+"/oauth/logout" || !slices.Equal(meta.CodeChallenge, []string{"S256"}) || !meta.ISSParam ||
		!slices.Equal(meta.ResponseTypes, []string{"code"}) {
		t.Fatalf("discovery: %+v %v", meta, err)
	}
	app := newOIDCApp(ctx, t, provider, web.str("client_id"), web.str("client_secret"), appCB)

	// 1. Password login on the hosted page, code, exchange with PKCE.
	verifier := oauth2.GenerateVerifier()
	cb, loggedIn := b.authorize(app.cfg.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n-1")), addr, goodPassword)
	q := cb.Query()
	if !loggedIn || cb.Scheme+"://"+cb.Host+cb.Path != appCB || q.Get("state") != "st-1" || q.Get("iss") != oidcIssuer || q.Get("code") == "" {
		t.Fatalf("callback %s (logged in %v)", cb, loggedIn)
	}
	code := q.Get("code")
	tok, err := app.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := app.verifier.Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	var claims struct {
		Email    string   `json:"email"`
		Verified bool     `json:"email_verified"`
		AMR      []string `json:"amr"`
		AuthTime int64    `json:"auth_time"`
		Sid      string   `json:"sid"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != uid || idt.Nonce != "n-1" || claims.Email != addr || !claims.Verified || claims.Sid == "" ||
		!slices.Equal(claims.AMR, []string{"pwd"}) || claims.AuthTime == 0 || tok.RefreshToken == "" {
		t.Fatalf("ID token claims: sub %s nonce %s %+v refresh %q", idt.Subject, idt.Nonce, claims, tok.RefreshToken)
	}
	var hdr struct{ Typ string }
	decodeSeg(t, strings.Split(rawID, ".")[0], &hdr)
	if hdr.Typ != "JWT" {
		t.Fatalf("ID token typ %q", hdr.Typ)
	}
	// An ID token is not an access token.
	s.do("GET", "/v1/me", rawID, nil).want(t, 401, "invalid_token")
	info := s.do("GET", "/oauth/userinfo", tok.AccessToken, nil).want(t, 200, "")
	if info.str("sub") != uid || info.str("email") != addr {
		t.Fatalf("userinfo: %s", info.Raw)
	}
	// Refresh through the client works; the session is bound to it.
	if _, err := app.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Fatalf("refresh: %v", err)
	}

	// 2. A replayed code is refused and ends what its first use issued.
	if _, err := app.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("replayed code: %v", err)
	}
	s.do("GET", "/oauth/userinfo", tok.AccessToken, nil).want(t, 401, "invalid_token")

	// 3. Single sign-on: the native app (public, loopback on any port)
	// signs in without the password.
	napp := newOIDCApp(ctx, t, provider, native.str("client_id"), "", "http://127.0.0.1:53682/cb")
	nv := oauth2.GenerateVerifier()
	cb, loggedIn = b.authorize(napp.cfg.AuthCodeURL("st-2", oauth2.S256ChallengeOption(nv), oidc.Nonce("n-2")), addr, "")
	if loggedIn || cb.Host != "127.0.0.1:53682" || cb.Query().Get("code") == "" {
		t.Fatalf("SSO callback %s (logged in %v)", cb, loggedIn)
	}
	// A wrong verifier is refused (and the code stays unredeemed).
	if _, err := napp.cfg.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil ||
		!strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("wrong verifier: %v", err)
	}
	ntok, err := napp.cfg.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(nv))
	if err != nil {
		t.Fatalf("native exchange: %v", err)
	}
	nid, err := napp.verifier.Verify(ctx, ntok.Extra("id_token").(string))
	if err != nil || nid.Subject != uid || nid.Nonce != "n-2" {
		t.Fatalf("native ID token: %v %+v", err, nid)
	}

	// 4. prompt=login shows the login page despite the session.
	p := b.get(napp.cfg.AuthCodeURL("st-3", oauth2.S256ChallengeOption(nv), oauth2.SetAuthURLParam("prompt", "login")))
	if p.status != 200 || !strings.Contains(p.body, `name="password"`) || !strings.Contains(p.body, "Native App") {
		t.Fatalf("prompt=login: %d %s", p.status, p.body)
	}

	// 5. A public client without PKCE gets an error redirect with iss.
	p = b.get(napp.cfg.AuthCodeURL("st-4"))
	if p.loc == nil || p.loc.Query().Get("error") != "invalid_request" || p.loc.Query().Get("iss") != oidcIssuer || p.loc.Query().Get("state") != "st-4" {
		t.Fatalf("no PKCE: %d %v", p.status, p.loc)
	}

	// 6. An unregistered redirect URI is an error page, never a redirect.
	for _, bad := range []string{"https://evil.example/cb", "https://app.example.com/cb/x"} {
		evil := app.cfg
		evil.RedirectURL = bad
		p = b.get(evil.AuthCodeURL("st-5", oauth2.S256ChallengeOption(verifier)))
		if p.status != 400 || p.loc != nil || !strings.Contains(p.hdr.Get("Content-Type"), "text/html") || strings.Contains(p.body, "evil") {
			t.Fatalf("unregistered redirect %s: %d %v", bad, p.status, p.loc)
		}
	}
	p = b.get(oidcIssuer + "/oauth/authorize?client_id=nope&redirect_uri=" + url.QueryEscape(appCB) + "&response_type=code")
	if p.status != 400 || p.loc != nil {
		t.Fatalf("unknown client: %d %v", p.status, p.loc)
	}

	// 7. RP-initiated logout with the ID token as hint ends the browser
	// session: the next authorization request shows the login page.
	p = b.get(oidcIssuer + "/oauth/logout?" + url.Values{"id_token_hint": {rawID}, "state": {"bye-1"},
		"post_logout_redirect_uri": {"https://app.example.com/bye"}}.Encode())
	if p.loc == nil || p.loc.Host != "app.example.com" || p.loc.Query().Get("state") != "bye-1" {
		t.Fatalf("logout: %d %v %s", p.status, p.loc, p.body)
	}
	p = b.get(napp.cfg.AuthCodeURL("st-6", oauth2.S256ChallengeOption(nv)))
	if p.status != 200 || !strings.Contains(p.body, `name="password"`) {
		t.Fatalf("after logout: %d %v", p.status, p.loc)
	}
	// An unregistered post-logout URI is refused.
	p = b.get(oidcIssuer + "/oauth/logout?" + url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {"https://evil.example/"}}.Encode())
	if p.status != 400 || p.loc != nil {
		t.Fatalf("unregistered post-logout URI: %d %v", p.status, p.loc)
	}

	var types []string
	for _, e := range s.events("") {
		types = append(types, e["type"].(string))
	}
	for _, want := range []string{"authorization_code_replayed", "browser_logout"} {
		if !slices.Contains(types, want) {
			t.Errorf("audit events %v lack %s", types, want)
		}
	}
	if logs := s.logs.all(); strings.Contains(logs, code) || strings.Contains(logs, goodPassword) {
		t.Error("a code or password is in the log")
	}
}

// oidcOpenAPI drives the OpenID Provider's JSON routes for
// TestOpenAPIResponses (the flow itself, and the HTML pages the validator
// cannot decode, are TestOIDCAuthorizationCodeFlow's).
func oidcOpenAPI[A any](t *testing.T, call func(method, path, bearer string, body any) A, want func(A, int) A, str func(A, string) string, adminKey, pw string) {
	t.Helper()
	const addr = "userinfo@example.com"
	want(call("POST", "/admin/v1/users", adminKey, map[string]any{"email": addr, "password": pw, "email_confirmed": true}), 201)
	at := str(want(call("POST", "/v1/login", "", map[string]string{"email": addr, "password": pw}), 200), "access_token")
	want(call("GET", "/oauth/userinfo", at, nil), 200)
	want(call("POST", "/oauth/userinfo", at, nil), 200)
	want(call("GET", "/oauth/userinfo", "", nil), 401)
	want(call("POST", "/oauth/userinfo", "", nil), 401)
}

// TestHostedLogin: the login page on its own (redirect_to), its cookie,
// its CSRF check, and the second step for an account with a TOTP factor.
func TestHostedLogin(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{
		"LATCH_ADMIN_KEY": testAdminKey, "LATCH_RATE_LIMITS": "false",
		"LATCH_REDIRECT_URLS": "https://app.example.com/",
	})
	addr := "bob@example.com"
	s.adminCreate(addr)
	b := newRPBrowser(t, s)

	p := b.get(oidcIssuer + "/login?redirect_to=" + url.QueryEscape("https://app.example.com/home"))
	home := "?redirect_to=" + url.QueryEscape("https://app.example.com/home")
	for _, want := range []string{`name="redirect_to" value="https://app.example.com/home"`, `href="/signup` + home + `"`, `href="/forgot-password` + home + `"`} {
		// html/template writes percent-escapes in lower case.
		if !strings.Contains(strings.ToLower(p.body), strings.ToLower(want)) {
			t.Fatalf("login page lacks %s:\n%s", want, p.body)
		}
	}
	if csp := p.hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example.com;") || !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	bad := b.submit(p, "/login", map[string]string{"email": addr, "password": "wrong password!"})
	if bad.status != 401 || !strings.Contains(bad.body, "wrong") || strings.Contains(bad.body, "wrong password!") {
		t.Fatalf("wrong password: %d %s", bad.status, bad.body)
	}
	ok := b.submit(bad, "/login", map[string]string{"email": addr, "password": goodPassword})
	if ok.status != 303 || ok.loc == nil || ok.loc.String() != "https://app.example.com/home" {
		t.Fatalf("login with redirect_to: %d %v", ok.status, ok.loc)
	}
	var session string
	for _, c := range ok.hdr.Values("Set-Cookie") {
		if strings.HasPrefix(c, "latch_session=") {
			session = c
		}
	}
	if !strings.Contains(session, "HttpOnly") || !strings.Contains(session, "SameSite=Lax") || strings.Contains(session, "Secure") ||
		!strings.Contains(session, "Path=/") {
		t.Fatalf("session cookie %q", session)
	}

	// redirect_to off the allow-list is dropped: the done page instead.
	b2 := newRPBrowser(t, s)
	p = b2.get(oidcIssuer + "/login?redirect_to=" + url.QueryEscape("https://evil.example/"))
	if strings.Contains(p.body, "evil.example") {
		t.Fatalf("login page kept a foreign redirect_to")
	}
	done := b2.submit(p, "/login", map[string]string{"email": addr, "password": goodPassword, "redirect_to": "https://evil.example/"})
	if done.status != 200 || done.loc != nil || !strings.Contains(done.body, "You are signed in") {
		t.Fatalf("foreign redirect_to: %d %v", done.status, done.loc)
	}

	// A form posted from another site is refused.
	p = b2.get(oidcIssuer + "/login")
	form := url.Values{"email": {addr}, "password": {goodPassword}}
	for _, m := range hiddenField.FindAllStringSubmatch(p.body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	req, _ := http.NewRequest("POST", oidcIssuer+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if cross := b2.send(req); cross.status != 403 {
		t.Fatalf("cross-site login post: %d", cross.status)
	}

	// The second step: an account with an authenticator app, through the
	// authorization code flow of a public client.
	addr2 := "carol@example.com"
	s.adminCreate(addr2)
	app, _ := s.enrolTOTP(s.login(addr2, goodPassword).str("access_token"), goodPassword)
	c := s.registerClient(map[string]any{"name": "SPA", "type": "public", "redirect_uris": []string{appCB}})
	b3 := newRPBrowser(t, s)
	ctx := oidc.ClientContext(context.Background(), b3.hc)
	provider, err := oidc.NewProvider(ctx, oidcIssuer)
	if err != nil {
		t.Fatal(err)
	}
	spa := newOIDCApp(ctx, t, provider, c.str("client_id"), "", appCB)
	v := oauth2.GenerateVerifier()
	p = b3.get(spa.cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v), oidc.Nonce("nn")))
	step := b3.submit(p, "/login", map[string]string{"email": addr2, "password": goodPassword})
	if step.status != 200 || !strings.Contains(step.body, `name="mfa_token"`) || !strings.Contains(step.body, `name="code"`) {
		t.Fatalf("second step: %d %s", step.status, step.body)
	}
	wrong := b3.submit(step, "/login/mfa", map[string]string{"code": "000000"})
	if wrong.status != 401 || !strings.Contains(wrong.body, `name="mfa_token"`) {
		t.Fatalf("wrong code: %d %s", wrong.status, wrong.body)
	}
	back := b3.submit(wrong, "/login/mfa", map[string]string{"code": app.code()})
	if back.loc == nil || back.loc.Query().Get("code") == "" || back.loc.Query().Get("state") != "st" {
		t.Fatalf("after the second factor: %d %v %s", back.status, back.loc, back.body)
	}
	tok, idt := spa.exchange(ctx, t, back.loc.Query().Get("code"), v)
	var cl struct {
		AMR []string `json:"amr"`
		ACR string   `json:"acr"`
	}
	_ = idt.Claims(&cl)
	if !slices.Equal(cl.AMR, []string{"pwd", "otp", "mfa"}) || cl.ACR != "aal2" {
		t.Fatalf("ID token amr %v acr %q", cl.AMR, cl.ACR)
	}
	wantAMR(t, tok.AccessToken, []string{"pwd", "otp", "mfa"}, "aal2")
}

// TestNodeJoseIDToken has node's jose verify latch's ID tokens as a
// relying party would (typ JWT, aud = client_id, nonce), for each signing
// algorithm, and refuse one whose nonce or audience differs.
func TestNodeJoseIDToken(t *testing.T) {
	t.Parallel()
	dir := nodeJose(t)
	for _, alg := range []string{"EdDSA", "ES256", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, map[string]string{"LATCH_KEY_ALG": alg, "LATCH_RATE_LIMITS": "false", "LATCH_ADMIN_KEY": testAdminKey})
			addr := "jose-id." + strings.ToLower(alg) + "@example.com"
			uid := s.adminCreate(addr)
			c := s.registerClient(map[string]any{"name": "RP", "type": "public", "redirect_uris": []string{appCB}})
			b := newRPBrowser(t, s)
			ctx := oidc.ClientContext(context.Background(), b.hc)
			provider, err := oidc.NewProvider(ctx, oidcIssuer)
			if err != nil {
				t.Fatal(err)
			}
			app := newOIDCApp(ctx, t, provider, c.str("client_id"), "", appCB)
			v := oauth2.GenerateVerifier()
			cb, _ := b.authorize(app.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v), oidc.Nonce("nonce-"+alg)), addr, goodPassword)
			tok, err := app.cfg.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(v))
			if err != nil {
				t.Fatal(err)
			}
			idt, _ := tok.Extra("id_token").(string)
			run := func(clientID, nonce string) map[string]any {
				t.Helper()
				cmd := exec.Command("node", "verify_id.mjs", s.URL+"/.well-known/jwks.json", oidcIssuer, clientID, idt, nonce, alg)
				cmd.Dir = dir
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("node: %v\n%s", err, out)
				}
				var res map[string]any
				if err := json.Unmarshal(out, &res); err != nil {
					t.Fatalf("node printed %q: %v", out, err)
				}
				return res
			}
			res := run(c.str("client_id"), "nonce-"+alg)
			hdr, _ := res["header"].(map[string]any)
			pl, _ := res["payload"].(map[string]any)
			if res["ok"] != true || hdr["alg"] != alg || hdr["typ"] != "JWT" || pl["sub"] != uid || pl["aud"] != c.str("client_id") {
				t.Fatalf("jose on latch's ID token: %v", res)
			}
			if res := run(c.str("client_id"), "another nonce"); res["ok"] != false || res["code"] != "NONCE_MISMATCH" {
				t.Errorf("jose with another nonce: %v", res)
			}
			if res := run("another-client", "nonce-"+alg); res["ok"] != false || res["code"] != "ERR_JWT_CLAIM_VALIDATION_FAILED" {
				t.Errorf("jose for another client: %v", res)
			}
		})
	}
}

// TestHostedLoginHTTPS: with an https public URL the browser session
// cookie is __Host- prefixed and Secure; prompt=none without a session
// answers login_required to the client.
func TestHostedLoginHTTPS(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{
		"LATCH_ADMIN_KEY": testAdminKey, "LATCH_RATE_LIMITS": "false", "LATCH_PUBLIC_URL": "https://latch.test",
	})
	addr := "dave@example.com"
	s.adminCreate(addr)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(s.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var csrf *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-latch_csrf" {
			csrf = c
		}
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(body))
	if csrf == nil || m == nil {
		t.Fatalf("no CSRF cookie or field: %v", resp.Header)
	}
	form := url.Values{"csrf": {m[1]}, "email": {addr}, "password": {goodPassword}}
	req, _ := http.NewRequest("POST", s.URL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: csrf.Name, Value: csrf.Value})
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session string
	for _, c := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "__Host-latch_session=") {
			session = c
		}
	}
	if resp.StatusCode != 200 || !strings.Contains(session, "Secure") || !strings.Contains(session, "HttpOnly") ||
		!strings.Contains(session, "SameSite=Lax") || !strings.Contains(session, "Path=/") || strings.Contains(session, "Domain=") {
		t.Fatalf("login: %d, session cookie %q", resp.StatusCode, session)
	}

	c := s.registerClient(map[string]any{"name": "SPA", "type": "public", "redirect_uris": []string{appCB}})
	q := url.Values{"response_type": {"code"}, "client_id": {c.str("client_id")}, "redirect_uri": {appCB}, "state": {"s"},
		"prompt": {"none"}, "code_challenge": {strings.Repeat("A", 43)}, "code_challenge_method": {"S256"}}
	resp, err = noRedirect.Get(s.URL + "/oauth/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || loc == nil || loc.Query().Get("error") != "login_required" || loc.Query().Get("iss") != "https://latch.test" {
		t.Fatalf("prompt=none without a session: %d %v", resp.StatusCode, loc)
	}
}

// TestOIDCAuthorizePost: the authorization endpoint takes the request as
// a form too (OpenID Connect Core 3.1.2.1), with the same checks; its
// redirects are 303s.
func TestOIDCAuthorizePost(t *testing.T) {
	t.Parallel()
	s := startAdmin(t)
	addr := "poster@example.com"
	s.adminCreate(addr)
	web := s.registerClient(map[string]any{"name": "Form App", "type": "confidential", "redirect_uris": []string{appCB}})
	b := newRPBrowser(t, s)
	ctx := oidc.ClientContext(context.Background(), b.hc)
	provider, err := oidc.NewProvider(ctx, oidcIssuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	app := newOIDCApp(ctx, t, provider, web.str("client_id"), web.str("client_secret"), appCB)
	post := func(target, contentType, body string) page {
		req, _ := http.NewRequest("POST", target, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		return b.send(req)
	}
	form := func(state string, verifier string) string {
		u, _ := url.Parse(app.cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce("n-"+state)))
		return u.RawQuery
	}

	// Signed out: the login page, then the code.
	v1 := oauth2.GenerateVerifier()
	p := post(oidcIssuer+"/oauth/authorize", "application/x-www-form-urlencoded", form("p-1", v1))
	if p.status != 200 || !strings.Contains(p.body, `action="/login"`) || !strings.Contains(p.body, "Form App") {
		t.Fatalf("posted request, signed out: %d %s", p.status, p.body)
	}
	p = b.submit(p, "/login", map[string]string{"email": addr, "password": goodPassword})
	if p.loc == nil || p.loc.Query().Get("state") != "p-1" || p.loc.Query().Get("code") == "" {
		t.Fatalf("after the login: %d %v", p.status, p.loc)
	}
	if _, err := app.cfg.Exchange(ctx, p.loc.Query().Get("code"), oauth2.VerifierOption(v1)); err != nil {
		t.Fatalf("exchange: %v", err)
	}

	// Signed in: a 303 to the application at once.
	v2 := oauth2.GenerateVerifier()
	p = post(oidcIssuer+"/oauth/authorize", "application/x-www-form-urlencoded; charset=utf-8", form("p-2", v2))
	if p.status != http.StatusSeeOther || p.loc == nil || p.loc.Query().Get("state") != "p-2" || p.loc.Query().Get("iss") != oidcIssuer {
		t.Fatalf("posted request, signed in: %d %v", p.status, p.loc)
	}
	if _, err := app.cfg.Exchange(ctx, p.loc.Query().Get("code"), oauth2.VerifierOption(v2)); err != nil {
		t.Fatalf("exchange: %v", err)
	}

	// Not a form, parameters in the address, too long, or a redirect URI
	// not registered: a 400 page, never a redirect.
	bad := strings.Replace(form("p-3", v2), url.QueryEscape(appCB), url.QueryEscape("https://evil.example/cb"), 1)
	for _, c := range []struct{ target, ct, body string }{
		{oidcIssuer + "/oauth/authorize", "application/json", `{"client_id":"x"}`},
		{oidcIssuer + "/oauth/authorize?" + form("p-3", v2), "application/x-www-form-urlencoded", form("p-3", v2)},
		{oidcIssuer + "/oauth/authorize", "application/x-www-form-urlencoded", form("p-3", v2) + "&pad=" + strings.Repeat("x", 20<<10)},
		{oidcIssuer + "/oauth/authorize", "application/x-www-form-urlencoded", bad},
	} {
		if p := post(c.target, c.ct, c.body); p.status != 400 || p.loc != nil {
			t.Errorf("POST %s (%s, %d bytes): %d %v", c.target, c.ct, len(c.body), p.status, p.loc)
		}
	}
}

var (
	signupLink  = regexp.MustCompile(`href="(/signup\?redirect_to=[^"]+)"`)
	confirmLink = regexp.MustCompile(`http://latch\.test/confirm\?\S+`)
)

// hiddenValue is the value of the form's hidden field name, unescaped.
func hiddenValue(body, name string) string {
	for _, m := range hiddenField.FindAllStringSubmatch(body, -1) {
		if m[1] == name {
			return html.UnescapeString(m[2])
		}
	}
	return ""
}

// TestSignupFromAuthorize: a person without an account opens the app's
// sign-in (an authorization request), follows "Create an account" on the
// hosted login page, confirms the address from the mail, and lands back in
// the same authorization request: one sign-in later the app has its code,
// with its state, and the ID token names the new account. No
// LATCH_REDIRECT_URLS entry is needed for latch's own endpoint.
func TestSignupFromAuthorize(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"LATCH_ADMIN_KEY": testAdminKey, "LATCH_RATE_LIMITS": "false"})
	c := s.registerClient(map[string]any{"name": "Notes", "type": "public", "redirect_uris": []string{appCB}})
	b := newRPBrowser(t, s)
	ctx := oidc.ClientContext(context.Background(), b.hc)
	provider, err := oidc.NewProvider(ctx, oidcIssuer)
	if err != nil {
		t.Fatal(err)
	}
	spa := newOIDCApp(ctx, t, provider, c.str("client_id"), "", appCB)
	v := oauth2.GenerateVerifier()
	authURL := spa.cfg.AuthCodeURL("st-new", oauth2.S256ChallengeOption(v), oidc.Nonce("n-new"))

	login := b.get(authURL)
	m := signupLink.FindStringSubmatch(login.body)
	if login.status != 200 || m == nil {
		t.Fatalf("login page %d without a signup link carrying the request:\n%s", login.status, login.body)
	}
	signupPath := html.UnescapeString(m[1])
	su, _ := url.Parse(signupPath)
	back := su.Query().Get("redirect_to")
	if !strings.HasPrefix(back, oidcIssuer+"/oauth/authorize?") {
		t.Fatalf("signup link returns to %q", back)
	}
	if bq, _ := url.Parse(back); bq.Query().Get("state") != "st-new" || bq.Query().Get("client_id") != c.str("client_id") {
		t.Fatalf("signup link returns to another request: %q", back)
	}
	// "Forgot your password?" carries the same request.
	if !strings.Contains(strings.ToLower(login.body), strings.ToLower(`href="/forgot-password?redirect_to=`+html.EscapeString(url.QueryEscape(back))+`"`)) {
		t.Fatalf("forgot-password link does not return to the request:\n%s", login.body)
	}
	forgot := b.get(oidcIssuer + "/forgot-password?redirect_to=" + url.QueryEscape(back))
	if forgot.status != 200 || hiddenValue(forgot.body, "redirect_to") != back {
		t.Fatalf("forgot-password page with the request: %d %s", forgot.status, forgot.body)
	}
	form := b.get(oidcIssuer + signupPath)
	if form.status != 200 || !strings.Contains(form.body, "Create your account") || hiddenValue(form.body, "redirect_to") != back {
		t.Fatalf("signup page: %d %s", form.status, form.body)
	}
	const addr = "newcomer@example.com"
	sent := b.submit(form, "/signup", map[string]string{"email": addr, "password": goodPassword, "password_confirm": goodPassword})
	if sent.status != 200 || !strings.Contains(sent.body, "Check your inbox") {
		t.Fatalf("signup: %d %s", sent.status, sent.body)
	}
	text, _ := s.mailTo(addr, 1)["text"].(string)
	link := confirmLink.FindString(text)
	if lu, err := url.Parse(link); err != nil || lu.Query().Get("redirect_to") != back {
		t.Fatalf("confirmation link %q does not return to the request", link)
	}
	confirm := b.get(link)
	if confirm.status != 200 {
		t.Fatalf("confirm page: %d %s", confirm.status, confirm.body)
	}
	// The confirmation's 303 goes to the authorization endpoint, which
	// (no browser session yet) shows the login page of the same request.
	again := b.submit(confirm, "/confirm", nil)
	if again.status != 200 || !strings.Contains(again.body, `action="/login"`) || !strings.Contains(again.body, "Notes") {
		t.Fatalf("after confirming: %d %v %s", again.status, again.loc, again.body)
	}
	cb := b.submit(again, "/login", map[string]string{"email": addr, "password": goodPassword})
	if cb.loc == nil || cb.loc.Query().Get("state") != "st-new" || cb.loc.Query().Get("code") == "" {
		t.Fatalf("sign-in after signup: %d %v %s", cb.status, cb.loc, cb.body)
	}
	_, idt := spa.exchange(ctx, t, cb.loc.Query().Get("code"), v)
	var cl struct {
		Email    string `json:"email"`
		Verified bool   `json:"email_verified"`
	}
	if err := idt.Claims(&cl); err != nil || cl.Email != addr || !cl.Verified || idt.Nonce != "n-new" {
		t.Fatalf("ID token: %+v nonce %q %v", cl, idt.Nonce, err)
	}

	// A request too long to ride as a redirect_to (2 KiB) keeps plain
	// links, never links to an error page.
	// (A state of 1,000 slashes is 3,000 characters once escaped.)
	long := newRPBrowser(t, s).get(spa.cfg.AuthCodeURL(strings.Repeat("/", 1000), oauth2.S256ChallengeOption(v)))
	if long.status != 200 || !strings.Contains(long.body, `href="/signup"`) || !strings.Contains(long.body, `href="/forgot-password"`) {
		t.Fatalf("login page of a long request: %d %s", long.status, long.body)
	}

	// Latch's own endpoint is admitted, nothing else of latch's origin
	// that the list does not name.
	for _, rt := range []string{oidcIssuer + "/oauth/authorize", oidcIssuer + "/oauth/authorizex?a=b", oidcIssuer + "/admin/v1/users?x=1",
		"http://latch.test.evil.example/oauth/authorize?client_id=x"} {
		r := s.do("POST", "/v1/signup", "", map[string]string{"email": "other@example.com", "password": goodPassword, "redirect_to": rt})
		if r.Status != 400 || !strings.Contains(r.Raw, "invalid_redirect") {
			t.Errorf("signup with redirect_to %q: %d %s", rt, r.Status, r.Raw)
		}
	}
}
