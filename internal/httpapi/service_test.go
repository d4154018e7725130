package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/sqlstore"
	"github.com/latchauth/latch/internal/wire"
)

// env is a transport around a real service on a real SQLite store.
type env struct {
	h     http.Handler
	svc   *auth.Service
	db    *sqlstore.DB
	clock *authtest.Clock
	logs  *logBuffer
}

// lightHasher is argon2id with the OWASP minimum memory (19 MiB), to keep
// the transport's tests fast.
func lightHasher() authtest.Option {
	return authtest.WithDeps(func(d *auth.Deps) { d.Hasher = password.NewHasher(password.Config{Memory: 19 * 1024}) })
}

func newEnv(t *testing.T, cfg auth.Config, hcfg Config) *env {
	t.Helper()
	cfg.Secret = []byte(strings.Repeat("k", 32))
	fx := authtest.New(t, cfg,
		authtest.WithClock(authtest.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))),
		lightHasher())
	svc, db, clock := fx.Service, fx.DB, fx.Clock
	hcfg.Service = svc
	h, logs := newTransport(t, hcfg)
	return &env{h: h, svc: svc, db: db, clock: clock, logs: logs}
}

// call sends a JSON request (body "" for none) with an optional bearer.
func (e *env) call(method, target, body, bearer string, kv ...string) *httptest.ResponseRecorder {
	h := http.Header{}
	if body != "" {
		h = jsonHeader()
	}
	if bearer != "" {
		h.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return do(e.h, method, target, strings.NewReader(body), h)
}

// tokens checks a token answer and returns it.
func tokens(t *testing.T, w *httptest.ResponseRecorder, status int) tokenBody {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d (body %s)", w.Code, status, w.Body)
	}
	var b tokenBody
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatalf("token answer %s: %v", w.Body, err)
	}
	if b.AccessToken == "" || b.RefreshToken == "" || b.TokenType != "Bearer" || b.ExpiresIn <= 0 {
		t.Fatalf("token answer = %s, want access and refresh tokens, Bearer, expires_in", w.Body)
	}
	if got := w.Header().Get("Authorization"); got != "Bearer "+b.AccessToken {
		t.Errorf("Authorization = %q, want Bearer and the access token", got)
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if got := w.Header().Get("Pragma"); got != "no-cache" {
		t.Errorf("Pragma = %q, want no-cache", got)
	}
	if _, err := time.Parse(time.RFC3339, b.User.CreatedAt); err != nil || !strings.HasSuffix(b.User.CreatedAt, "Z") {
		t.Errorf("user created_at = %q, want RFC 3339 UTC", b.User.CreatedAt)
	}
	if b.User.ID == "" || b.User.Roles == nil {
		t.Errorf("user = %+v, want an id and roles", b.User)
	}
	return b
}

// wantStatusBody checks a {"status": ...} answer.
func wantStatusBody(t *testing.T, w *httptest.ResponseRecorder, status int, want string) {
	t.Helper()
	var b statusBody
	if w.Code != status || json.Unmarshal(w.Body.Bytes(), &b) != nil || b.Status != want {
		t.Fatalf("got %d %s, want %d {\"status\":%q}", w.Code, w.Body, status, want)
	}
}

const goodPassword = "correct horse battery staple"

func TestAccountFlow(t *testing.T) {
	e := newEnv(t, auth.Config{}, Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})

	signup := tokens(t, e.call("POST", "/v1/signup", `{"email":"Ada@Example.com","password":"`+goodPassword+`","roles":["admin"]}`, ""), 201)
	if signup.User.Email != "Ada@Example.com" || !contains(signup.User.Roles, "user") || contains(signup.User.Roles, "admin") {
		t.Errorf("user = %+v, want the email as given and the default roles only", signup.User)
	}
	wantProblem(t, e.call("POST", "/v1/signup", `{"email":"ada@example.com","password":"`+goodPassword+`"}`, ""), 409, "email_taken")
	wantProblem(t, e.call("POST", "/v1/signup", `{"email":"bob@example.com","password":"password"}`, ""), 422, "weak_password")
	wantProblem(t, e.call("POST", "/v1/signup", `{"email":"not an email","password":"`+goodPassword+`"}`, ""), 422, "invalid_email")

	// GET /v1/me with a lower-case scheme.
	w := do(e.h, "GET", "/v1/me", nil, http.Header{"Authorization": {"bearer " + signup.AccessToken}})
	var me wire.User
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &me) != nil || me.ID != signup.User.ID || me.Email != "Ada@Example.com" {
		t.Fatalf("GET /v1/me = %d %s, want the user", w.Code, w.Body)
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("GET /v1/me Cache-Control = %q, want no-store", got)
	}

	wantProblem(t, e.call("POST", "/v1/login", `{"email":"ada@example.com","password":"wrong password!"}`, ""), 401, "invalid_credentials")
	wantProblem(t, e.call("POST", "/v1/login", `{"email":"nobody@example.com","password":"wrong password!"}`, ""), 401, "invalid_credentials")

	// A login through the trusted proxy, with an over-long User-Agent.
	r := httptest.NewRequest("POST", "/v1/login", strings.NewReader(`{"email":"ADA@example.com","password":"`+goodPassword+`"}`))
	r.RemoteAddr = "10.0.0.2:4000"
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	r.Header.Set("X-Forwarded-For", "1.1.1.1, 198.51.100.9")
	r.Header.Set("User-Agent", strings.Repeat("u", 1000))
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	login := tokens(t, rec, 200)

	w = e.call("GET", "/v1/sessions", "", login.AccessToken)
	var list sessionsBody
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &list) != nil || len(list.Sessions) != 2 {
		t.Fatalf("GET /v1/sessions = %d %s, want two sessions", w.Code, w.Body)
	}
	var signupSession string
	for _, s := range list.Sessions {
		if _, err := time.Parse(time.RFC3339, s.CreatedAt); err != nil {
			t.Errorf("session created_at = %q, want RFC 3339", s.CreatedAt)
		}
		if s.Current {
			if s.IP != "198.51.100.9" || s.UserAgent != strings.Repeat("u", 512) {
				t.Errorf("current session ip %q, user agent of %d bytes; want 198.51.100.9 and 512", s.IP, len(s.UserAgent))
			}
		} else {
			signupSession = s.ID
			if s.IP != "192.0.2.1" {
				t.Errorf("signup session ip = %q, want the socket peer 192.0.2.1", s.IP)
			}
		}
	}
	if signupSession == "" {
		t.Fatalf("sessions = %+v, want one current and one not", list.Sessions)
	}

	refreshed := tokens(t, e.call("POST", "/v1/token/refresh", `{"refresh_token":"`+login.RefreshToken+`"}`, ""), 200)
	p := wantProblem(t, e.call("POST", "/v1/token/refresh", `{"refresh_token":"garbage"}`, ""), 401, "invalid_token")
	if p.Detail == "" {
		t.Error("invalid refresh token answer has no detail")
	}

	if w := e.call("DELETE", "/v1/sessions/"+signupSession, "", refreshed.AccessToken); w.Code != 204 || w.Body.Len() != 0 {
		t.Fatalf("DELETE session = %d %s, want 204 and no body", w.Code, w.Body)
	}
	wantProblem(t, e.call("DELETE", "/v1/sessions/"+signupSession, "", refreshed.AccessToken), 404, "not_found")
	w = e.call("GET", "/v1/me", "", signup.AccessToken)
	wantProblem(t, w, 401, "invalid_token")
	if got := w.Header().Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
		t.Errorf("WWW-Authenticate = %q, want Bearer error=\"invalid_token\"", got)
	}

	changed := tokens(t, e.call("POST", "/v1/password/change", `{"current_password":"`+goodPassword+`","new_password":"a brand new passphrase"}`, refreshed.AccessToken), 200)
	wantStatusBody(t, e.call("POST", "/v1/email/change", `{"new_email":"ada2@example.com","password":"a brand new passphrase"}`, changed.AccessToken), 202, "confirmation_sent")

	if w := e.call("POST", "/v1/logout", `{}`, changed.AccessToken); w.Code != 204 {
		t.Fatalf("logout = %d %s, want 204", w.Code, w.Body)
	}
	wantProblem(t, e.call("GET", "/v1/me", "", changed.AccessToken), 401, "invalid_token")
	wantProblem(t, e.call("GET", "/v1/me", "", "not-a-jwt"), 401, "invalid_token")
}

func TestLogoutBodies(t *testing.T) {
	e := newEnv(t, auth.Config{}, Config{})
	tk := tokens(t, e.call("POST", "/v1/signup", `{"email":"ada@example.com","password":"`+goodPassword+`"}`, ""), 201)
	login := func() tokenBody {
		return tokens(t, e.call("POST", "/v1/login", `{"email":"ada@example.com","password":"`+goodPassword+`"}`, ""), 200)
	}
	// An empty body without Content-Type.
	if w := e.call("POST", "/v1/logout", "", tk.AccessToken); w.Code != 204 {
		t.Fatalf("logout with no body = %d %s, want 204", w.Code, w.Body)
	}
	// With a refresh token: that token's session ends too.
	a, b := login(), login()
	if w := e.call("POST", "/v1/logout", `{"refresh_token":"`+b.RefreshToken+`"}`, a.AccessToken); w.Code != 204 {
		t.Fatalf("logout with refresh token = %d %s, want 204", w.Code, w.Body)
	}
	wantProblem(t, e.call("POST", "/v1/token/refresh", `{"refresh_token":"`+b.RefreshToken+`"}`, ""), 401, "invalid_token")
	// A body that is not JSON.
	c := login()
	wantProblem(t, e.call("POST", "/v1/logout", `[]`, c.AccessToken), 400, "invalid_request")
	// logout/all with {} and with nothing.
	if w := e.call("POST", "/v1/logout/all", `{}`, c.AccessToken); w.Code != 204 {
		t.Fatalf("logout/all = %d %s, want 204", w.Code, w.Body)
	}
	wantProblem(t, e.call("GET", "/v1/me", "", c.AccessToken), 401, "invalid_token")
	d := login()
	if w := e.call("POST", "/v1/logout/all", "", d.AccessToken); w.Code != 204 {
		t.Fatalf("logout/all with no body = %d %s, want 204", w.Code, w.Body)
	}
}

func TestDeleteMe(t *testing.T) {
	e := newEnv(t, auth.Config{}, Config{})
	tk := tokens(t, e.call("POST", "/v1/signup", `{"email":"ada@example.com","password":"`+goodPassword+`"}`, ""), 201)
	// No body: the password is missing, which is what the caller must hear.
	wantProblem(t, e.call("DELETE", "/v1/me", "", tk.AccessToken), 400, "invalid_request")
	wantProblem(t, e.call("DELETE", "/v1/me", `{}`, tk.AccessToken), 400, "invalid_request")
	wantProblem(t, e.call("DELETE", "/v1/me", `{"password":"wrong password!"}`, tk.AccessToken), 401, "invalid_credentials")
	if w := e.call("DELETE", "/v1/me", `{"password":"`+goodPassword+`"}`, tk.AccessToken); w.Code != 204 || w.Body.Len() != 0 {
		t.Fatalf("DELETE /v1/me = %d %s, want 204", w.Code, w.Body)
	}
	wantProblem(t, e.call("POST", "/v1/login", `{"email":"ada@example.com","password":"`+goodPassword+`"}`, ""), 401, "invalid_credentials")
}

// mailedToken claims the outbox and returns the token of the newest mail
// to to that carries one.
func (e *env) mailedToken(t *testing.T, to string) string {
	t.Helper()
	e.svc.Close() // wait for mail enqueued off the request path
	return authtest.LastToken(t, authtest.DrainMail(t, e.db, e.clock.Now()), to, "")
}

func TestConfirmationAndReset(t *testing.T) {
	e := newEnv(t, auth.Config{RequireConfirmation: true, LoginAfterReset: true}, Config{})
	const signup = `{"email":"ada@example.com","password":"` + goodPassword + `"}`
	wantStatusBody(t, e.call("POST", "/v1/signup", signup, ""), 202, "confirmation_sent")
	wantStatusBody(t, e.call("POST", "/v1/signup", signup, ""), 202, "confirmation_sent")
	wantProblem(t, e.call("POST", "/v1/login", signup, ""), 403, "email_not_confirmed")
	wantStatusBody(t, e.call("POST", "/v1/confirm/resend", `{"email":"ada@example.com"}`, ""), 202, "accepted")
	wantStatusBody(t, e.call("POST", "/v1/confirm/resend", `{"email":"nobody@example.com"}`, ""), 202, "accepted")
	wantProblem(t, e.call("POST", "/v1/confirm", `{"token":"bogus"}`, ""), 400, "invalid_token")

	tok := e.mailedToken(t, "ada@example.com")
	tokens(t, e.call("POST", "/v1/confirm", `{"token":"`+tok+`"}`, ""), 200)
	wantProblem(t, e.call("POST", "/v1/confirm", `{"token":"`+tok+`"}`, ""), 400, "invalid_token")
	tokens(t, e.call("POST", "/v1/login", signup, ""), 200)

	wantStatusBody(t, e.call("POST", "/v1/password/forgot", `{"email":"ada@example.com"}`, ""), 202, "accepted")
	wantStatusBody(t, e.call("POST", "/v1/password/forgot", `{"email":"nobody@example.com"}`, ""), 202, "accepted")
	wantProblem(t, e.call("POST", "/v1/password/reset", `{"token":"bogus","password":"another fine passphrase"}`, ""), 400, "invalid_token")
	reset := e.mailedToken(t, "ada@example.com")
	tokens(t, e.call("POST", "/v1/password/reset", `{"token":"`+reset+`","password":"another fine passphrase"}`, ""), 200)
}

func TestResetWithoutLogin(t *testing.T) {
	e := newEnv(t, auth.Config{LoginAfterReset: false}, Config{})
	tokens(t, e.call("POST", "/v1/signup", `{"email":"ada@example.com","password":"`+goodPassword+`"}`, ""), 201)
	wantStatusBody(t, e.call("POST", "/v1/password/forgot", `{"email":"ada@example.com"}`, ""), 202, "accepted")
	reset := e.mailedToken(t, "ada@example.com")
	wantStatusBody(t, e.call("POST", "/v1/password/reset", `{"token":"`+reset+`","password":"another fine passphrase"}`, ""), 200, "password_reset")
}

func TestTokenExpired(t *testing.T) {
	e := newEnv(t, auth.Config{}, Config{})
	tk := tokens(t, e.call("POST", "/v1/signup", `{"email":"ada@example.com","password":"`+goodPassword+`"}`, ""), 201)
	e.clock.Advance(time.Duration(tk.ExpiresIn+60) * time.Second)
	w := e.call("GET", "/v1/me", "", tk.AccessToken)
	wantProblem(t, w, 401, "token_expired")
	if got, want := w.Header().Get("WWW-Authenticate"), `Bearer error="invalid_token", error_description="token expired"`; got != want {
		t.Errorf("WWW-Authenticate = %q, want %q", got, want)
	}
}

func TestRateLimitedRetryAfter(t *testing.T) {
	e := newEnv(t, auth.Config{RateLimits: true, LoginPerIP: auth.Rate{N: 2, Per: time.Minute}}, Config{})
	const body = `{"email":"nobody@example.com","password":"wrong password!"}`
	for range 2 {
		wantProblem(t, e.call("POST", "/v1/login", body, ""), 401, "invalid_credentials")
	}
	// A spoofed X-Forwarded-For from an untrusted peer does not escape the limit.
	w := e.call("POST", "/v1/login", body, "", "X-Forwarded-For", "203.0.113.99")
	wantProblem(t, w, 429, "rate_limited")
	ra, err := strconv.Atoi(w.Header().Get("Retry-After"))
	if err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After = %q, want whole seconds in [1, 60]", w.Header().Get("Retry-After"))
	}
}

func TestReadyzAndJWKS(t *testing.T) {
	e := newEnv(t, auth.Config{}, Config{})
	wantStatusBody(t, e.call("GET", "/readyz", "", ""), 200, "ready")

	w := e.call("GET", "/.well-known/jwks.json", "", "")
	if w.Code != 200 {
		t.Fatalf("JWKS = %d %s", w.Code, w.Body)
	}
	if got := w.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("JWKS Content-Type = %q, want application/json", got)
	}
	if got := w.Header().Get("Cache-Control"); got != "public, max-age=300" {
		t.Errorf("JWKS Cache-Control = %q, want public, max-age=300", got)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("JWKS body %s: %v, want keys", w.Body, err)
	}

	e.db.Close()
	w = e.call("GET", "/readyz", "", "")
	wantProblem(t, w, 503, "unavailable")
	if got := w.Header().Get("Retry-After"); got == "" {
		t.Error("503 without Retry-After")
	}
	if strings.Contains(w.Body.String(), "sql") {
		t.Errorf("503 body leaks internals: %s", w.Body)
	}
	found := false
	for _, l := range e.logs.lines(t) {
		if l["msg"] == "httpapi: request failed" && l["status"] == float64(503) && fmt.Sprint(l["request_id"]) != "" {
			found = true
		}
	}
	if !found {
		t.Errorf("503 not logged with its request id: %s", e.logs)
	}
}
