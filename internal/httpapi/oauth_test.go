package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/sqlstore"
)

const (
	adminKey     = "an-admin-key-of-some-length"
	clientSecret = "s3cret+/with:odd chars%"
)

// oauthClients: "app" with a secret in clear, "hashed" with its SHA-256.
func oauthClients(t *testing.T) []OAuthClient {
	t.Helper()
	sum := sha256.Sum256([]byte("another long client secret"))
	cs, err := ParseOAuthClients("app:" + clientSecret + ", hashed:sha256:" + hex.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func newOAuthEnv(t *testing.T, cfg auth.Config) *env {
	t.Helper()
	return newEnv(t, cfg, Config{AdminKey: adminKey, OAuthClients: oauthClients(t)})
}

// basic is RFC 6749 §2.3.1 HTTP Basic credentials: id and secret
// form-urlencoded, then base64.
func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// form posts a form body to path with header pairs.
func (e *env) form(path, body string, kv ...string) *httptest.ResponseRecorder {
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return do(e.h, "POST", path, strings.NewReader(body), h)
}

func formOf(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

// oauthTokens checks an RFC 6749 §5.1 answer: exactly the four members,
// Bearer, no-store.
func oauthTokens(t *testing.T, w *httptest.ResponseRecorder) oauthTokenBody {
	t.Helper()
	if w.Code != 200 {
		t.Fatalf("status = %d, want 200 (body %s)", w.Code, w.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("token answer %s: %v", w.Body, err)
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
	if want := []string{"access_token", "expires_in", "refresh_token", "token_type"}; !slices.Equal(keys, want) {
		t.Errorf("token answer members = %v, want %v", keys, want)
	}
	var b oauthTokenBody
	_ = json.Unmarshal(w.Body.Bytes(), &b)
	if b.AccessToken == "" || b.RefreshToken == "" || b.TokenType != "Bearer" || b.ExpiresIn <= 0 {
		t.Errorf("token answer = %s", w.Body)
	}
	wantOAuthHeaders(t, w)
	return b
}

func wantOAuthHeaders(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	for k, want := range map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache", "Content-Type": "application/json"} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

// oauthError checks an RFC 6749 §5.2 answer and returns its description.
func wantOAuthError(t *testing.T, w *httptest.ResponseRecorder, status int, code string) string {
	t.Helper()
	var b map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatalf("error answer %d %s: %v", w.Code, w.Body, err)
	}
	if w.Code != status || b["error"] != code {
		t.Fatalf("got %d %s, want %d error %q", w.Code, w.Body, status, code)
	}
	if b["error_description"] == "" {
		t.Errorf("error answer %s has no error_description", w.Body)
	}
	for k := range b {
		if k != "error" && k != "error_description" {
			t.Errorf("error answer has member %q", k)
		}
	}
	wantOAuthHeaders(t, w)
	return b["error_description"]
}

// signupUser creates ada@example.com (confirmation off) and returns her
// JSON API tokens.
func signupUser(t *testing.T, e *env) tokenBody {
	t.Helper()
	return tokens(t, e.call("POST", "/v1/signup", `{"email":"ada@example.com","password":"`+goodPassword+`"}`, ""), 201)
}

func passwordGrant(kv ...string) string {
	return formOf(append([]string{"grant_type", "password", "username", "ADA@example.com", "password", goodPassword}, kv...)...)
}

func TestOAuthTokenGrants(t *testing.T) {
	e := newOAuthEnv(t, auth.Config{})
	signupUser(t, e)
	hashedOK := basic("hashed", "another long client secret")
	tests := []struct {
		name string
		body string
		kv   []string
	}{
		{"public client without id", passwordGrant(), nil},
		{"public client with a client_id", passwordGrant("client_id", "my-spa"), nil},
		{"public client id in Basic without secret", passwordGrant(), []string{"Authorization", basic("my-cli", "")}},
		{"empty Basic credentials (golang.org/x/oauth2 without a client id)", passwordGrant(), []string{"Authorization", "Basic Og=="}},
		{"confidential client, Basic", passwordGrant(), []string{"Authorization", basic("app", clientSecret)}},
		{"confidential client, Basic plus the same client_id in the body", passwordGrant("client_id", "app"), []string{"Authorization", basic("app", clientSecret)}},
		{"confidential client, client_secret_post", passwordGrant("client_id", "app", "client_secret", clientSecret), nil},
		{"confidential client with a hashed secret", passwordGrant(), []string{"Authorization", hashedOK}},
		{"scope is ignored", passwordGrant("scope", "openid profile"), nil},
		{"charset utf-8", passwordGrant(), []string{"Content-Type", "application/x-www-form-urlencoded; charset=UTF-8"}},
		{"unknown parameters are ignored", passwordGrant("foo", "bar"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := oauthTokens(t, e.form("/oauth/token", tt.body, tt.kv...))
			if w := e.call("GET", "/v1/me", "", b.AccessToken); w.Code != 200 {
				t.Errorf("GET /v1/me with the OAuth access token = %d %s", w.Code, w.Body)
			}
			if got := e.form("/oauth/token", "", tt.kv...).Header().Get("Authorization"); got != "" {
				t.Errorf("an OAuth answer carries Authorization %q", got)
			}
		})
	}

	// The refresh grant rotates like /v1/token/refresh.
	first := oauthTokens(t, e.form("/oauth/token", passwordGrant()))
	second := oauthTokens(t, e.form("/oauth/token", formOf("grant_type", "refresh_token", "refresh_token", first.RefreshToken)))
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatal("the refresh grant did not rotate")
	}
	// A retry within the grace window gets the same successor.
	retry := oauthTokens(t, e.form("/oauth/token", formOf("grant_type", "refresh_token", "refresh_token", first.RefreshToken)))
	if retry.RefreshToken != second.RefreshToken {
		t.Errorf("retry within the grace window got another refresh token")
	}
	// The JSON API accepts the OAuth refresh token and vice versa.
	third := tokens(t, e.call("POST", "/v1/token/refresh", `{"refresh_token":"`+second.RefreshToken+`"}`, ""), 200)
	oauthTokens(t, e.form("/oauth/token", formOf("grant_type", "refresh_token", "refresh_token", third.RefreshToken), "Authorization", basic("app", clientSecret)))
	// Past the grace window the first token is theft: invalid_grant, and
	// the session is over.
	e.clock.Advance(10 * time.Second)
	wantOAuthError(t, e.form("/oauth/token", formOf("grant_type", "refresh_token", "refresh_token", first.RefreshToken)), 400, "invalid_grant")
	wantProblem(t, e.call("GET", "/v1/me", "", second.AccessToken), 401, "invalid_token")
}

func TestOAuthTokenErrors(t *testing.T) {
	e := newOAuthEnv(t, auth.Config{})
	signupUser(t, e)
	ok := passwordGrant()
	tests := []struct {
		name   string
		target string
		body   string
		kv     []string
		status int
		code   string
		basic  bool // WWW-Authenticate: Basic expected
	}{
		{"no Content-Type", "", ok, []string{"Content-Type", ""}, 400, "invalid_request", false},
		{"JSON body", "", `{"grant_type":"password"}`, []string{"Content-Type", "application/json"}, 400, "invalid_request", false},
		{"latin-1 charset", "", ok, []string{"Content-Type", "application/x-www-form-urlencoded; charset=iso-8859-1"}, 400, "invalid_request", false},
		{"parameters in the query string", "/oauth/token?" + ok, "", nil, 400, "invalid_request", false},
		{"bad percent escape", "", "grant_type=password&username=%zz&password=x", nil, 400, "invalid_request", false},
		{"invalid UTF-8", "", "grant_type=password&username=%ff&password=x", nil, 400, "invalid_request", false},
		{"duplicate grant_type", "", ok + "&grant_type=refresh_token", nil, 400, "invalid_request", false},
		{"duplicate with the same value", "", ok + "&password=" + url.QueryEscape(goodPassword), nil, 400, "invalid_request", false},
		{"body over 64 KiB", "", ok + "&pad=" + strings.Repeat("a", 64<<10), nil, 413, "invalid_request", false},
		{"missing grant_type", "", formOf("username", "ada@example.com", "password", goodPassword), nil, 400, "invalid_request", false},
		{"empty grant_type counts as missing", "", "grant_type=&" + formOf("username", "ada@example.com"), nil, 400, "invalid_request", false},
		{"unsupported grant", "", formOf("grant_type", "client_credentials"), nil, 400, "unsupported_grant_type", false},
		{"authorization_code grant without a registered client", "", formOf("grant_type", "authorization_code", "code", "x"), nil, 400, "unauthorized_client", false},
		{"client_credentials grant", "", formOf("grant_type", "client_credentials"), nil, 400, "unsupported_grant_type", false},
		{"missing username", "", formOf("grant_type", "password", "password", goodPassword), nil, 400, "invalid_request", false},
		{"missing password", "", formOf("grant_type", "password", "username", "ada@example.com"), nil, 400, "invalid_request", false},
		{"wrong password", "", formOf("grant_type", "password", "username", "ada@example.com", "password", "wrong password!"), nil, 400, "invalid_grant", false},
		{"unknown user", "", formOf("grant_type", "password", "username", "nobody@example.com", "password", goodPassword), nil, 400, "invalid_grant", false},
		{"missing refresh_token", "", formOf("grant_type", "refresh_token"), nil, 400, "invalid_request", false},
		{"bad refresh_token", "", formOf("grant_type", "refresh_token", "refresh_token", "garbage"), nil, 400, "invalid_grant", false},
		{"confidential client, wrong secret in Basic", "", ok, []string{"Authorization", basic("app", "wrong secret")}, 401, "invalid_client", true},
		{"confidential client, no secret in Basic", "", ok, []string{"Authorization", basic("app", "")}, 401, "invalid_client", true},
		{"confidential client, client_id alone", "", passwordGrant("client_id", "app"), nil, 401, "invalid_client", false},
		{"confidential client, wrong client_secret", "", passwordGrant("client_id", "app", "client_secret", "wrong"), nil, 401, "invalid_client", false},
		{"hashed client, wrong secret", "", ok, []string{"Authorization", basic("hashed", "wrong")}, 401, "invalid_client", true},
		{"public client presenting a secret", "", passwordGrant("client_id", "my-spa", "client_secret", "x"), nil, 401, "invalid_client", false},
		{"a secret without a client id", "", passwordGrant("client_secret", "x"), nil, 401, "invalid_client", false},
		{"Basic and client_secret at once", "", passwordGrant("client_secret", clientSecret), []string{"Authorization", basic("app", clientSecret)}, 400, "invalid_request", false},
		{"client_id differing from Basic", "", passwordGrant("client_id", "other"), []string{"Authorization", basic("app", clientSecret)}, 400, "invalid_request", false},
		{"Basic that is not base64", "", ok, []string{"Authorization", "Basic !!!"}, 401, "invalid_client", true},
		{"Basic without a colon", "", ok, []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("app"))}, 401, "invalid_client", true},
		{"Bearer instead of Basic", "", ok, []string{"Authorization", "Bearer " + adminKey}, 401, "invalid_client", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := tt.target
			if target == "" {
				target = "/oauth/token"
			}
			w := e.form(target, tt.body, tt.kv...)
			wantOAuthError(t, w, tt.status, tt.code)
			got := w.Header().Get("WWW-Authenticate")
			if tt.basic && got != `Basic realm="latch"` {
				t.Errorf("WWW-Authenticate = %q, want Basic realm=\"latch\"", got)
			}
			if !tt.basic && got != "" {
				t.Errorf("WWW-Authenticate = %q, want none", got)
			}
		})
	}

	// A duplicate names the parameter.
	desc := wantOAuthError(t, e.form("/oauth/token", ok+"&grant_type=password"), 400, "invalid_request")
	if !strings.Contains(desc, "grant_type") {
		t.Errorf("duplicate description %q does not name grant_type", desc)
	}
	// GET is not a token request.
	if w := do(e.h, "GET", "/oauth/token", nil, nil); w.Code != 405 {
		t.Errorf("GET /oauth/token = %d, want 405", w.Code)
	}
}

func TestOAuthTokenAccountStates(t *testing.T) {
	e := newOAuthEnv(t, auth.Config{RequireConfirmation: true})
	wantStatusBody(t, e.call("POST", "/v1/signup", `{"email":"ada@example.com","password":"`+goodPassword+`"}`, ""), 202, "confirmation_sent")
	desc := wantOAuthError(t, e.form("/oauth/token", passwordGrant()), 400, "invalid_grant")
	if !strings.Contains(desc, "confirm") {
		t.Errorf("unconfirmed account description = %q, want it to say so", desc)
	}
	tokens(t, e.call("POST", "/v1/confirm", `{"token":"`+e.mailedToken(t, "ada@example.com")+`"}`, ""), 200)
	b := oauthTokens(t, e.form("/oauth/token", passwordGrant()))

	// Disable the account.
	ctx := context.Background()
	err := e.db.Tx(ctx, func(tx auth.Tx) error {
		u, err := tx.UserByEmail(ctx, "ada@example.com")
		if err != nil {
			return err
		}
		u.Disabled = true
		return tx.UpdateUser(ctx, u)
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"password": passwordGrant(),
		"refresh":  formOf("grant_type", "refresh_token", "refresh_token", b.RefreshToken),
	} {
		desc := wantOAuthError(t, e.form("/oauth/token", body), 400, "invalid_grant")
		if !strings.Contains(desc, "disabled") {
			t.Errorf("%s grant of a disabled account: description %q, want it to say so", name, desc)
		}
	}
}

func TestOAuthTokenLimitedAndUnavailable(t *testing.T) {
	e := newOAuthEnv(t, auth.Config{RateLimits: true, LoginPerIP: auth.Rate{N: 1, Per: time.Minute}})
	wantOAuthError(t, e.form("/oauth/token", passwordGrant()), 400, "invalid_grant")
	w := e.form("/oauth/token", passwordGrant())
	wantOAuthError(t, w, 429, "temporarily_unavailable")
	if ra := w.Header().Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("429 Retry-After = %q, want whole seconds", ra)
	}

	// The store going down in the middle of a login.
	e2 := newOAuthEnv(t, auth.Config{})
	svc := authtest.New(t, auth.Config{Secret: []byte(strings.Repeat("k", 32))},
		authtest.WithStore(e2.db), authtest.WithClock(e2.clock),
		lightHasher(), authtest.WithDeps(func(d *auth.Deps) { d.Store = downStore{e2.db} })).Service
	h, _ := newTransport(t, Config{Service: svc})
	e2.h = h
	w = e2.form("/oauth/token", passwordGrant())
	wantOAuthError(t, w, 503, "temporarily_unavailable")
	if w.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if strings.Contains(w.Body.String(), "sql") {
		t.Errorf("503 leaks internals: %s", w.Body)
	}
}

func TestOAuthRevoke(t *testing.T) {
	e := newOAuthEnv(t, auth.Config{})
	signupUser(t, e)
	login := func() oauthTokenBody { return oauthTokens(t, e.form("/oauth/token", passwordGrant())) }
	revoked := func(w *httptest.ResponseRecorder) {
		t.Helper()
		if w.Code != 200 || w.Body.Len() != 0 {
			t.Fatalf("revoke = %d %q, want 200 and no body", w.Code, w.Body)
		}
		if got := w.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("revoke Cache-Control = %q", got)
		}
	}

	// A refresh token: its session ends (refresh token and access token).
	a := login()
	revoked(e.form("/oauth/revoke", formOf("token", a.RefreshToken, "token_type_hint", "refresh_token")))
	wantOAuthError(t, e.form("/oauth/token", formOf("grant_type", "refresh_token", "refresh_token", a.RefreshToken)), 400, "invalid_grant")
	wantProblem(t, e.call("GET", "/v1/me", "", a.AccessToken), 401, "invalid_token")
	// Again: still 200.
	revoked(e.form("/oauth/revoke", formOf("token", a.RefreshToken)))

	// An access token (with a misleading hint): its session ends too.
	b := login()
	revoked(e.form("/oauth/revoke", formOf("token", b.AccessToken, "token_type_hint", "refresh_token", "client_id", "my-spa")))
	wantProblem(t, e.call("GET", "/v1/me", "", b.AccessToken), 401, "invalid_token")
	wantOAuthError(t, e.form("/oauth/token", formOf("grant_type", "refresh_token", "refresh_token", b.RefreshToken)), 400, "invalid_grant")

	// A confidential client with its credentials.
	c := login()
	revoked(e.form("/oauth/revoke", formOf("token", c.RefreshToken), "Authorization", basic("app", clientSecret)))
	wantProblem(t, e.call("GET", "/v1/me", "", c.AccessToken), 401, "invalid_token")

	// A refresh token that was already rotated ends its session too.
	f := login()
	g := oauthTokens(t, e.form("/oauth/token", formOf("grant_type", "refresh_token", "refresh_token", f.RefreshToken)))
	revoked(e.form("/oauth/revoke", formOf("token", f.RefreshToken)))
	wantProblem(t, e.call("GET", "/v1/me", "", g.AccessToken), 401, "invalid_token")
	wantOAuthError(t, e.form("/oauth/token", formOf("grant_type", "refresh_token", "refresh_token", g.RefreshToken)), 400, "invalid_grant")

	// Unknown and malformed tokens, unknown hints: 200.
	for _, tok := range []string{"garbage", strings.Repeat("A", 43), "a.b.c", "eyJhbGciOiJub25lIn0.e30."} {
		revoked(e.form("/oauth/revoke", formOf("token", tok, "token_type_hint", "something_else")))
	}

	// An expired access token ends nothing.
	d := login()
	e.clock.Advance(time.Duration(d.ExpiresIn+1) * time.Second)
	revoked(e.form("/oauth/revoke", formOf("token", d.AccessToken)))
	oauthTokens(t, e.form("/oauth/token", formOf("grant_type", "refresh_token", "refresh_token", d.RefreshToken)))

	// Errors.
	wantOAuthError(t, e.form("/oauth/revoke", ""), 400, "invalid_request")
	wantOAuthError(t, e.form("/oauth/revoke", formOf("token", "x", "token", "y")), 400, "invalid_request")
	w := e.form("/oauth/revoke", formOf("token", "x"), "Authorization", basic("app", "wrong"))
	wantOAuthError(t, w, 401, "invalid_client")
	if w.Header().Get("WWW-Authenticate") != basicRealm {
		t.Errorf("WWW-Authenticate = %q", w.Header().Get("WWW-Authenticate"))
	}
	wantOAuthError(t, e.form("/oauth/revoke", formOf("token", "x", "client_id", "app")), 401, "invalid_client")
}

// introspect posts token to /oauth/introspect with header pairs and
// decodes the answer.
func (e *env) introspect(t *testing.T, tok string, kv ...string) map[string]any {
	t.Helper()
	w := e.form("/oauth/introspect", formOf("token", tok), kv...)
	if w.Code != 200 {
		t.Fatalf("introspect = %d %s, want 200", w.Code, w.Body)
	}
	wantOAuthHeaders(t, w)
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOAuthIntrospectAuth(t *testing.T) {
	e := newOAuthEnv(t, auth.Config{})
	tk := signupUser(t, e)
	body := formOf("token", tk.AccessToken)
	refused := []struct {
		name string
		kv   []string
	}{
		{"no credentials", nil},
		{"a public client id", []string{"Authorization", basic("my-spa", "")}},
		{"empty Basic", []string{"Authorization", "Basic Og=="}},
		{"a confidential client with a wrong secret", []string{"Authorization", basic("app", "wrong")}},
		{"a wrong admin key", []string{"Authorization", "Bearer not-the-admin-key"}},
		{"a user's access token", []string{"Authorization", "Bearer " + tk.AccessToken}},
		{"client_secret_post", nil},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			b := body
			if tt.name == "client_secret_post" {
				b = formOf("token", tk.AccessToken, "client_id", "app", "client_secret", clientSecret)
			}
			w := e.form("/oauth/introspect", b, tt.kv...)
			wantOAuthError(t, w, 401, "invalid_client")
			if got := w.Header().Get("WWW-Authenticate"); got != basicRealm {
				t.Errorf("WWW-Authenticate = %q, want %q", got, basicRealm)
			}
		})
	}
	for name, kv := range map[string][]string{
		"admin key":                  {"Authorization", "Bearer " + adminKey},
		"confidential client":        {"Authorization", basic("app", clientSecret)},
		"hashed confidential client": {"Authorization", basic("hashed", "another long client secret")},
	} {
		if m := e.introspect(t, tk.AccessToken, kv...); m["active"] != true {
			t.Errorf("%s: introspection = %v, want active", name, m)
		}
	}
	// Without any client configured, the admin key still works.
	e2 := newEnv(t, auth.Config{}, Config{AdminKey: adminKey})
	tk2 := signupUser(t, e2)
	if m := e2.introspect(t, tk2.AccessToken, "Authorization", "Bearer "+adminKey); m["active"] != true {
		t.Errorf("introspection = %v, want active", m)
	}
	wantOAuthError(t, e2.form("/oauth/introspect", formOf("token", tk2.AccessToken)), 401, "invalid_client")
	wantOAuthError(t, e.form("/oauth/introspect", "", "Authorization", "Bearer "+adminKey), 400, "invalid_request")
}

func TestOAuthIntrospect(t *testing.T) {
	e := newOAuthEnv(t, auth.Config{})
	signupUser(t, e)
	admin := []string{"Authorization", "Bearer " + adminKey}
	b := oauthTokens(t, e.form("/oauth/token", passwordGrant()))

	m := e.introspect(t, b.AccessToken, admin...)
	now := e.clock.Now().Unix()
	want := map[string]any{
		"active": true, "token_type": "Bearer", "iss": "http://localhost:8080", "aud": "http://localhost:8080",
		"username": "ada@example.com", "exp": float64(now + 900), "iat": float64(now), "nbf": float64(now),
		"roles": []any{"user"}, "email_verified": false, // confirmation is off
	}
	for k, v := range want {
		if got, _ := json.Marshal(m[k]); string(got) != mustJSON(v) {
			t.Errorf("access token %s = %s, want %s", k, got, mustJSON(v))
		}
	}
	for _, k := range []string{"sub", "jti", "sid"} {
		if s, _ := m[k].(string); s == "" {
			t.Errorf("access token introspection lacks %s: %v", k, m)
		}
	}

	r := e.introspect(t, b.RefreshToken, "Authorization", basic("app", clientSecret))
	if r["active"] != true || r["token_type"] != "refresh_token" || r["sub"] != m["sub"] || r["sid"] != m["sid"] ||
		r["exp"] != float64(e.clock.Now().Add(168*time.Hour).Unix()) || r["username"] != "ada@example.com" {
		t.Errorf("refresh token introspection = %v, want active, refresh_token, the same sub and sid, exp at the idle end", r)
	}
	if _, ok := r["roles"]; ok {
		t.Errorf("refresh token introspection has roles: %v", r)
	}
	// Introspection does not use the refresh token.
	next := oauthTokens(t, e.form("/oauth/token", formOf("grant_type", "refresh_token", "refresh_token", b.RefreshToken)))

	inactive := func(what, tok string) {
		t.Helper()
		w := e.form("/oauth/introspect", formOf("token", tok), admin...)
		if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"active":false}` {
			t.Errorf("%s: introspection = %d %s, want exactly {\"active\":false}", what, w.Code, w.Body)
		}
	}
	inactive("a used refresh token", b.RefreshToken)
	inactive("garbage", "garbage")
	inactive("a made-up JWS", "eyJhbGciOiJFZERTQSJ9.e30.AAAA")
	if m := e.introspect(t, next.RefreshToken, admin...); m["active"] != true {
		t.Errorf("the successor refresh token is %v, want active", m)
	}
	// After the access token's expiry.
	e.clock.Advance(901 * time.Second)
	inactive("an expired access token", next.AccessToken)
	// After logout: both tokens of the session.
	c := oauthTokens(t, e.form("/oauth/token", passwordGrant()))
	if w := e.call("POST", "/v1/logout", "", c.AccessToken); w.Code != 204 {
		t.Fatal(w.Code)
	}
	inactive("an access token of an ended session", c.AccessToken)
	inactive("a refresh token of an ended session", c.RefreshToken)
}

// downStore is a store whose user lookups fail as an unreachable database
// does.
type downStore struct{ *sqlstore.DB }

func (downStore) LoginUser(context.Context, string) (*auth.User, bool, error) {
	return nil, false, fmt.Errorf("test: %w", auth.ErrStoreDown)
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestDiscovery(t *testing.T) {
	for _, withClients := range []bool{false, true} {
		cfg := Config{}
		if withClients {
			cfg.OAuthClients = oauthClients(t)
		}
		e := newEnv(t, auth.Config{PublicURL: "https://auth.example.com/", KeyAlg: "ES256"}, cfg)
		var docs []string
		for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
			w := do(e.h, "GET", path, nil, nil)
			if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("%s = %d %s", path, w.Code, w.Body)
			}
			if got := w.Header().Get("Cache-Control"); got != "public, max-age=300" {
				t.Errorf("%s Cache-Control = %q", path, got)
			}
			docs = append(docs, w.Body.String())
		}
		if docs[0] != docs[1] {
			t.Errorf("the two metadata documents differ:\n%s\n%s", docs[0], docs[1])
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(docs[0]), &m); err != nil {
			t.Fatal(err)
		}
		// Registered confidential clients may appear at any time: the
		// methods are listed with or without configured ones.
		methods := []any{"none", "client_secret_basic", "client_secret_post"}
		introspection := []any{"client_secret_basic"}
		want := map[string]any{
			"issuer":                           "https://auth.example.com",
			"token_endpoint":                   "https://auth.example.com/oauth/token",
			"revocation_endpoint":              "https://auth.example.com/oauth/revoke",
			"introspection_endpoint":           "https://auth.example.com/oauth/introspect",
			"jwks_uri":                         "https://auth.example.com/.well-known/jwks.json",
			"authorization_endpoint":           "https://auth.example.com/oauth/authorize",
			"userinfo_endpoint":                "https://auth.example.com/oauth/userinfo",
			"end_session_endpoint":             "https://auth.example.com/oauth/logout",
			"grant_types_supported":            []any{"authorization_code", "refresh_token", "password", "urn:latch:params:oauth:grant-type:mfa"},
			"response_types_supported":         []any{"code"},
			"code_challenge_methods_supported": []any{"S256"},
			"scopes_supported":                 []any{"openid", "email", "offline_access"},
			"authorization_response_iss_parameter_supported": true,
			"token_endpoint_auth_methods_supported":          methods,
			"revocation_endpoint_auth_methods_supported":     methods,
			"introspection_endpoint_auth_methods_supported":  introspection,
			"id_token_signing_alg_values_supported":          []any{"ES256"},
			"subject_types_supported":                        []any{"public"},
		}
		for k, v := range want {
			if got, want := mustJSON(m[k]), mustJSON(v); got != want {
				t.Errorf("clients=%v: %s = %s, want %s", withClients, k, got, want)
			}
		}
		if e.svc.Issuer() != m["issuer"] {
			t.Errorf("issuer %v differs from the tokens' iss %q", m["issuer"], e.svc.Issuer())
		}
	}
}
