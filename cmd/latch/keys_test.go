package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// keysCLI runs `latch keys args...` with env and returns its stdout.
func keysCLI(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), append([]string{"keys"}, args...), func(k string) string { return env[k] }, &out, &errOut)
	if err != nil {
		t.Fatalf("latch keys %v: %v\n%s", args, err, errOut.String())
	}
	return out.String()
}

type cliKey struct {
	KID   string `json:"kid"`
	Alg   string `json:"alg"`
	State string `json:"state"`
}

func keysByState(t *testing.T, env map[string]string) map[string][]cliKey {
	t.Helper()
	var list struct {
		Keys []cliKey `json:"keys"`
	}
	if err := json.Unmarshal([]byte(keysCLI(t, env, "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]cliKey)
	for _, k := range list.Keys {
		out[k.State] = append(out[k.State], k)
	}
	return out
}

// oauthForm posts a form to path with optional Basic credentials.
func (s *server) oauthForm(path string, form url.Values, id, secret string) *response {
	s.t.Helper()
	req, err := http.NewRequest("POST", s.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := &response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

func kidOf(t *testing.T, jws string) string {
	t.Helper()
	seg, _, _ := strings.Cut(jws, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	_ = json.Unmarshal(b, &h)
	return h.Kid
}

// TestKeysRotateCLI rotates with `latch keys rotate` beside a running
// server, then starts a second instance on the same database: each
// verifies the other's tokens, the old key's tokens keep working, and the
// configured confidential client authenticates at the token endpoint.
func TestKeysRotateCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{
		"LATCH_ADDR":          "127.0.0.1:0",
		"LATCH_DATABASE_URL":  "sqlite:" + filepath.Join(dir, "latch.db"),
		"LATCH_LOG_FORMAT":    "json",
		"LATCH_PUBLIC_URL":    "http://latch.test/",
		"LATCH_CONFIRM_EMAIL": "false",
		"LATCH_OAUTH_CLIENTS": "api:a-long-enough-client-secret",
		"LATCH_KEY_ALG":       "ES256",
	}
	a := startWith(t, env)
	a.do("POST", "/v1/signup", "", map[string]string{"email": "keys@example.com", "password": goodPassword}).want(t, 201, "")
	grant := url.Values{"grant_type": {"password"}, "username": {"keys@example.com"}, "password": {goodPassword}}
	t1 := a.oauthForm("/oauth/token", grant, "api", "a-long-enough-client-secret").want(t, 200, "")
	a.oauthForm("/oauth/token", grant, "api", "wrong").want(t, 401, "")

	before := keysByState(t, env)
	if len(before["current"]) != 1 || len(before["next"]) != 1 || before["current"][0].Alg != "ES256" {
		t.Fatalf("keys before = %+v, want one ES256 current and one next", before)
	}
	if kid := kidOf(t, t1.str("access_token")); kid != before["current"][0].KID {
		t.Fatalf("token kid %s, want the current %s", kid, before["current"][0].KID)
	}

	out := keysCLI(t, env, "rotate")
	if !strings.Contains(out, "retired "+before["current"][0].KID) || !strings.Contains(out, "current "+before["next"][0].KID) {
		t.Errorf("latch keys rotate said:\n%s", out)
	}
	after := keysByState(t, env)
	if len(after["current"]) != 1 || after["current"][0].KID != before["next"][0].KID ||
		len(after["retired"]) != 1 || after["retired"][0].KID != before["current"][0].KID || len(after["next"]) != 1 {
		t.Fatalf("keys after = %+v", after)
	}

	// A second instance signs with the new key.
	b := startWith(t, env)
	t2 := b.oauthForm("/oauth/token", grant, "", "").want(t, 200, "")
	if kid := kidOf(t, t2.str("access_token")); kid != after["current"][0].KID {
		t.Errorf("the new instance signs with %s, want %s", kid, after["current"][0].KID)
	}
	a.do("GET", "/v1/me", t2.str("access_token"), nil).want(t, 200, "")
	b.do("GET", "/v1/me", t1.str("access_token"), nil).want(t, 200, "")
	jwks := b.do("GET", "/.well-known/jwks.json", "", nil).want(t, 200, "")
	if n := len(jwks.Body["keys"].([]any)); n != 3 {
		t.Errorf("JWKS has %d keys, want the retired, current and next ones: %s", n, jwks.Raw)
	}
	disc := b.do("GET", "/.well-known/openid-configuration", "", nil).want(t, 200, "")
	if disc.str("issuer") != "http://latch.test" || disc.str("token_endpoint") != "http://latch.test/oauth/token" {
		t.Errorf("discovery = %s", disc.Raw)
	}

	// Introspection and revocation as the confidential client the token
	// was issued to (a public caller may not revoke it: 200, nothing ends).
	intro := b.oauthForm("/oauth/introspect", url.Values{"token": {t1.str("refresh_token")}}, "api", "a-long-enough-client-secret").want(t, 200, "")
	if intro.Body["active"] != true {
		t.Errorf("introspection = %s", intro.Raw)
	}
	b.oauthForm("/oauth/revoke", url.Values{"token": {t1.str("refresh_token")}}, "", "").want(t, 200, "")
	a.do("GET", "/v1/me", t1.str("access_token"), nil).want(t, 200, "")
	b.oauthForm("/oauth/revoke", url.Values{"token": {t1.str("refresh_token")}}, "api", "a-long-enough-client-secret").want(t, 200, "")
	b.do("GET", "/v1/me", t1.str("access_token"), nil).want(t, 401, "invalid_token")
	// A holds the session in memory and, without Redis, hears of B's
	// revocation when its copy ages out.
	refusedEventually(t, a, t1.str("access_token"))
}

func TestKeysConfig(t *testing.T) {
	t.Parallel()
	base := map[string]string{"LATCH_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "latch.db")}
	tests := []struct {
		key, value, wantErr string
	}{
		{"LATCH_KEY_ROTATION", "5m", "under an hour"},
		{"LATCH_KEY_ROTATION", "soon", "LATCH_KEY_ROTATION"},
		{"LATCH_KEY_ROTATION", "-1h", "LATCH_KEY_ROTATION"},
		{"LATCH_OAUTH_CLIENTS", "app:short", "LATCH_OAUTH_CLIENTS"},
		{"LATCH_OAUTH_CLIENTS", "bad id:0123456789abcdef", "LATCH_OAUTH_CLIENTS"},
	}
	for _, tt := range tests {
		env := map[string]string{tt.key: tt.value}
		for k, v := range base {
			env[k] = v
		}
		_, err := loadConfig(nil, func(k string) string { return env[k] })
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s=%q: error %v, want one mentioning %q", tt.key, tt.value, err, tt.wantErr)
		}
	}
	for value, want := range map[string]string{"": "720h0m0s", "off": "-1ns", "0": "-1ns", "48h": "48h0m0s"} {
		c, err := loadConfig(nil, func(k string) string {
			if k == "LATCH_KEY_ROTATION" {
				return value
			}
			return base[k]
		})
		if err != nil || c.KeyRotation.String() != want {
			t.Errorf("LATCH_KEY_ROTATION=%q: %v, %v; want %s", value, c, err, want)
		}
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"keys", "spin"}, func(k string) string { return base[k] }, &out, io.Discard); err == nil {
		t.Error("latch keys spin succeeded")
	}
}
