package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/verify"
)

// rawField is the JSON of r's top-level field key, as answered.
func rawField(t *testing.T, r *response, key string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.Raw), &m); err != nil {
		t.Fatalf("answer %s: %v", r.Raw, err)
	}
	return string(m[key])
}

// rawUserField is rawField of the user object of a token answer.
func rawUserField(t *testing.T, r *response, key string) string {
	t.Helper()
	u := &response{Raw: rawField(t, r, "user")}
	return rawField(t, u, key)
}

// TestUserMetadataEndToEnd: a user's own user_metadata round-trips
// through PATCH /v1/me on both stores; bad values are refused and change
// nothing; it never travels in tokens.
func TestUserMetadataEndToEnd(t *testing.T) {
	t.Parallel()
	adminFlavours(t, func(t *testing.T, env map[string]string) {
		s := startServer(t, env)
		s.adminCreate("meta@example.com")
		pair := s.login("meta@example.com", goodPassword)
		at := pair.str("access_token")
		if got := rawUserField(t, pair, "user_metadata"); got != `{}` {
			t.Errorf("login user_metadata %s, want {}", got)
		}
		const stored = `{"display_name":"Zoë","prefs":{"theme":"dark","langs":["en","fr"]},"n":12345678901234567890}`
		r := s.do("PATCH", "/v1/me", at, `{"user_metadata": {"display_name": "Zoë", "prefs": {"theme": "dark", "langs": ["en", "fr"]}, "n": 12345678901234567890}}`).want(t, 200, "")
		if got := rawField(t, r, "user_metadata"); got != stored {
			t.Errorf("PATCH /v1/me answered user_metadata %s, want %s", got, stored)
		}
		if got := rawField(t, s.do("GET", "/v1/me", at, nil).want(t, 200, ""), "user_metadata"); got != stored {
			t.Errorf("GET /v1/me user_metadata %s, want %s", got, stored)
		}

		s.do("PATCH", "/v1/me", at, map[string]any{"user_metadata": []string{"x"}}).want(t, 400, "invalid_request")
		s.do("PATCH", "/v1/me", at, `{"user_metadata": null}`).want(t, 400, "invalid_request")
		s.do("PATCH", "/v1/me", at, map[string]any{"user_metadata": map[string]string{"k": strings.Repeat("x", 4100)}}).want(t, 422, "invalid_metadata")
		s.do("PATCH", "/v1/me", at, `{"user_metadata": `+strings.Repeat(`[`, 20)+strings.Repeat(`]`, 20)+`}`).want(t, 400, "invalid_request")
		s.do("PATCH", "/v1/me", at, `{"user_metadata": {"a": `+strings.Repeat(`[`, 20)+strings.Repeat(`]`, 20)+`}}`).want(t, 422, "invalid_metadata")
		s.do("PATCH", "/v1/me", at, `{"user_metadata": {"a": 1, "a": 2}}`).want(t, 422, "invalid_metadata")
		s.do("PATCH", "/v1/me", "", `{"user_metadata": {}}`).want(t, 401, "invalid_token")

		rt := s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": pair.str("refresh_token")}).want(t, 200, "")
		if got := rawUserField(t, rt, "user_metadata"); got != stored {
			t.Errorf("after refused PATCHes, user_metadata %s, want %s", got, stored)
		}
		var claims map[string]any
		decodeSeg(t, strings.Split(rt.str("access_token"), ".")[1], &claims)
		if _, ok := claims["user_metadata"]; ok {
			t.Errorf("the access token carries user_metadata: %v", claims)
		}
		if evs := s.events("type=user_metadata_changed"); len(evs) != 1 || evs[0]["session_id"] == "" {
			t.Errorf("user_metadata_changed events: %v", evs)
		}
	})
}

// TestAppMetadataEndToEnd: an admin's app_metadata reaches the user's next
// refreshed access token, as a service verifying it with package verify
// reads it; the CLI sets it too. The admin PATCH is strict.
func TestAppMetadataEndToEnd(t *testing.T) {
	t.Parallel()
	adminFlavours(t, func(t *testing.T, env map[string]string) {
		s := startServer(t, env)
		id := s.adminCreate("plan@example.com")
		pair := s.login("plan@example.com", goodPassword)
		v, err := verify.New(verify.Config{
			Issuer:   "http://latch.test", // LATCH_PUBLIC_URL of the harness
			Audience: "http://latch.test",
			JWKSURL:  s.URL + "/.well-known/jwks.json",
		})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		claimOf := func(at string) string {
			t.Helper()
			c, err := v.Verify(ctx, at)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			return string(c.AppMetadata)
		}
		if got := claimOf(pair.str("access_token")); got != `{}` {
			t.Errorf("initial app_metadata claim %s, want {}", got)
		}
		path := "/admin/v1/users/" + id
		// Strict: unknown, read-only and the user's own fields are refused.
		s.do("PATCH", path, testAdminKey, map[string]any{"app_metadta": map[string]any{}}).want(t, 400, "invalid_request")
		s.do("PATCH", path, testAdminKey, map[string]any{"created_at": "2020-01-01T00:00:00Z"}).want(t, 400, "invalid_request")
		s.do("PATCH", path, testAdminKey, map[string]any{"user_metadata": map[string]any{}}).want(t, 400, "invalid_request")
		s.do("PATCH", path, testAdminKey, map[string]any{"app_metadata": "pro"}).want(t, 400, "invalid_request")
		s.do("PATCH", path, testAdminKey, map[string]any{"app_metadata": map[string]string{"k": strings.Repeat("x", 4100)}}).want(t, 422, "invalid_metadata")

		const meta = `{"plan":"pro","org":{"id":7,"name":"\u003cAcme\u003e"}}`
		r := s.do("PATCH", path, testAdminKey, `{"app_metadata": {"plan": "pro", "org": {"id": 7, "name": "<Acme>"}}}`).want(t, 200, "")
		if got := rawField(t, r, "app_metadata"); got != meta {
			t.Errorf("admin answer app_metadata %s, want %s", got, meta)
		}
		// The token in hand is as it was signed; the refreshed one has it.
		if got := claimOf(pair.str("access_token")); got != `{}` {
			t.Errorf("old token's claim %s, want {}", got)
		}
		rt := s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": pair.str("refresh_token")}).want(t, 200, "")
		if got := claimOf(rt.str("access_token")); got != meta {
			t.Errorf("refreshed token's app_metadata %s, want %s", got, meta)
		}
		if got := rawUserField(t, rt, "app_metadata"); got != meta {
			t.Errorf("refresh answer app_metadata %s, want %s", got, meta)
		}
		// The user cannot set it.
		s.do("PATCH", "/v1/me", rt.str("access_token"), map[string]any{"user_metadata": map[string]any{}, "app_metadata": map[string]any{"plan": "free"}}).want(t, 200, "")
		if got := rawField(t, s.do("GET", "/v1/me", rt.str("access_token"), nil).want(t, 200, ""), "app_metadata"); got != meta {
			t.Errorf("app_metadata after the user's PATCH %s, want %s", got, meta)
		}

		// The CLI, on the same database.
		if out, err := s.cli("user", "set-app-metadata", "plan@example.com", `{"plan":"team"}`); err != nil || !strings.Contains(out, `{"plan":"team"}`) {
			t.Fatalf("set-app-metadata: %v %s", err, out)
		}
		file := filepath.Join(t.TempDir(), "meta.json")
		if err := os.WriteFile(file, []byte(`{"plan": "team", "seats": 3}`), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := s.cli("user", "set-app-metadata", id, "--file", file, "--json")
		if err != nil {
			t.Fatalf("set-app-metadata --file: %v %s", err, out)
		}
		var shown struct {
			AppMetadata json.RawMessage `json:"app_metadata"`
		}
		var compact bytes.Buffer
		if err := json.Unmarshal([]byte(out), &shown); err != nil || json.Compact(&compact, shown.AppMetadata) != nil ||
			compact.String() != `{"plan":"team","seats":3}` {
			t.Fatalf("set-app-metadata --file --json: %v %s", err, out)
		}
		if out, err := s.cli("user", "set-app-metadata", id, `[1]`); err == nil || !strings.Contains(out+err.Error(), "invalid_request") {
			t.Errorf("set-app-metadata with an array: %v %s", err, out)
		}
		rt2 := s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": rt.str("refresh_token")}).want(t, 200, "")
		if got := claimOf(rt2.str("access_token")); got != `{"plan":"team","seats":3}` {
			t.Errorf("after the CLI, the claim is %s", got)
		}

		evs := s.events("type=app_metadata_changed&user_id=" + id)
		if len(evs) != 3 || evs[0]["actor"] != "cli" || evs[2]["actor"] != "admin_key" {
			t.Errorf("app_metadata_changed events: %v", evs)
		}
	})
}

// TestAdminPatchAllOrNothing: an admin PATCH that changes the address and
// the password together voids pending links, ends every session and is
// audited per change; one with a refused field beside them changes
// nothing at all.
func TestAdminPatchAllOrNothing(t *testing.T) {
	t.Parallel()
	adminFlavours(t, func(t *testing.T, env map[string]string) {
		s := startServer(t, env)
		id := s.adminCreate("both@example.com")
		s.adminCreate("other@example.com")
		pair := s.login("both@example.com", goodPassword)
		path := "/admin/v1/users/" + id

		s.do("POST", "/v1/password/forgot", "", map[string]string{"email": "both@example.com"}).want(t, 202, "")
		link := linkToken(t, s.mailTo("both@example.com", 1))

		const next = "an entirely new admin-chosen passphrase"
		for _, bad := range []struct {
			body   map[string]any
			status int
			code   string
		}{
			{map[string]any{"email": "both.new@example.com", "password": next, "roles": []string{"Bad Role"}}, 400, "invalid_request"},
			{map[string]any{"email": "both.new@example.com", "password": next, "app_metadata": []int{}}, 400, "invalid_request"},
			{map[string]any{"email": "both.new@example.com", "password": next, "updated_at": "x"}, 400, "invalid_request"},
			{map[string]any{"email": "Other@example.com", "password": next}, 409, "email_taken"},
			// Checked against the new address: it holds the local part.
			{map[string]any{"email": "both.new@example.com", "password": "both.new-and-more"}, 422, "weak_password"},
		} {
			s.do("PATCH", path, testAdminKey, bad.body).want(t, bad.status, bad.code)
		}
		u := s.do("GET", path, testAdminKey, nil).want(t, 200, "")
		if u.str("email") != "both@example.com" || rawField(t, u, "roles") != `["user"]` || rawField(t, u, "app_metadata") != `{}` {
			t.Fatalf("a refused PATCH changed the user: %s", u.Raw)
		}
		s.do("GET", "/v1/me", pair.str("access_token"), nil).want(t, 200, "")

		s.do("PATCH", path, testAdminKey, map[string]any{"email": "Both.New@Example.com", "password": next}).want(t, 200, "")
		s.do("GET", "/v1/me", pair.str("access_token"), nil).want(t, 401, "invalid_token")
		s.do("POST", "/v1/password/reset", "", map[string]string{"token": link, "password": "the attacker's own passphrase"}).want(t, 400, "invalid_token")
		s.do("POST", "/v1/login", "", map[string]string{"email": "both@example.com", "password": goodPassword}).want(t, 401, "invalid_credentials")
		s.login("both.new@example.com", next)
		if text, _ := s.mailTo("both@example.com", 2)["text"].(string); !strings.Contains(text, "Both.New@Example.com") {
			t.Errorf("the old address's notice does not name the new one:\n%s", text)
		}
		s.mailTo("Both.New@Example.com", 1) // the password notice goes to the new address
		for _, typ := range []string{"email_changed", "password_changed"} {
			if evs := s.events("type=" + typ + "&user_id=" + id); len(evs) != 1 || evs[0]["actor"] != "admin_key" {
				t.Errorf("%s events: %v", typ, evs)
			}
		}
	})
}
