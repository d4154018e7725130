package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/auth"
)

// userOf decodes a user object answered with status 200.
func userOf(t *testing.T, w *httptest.ResponseRecorder) map[string]json.RawMessage {
	t.Helper()
	if w.Code != 200 {
		t.Fatalf("status = %d, want 200 (body %s)", w.Code, w.Body)
	}
	var u map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &u); err != nil {
		t.Fatalf("user %s: %v", w.Body, err)
	}
	return u
}

// rawClaimsOf decodes an access token's payload (its signature is the
// service's business: the routes that accept it check it).
func rawClaimsOf(t *testing.T, at string) map[string]json.RawMessage {
	t.Helper()
	parts := strings.Split(at, ".")
	if len(parts) != 3 {
		t.Fatalf("access token %q is not a compact JWS", at)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]json.RawMessage
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func wantMeta(t *testing.T, what string, got json.RawMessage, want string) {
	t.Helper()
	if string(got) != want {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

// TestUserMetadata: PATCH /v1/me sets the caller's user_metadata, which
// every user object shows and no token carries; a bad value is a 400 or
// 422 that changes nothing.
func TestUserMetadata(t *testing.T) {
	e := newEnv(t, auth.Config{}, Config{AdminKey: adminKey})
	tk := tokens(t, e.call("POST", "/v1/signup", `{"email":"ada@example.com","password":"`+goodPassword+`"}`, ""), 201)
	wantMeta(t, "signup user_metadata", tk.User.UserMetadata, `{}`)
	wantMeta(t, "signup app_metadata", tk.User.AppMetadata, `{}`)
	at := tk.AccessToken
	me := userOf(t, e.call("GET", "/v1/me", "", at))
	wantMeta(t, "GET /v1/me user_metadata", me["user_metadata"], `{}`)
	wantMeta(t, "GET /v1/me app_metadata", me["app_metadata"], `{}`)

	// Set: the answer and every later read show the stored form; fields
	// only admins set are ignored here, as everywhere outside the admin API.
	const set = `{"user_metadata": {"theme": "dark", "langs": ["en", "fr"], "html": "<b>"},
		"app_metadata": {"plan": "free-upgrade"}, "roles": ["admin"]}`
	const stored = `{"theme":"dark","langs":["en","fr"],"html":"\u003cb\u003e"}`
	u := userOf(t, e.call("PATCH", "/v1/me", set, at))
	wantMeta(t, "PATCH answer user_metadata", u["user_metadata"], stored)
	wantMeta(t, "PATCH answer app_metadata", u["app_metadata"], `{}`)
	wantMeta(t, "PATCH answer roles", u["roles"], `["user"]`)
	wantMeta(t, "GET /v1/me after PATCH", userOf(t, e.call("GET", "/v1/me", "", at))["user_metadata"], stored)

	for _, tt := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"missing", `{}`, 400, "invalid_request"},
		{"misspelt", `{"usermetadata":{}}`, 400, "invalid_request"},
		{"null", `{"user_metadata":null}`, 400, "invalid_request"},
		{"array", `{"user_metadata":[1]}`, 400, "invalid_request"},
		{"string", `{"user_metadata":"{}"}`, 400, "invalid_request"},
		{"number", `{"user_metadata":1}`, 400, "invalid_request"},
		{"malformed", `{"user_metadata":{"a":}}`, 400, "invalid_request"},
		{"over 4 KiB", `{"user_metadata":{"k":"` + strings.Repeat("x", auth.MaxMetadataSize) + `"}}`, 422, "invalid_metadata"},
		{"over 4 KiB once escaped", `{"user_metadata":{"k":"` + strings.Repeat("&", 700) + `"}}`, 422, "invalid_metadata"},
		{"too deep", `{"user_metadata":` + strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40) + `}`, 422, "invalid_metadata"},
		{"repeated key", `{"user_metadata":{"a":1,"a":2}}`, 422, "invalid_metadata"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := wantProblem(t, e.call("PATCH", "/v1/me", tt.body, at), tt.status, tt.code)
			if tt.name != "malformed" && !strings.Contains(p.Detail, "user_metadata") {
				t.Errorf("detail %q does not name the field", p.Detail)
			}
			wantMeta(t, "user_metadata after a refused PATCH", userOf(t, e.call("GET", "/v1/me", "", at))["user_metadata"], stored)
		})
	}
	wantProblem(t, e.call("PATCH", "/v1/me", `{"user_metadata":{}}`, ""), 401, "invalid_token")

	// Not in tokens, and a refresh answers it in the user object.
	rt := tokens(t, e.call("POST", "/v1/token/refresh", `{"refresh_token":"`+tk.RefreshToken+`"}`, ""), 200)
	wantMeta(t, "refresh answer user_metadata", rt.User.UserMetadata, stored)
	c := rawClaimsOf(t, rt.AccessToken)
	if _, ok := c["user_metadata"]; ok {
		t.Errorf("the access token carries user_metadata: %s", c["user_metadata"])
	}
	wantMeta(t, "app_metadata claim", c["app_metadata"], `{}`)

	// Cleared with {}; the audit log has each change, never the content.
	wantMeta(t, "cleared", userOf(t, e.call("PATCH", "/v1/me", `{"user_metadata":{}}`, rt.AccessToken))["user_metadata"], `{}`)
	w := e.call("GET", "/admin/v1/audit?type=user_metadata_changed", "", adminKey)
	if w.Code != 200 || strings.Count(w.Body.String(), `"user_metadata_changed"`) != 2 || strings.Contains(w.Body.String(), "dark") {
		t.Errorf("audit: %d %s", w.Code, w.Body)
	}
}

// TestAdminAppMetadata: an admin's app_metadata shows in the admin user
// object at once and in the user's next refreshed access token; PATCH is
// strict and all-or-nothing.
func TestAdminAppMetadata(t *testing.T) {
	e := newEnv(t, auth.Config{}, Config{AdminKey: adminKey})
	tk := tokens(t, e.call("POST", "/v1/signup", `{"email":"bob@example.com","password":"`+goodPassword+`"}`, ""), 201)
	path := "/admin/v1/users/" + tk.User.ID
	wantMeta(t, "initial claim", rawClaimsOf(t, tk.AccessToken)["app_metadata"], `{}`)

	const meta = `{"plan":"pro","seats":25,"features":{"sso":true}}`
	u := userOf(t, e.call("PATCH", path, `{"app_metadata":`+meta+`}`, adminKey))
	wantMeta(t, "admin answer app_metadata", u["app_metadata"], meta)
	wantMeta(t, "admin GET app_metadata", userOf(t, e.call("GET", path, "", adminKey))["app_metadata"], meta)
	wantMeta(t, "GET /v1/me app_metadata", userOf(t, e.call("GET", "/v1/me", "", tk.AccessToken))["app_metadata"], meta)
	// The token issued before keeps what it was signed with; it still works.
	wantMeta(t, "old token's claim", rawClaimsOf(t, tk.AccessToken)["app_metadata"], `{}`)

	rt := tokens(t, e.call("POST", "/v1/token/refresh", `{"refresh_token":"`+tk.RefreshToken+`"}`, ""), 200)
	wantMeta(t, "refreshed claim", rawClaimsOf(t, rt.AccessToken)["app_metadata"], meta)
	wantMeta(t, "refresh answer app_metadata", rt.User.AppMetadata, meta)
	userOf(t, e.call("GET", "/v1/me", "", rt.AccessToken))
	lt := tokens(t, e.call("POST", "/v1/login", `{"email":"bob@example.com","password":"`+goodPassword+`"}`, ""), 200)
	wantMeta(t, "login claim", rawClaimsOf(t, lt.AccessToken)["app_metadata"], meta)

	// Refusals change nothing, not even the fields beside the bad one.
	for _, tt := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"null", `{"app_metadata":null}`, 400, "invalid_request"},
		{"array", `{"app_metadata":[]}`, 400, "invalid_request"},
		{"over 4 KiB", `{"app_metadata":{"k":"` + strings.Repeat("x", auth.MaxMetadataSize) + `"}}`, 422, "invalid_metadata"},
		{"repeated key", `{"email":"bob2@example.com","app_metadata":{"a":1,"a":1}}`, 422, "invalid_metadata"},
		{"bad metadata beside an email", `{"email":"bob2@example.com","app_metadata":"x"}`, 400, "invalid_request"},
		{"bad role beside an email", `{"email":"bob2@example.com","roles":["Not A Role"]}`, 400, "invalid_request"},
		{"weak password beside metadata", `{"app_metadata":{},"password":"short"}`, 422, "weak_password"},
		{"user_metadata is the user's", `{"user_metadata":{}}`, 400, "invalid_request"},
		{"read-only", `{"id":"x","app_metadata":{}}`, 400, "invalid_request"},
		{"unknown", `{"appMetadata":{}}`, 400, "invalid_request"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, e.call("PATCH", path, tt.body, adminKey), tt.status, tt.code)
			u := userOf(t, e.call("GET", path, "", adminKey))
			wantMeta(t, "app_metadata after a refused PATCH", u["app_metadata"], meta)
			wantMeta(t, "email after a refused PATCH", u["email"], `"bob@example.com"`)
			wantMeta(t, "roles after a refused PATCH", u["roles"], `["user"]`)
		})
	}
	// The largest app_metadata still makes a token that latch (and any
	// verifier with the default 8 KiB limit) accepts, on the largest key.
	big := `{"k":"` + strings.Repeat("\u2028", (auth.MaxMetadataSize-8)/6) + `"}`
	userOf(t, e.call("PATCH", path, `{"app_metadata":`+big+`}`, adminKey))
	bt := tokens(t, e.call("POST", "/v1/login", `{"email":"bob@example.com","password":"`+goodPassword+`"}`, ""), 200)
	if n := len(rawClaimsOf(t, bt.AccessToken)["app_metadata"]); n < auth.MaxMetadataSize-8 || len(bt.AccessToken) > 8192-342 {
		t.Errorf("app_metadata claim of %d bytes in a token of %d", n, len(bt.AccessToken))
	}
	userOf(t, e.call("GET", "/v1/me", "", bt.AccessToken))
	userOf(t, e.call("PATCH", path, `{"app_metadata":`+meta+`}`, adminKey))

	// Setting the same value again is no change (no event); {} clears:
	// four changes in all (meta, big, meta, {}).
	userOf(t, e.call("PATCH", path, `{"app_metadata":`+meta+`}`, adminKey))
	wantMeta(t, "cleared", userOf(t, e.call("PATCH", path, `{"app_metadata":{}}`, adminKey))["app_metadata"], `{}`)
	w := e.call("GET", "/admin/v1/audit?type=app_metadata_changed&user_id="+tk.User.ID, "", adminKey)
	var page struct {
		Events []struct {
			Actor   string
			Details map[string]string
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil || len(page.Events) != 4 ||
		page.Events[0].Actor != "admin_key" || page.Events[3].Details["bytes"] != strconv.Itoa(len(meta)) {
		t.Errorf("audit: %v %s", err, w.Body)
	}
}

// TestAdminPatchVoidsLinks: an admin's change of the address or the
// password voids every pending emailed link of the account.
func TestAdminPatchVoidsLinks(t *testing.T) {
	e := newEnv(t, auth.Config{}, Config{AdminKey: adminKey})
	tk := tokens(t, e.call("POST", "/v1/signup", `{"email":"cy@example.com","password":"`+goodPassword+`"}`, ""), 201)
	path := "/admin/v1/users/" + tk.User.ID
	for i, patch := range []string{`{"email":"cy2@example.com"}`, `{"password":"a fresh admin-set passphrase"}`} {
		addr := []string{"cy@example.com", "cy2@example.com"}[i]
		if w := e.call("POST", "/admin/v1/users/"+tk.User.ID+"/reset", "{}", adminKey); w.Code != 202 {
			t.Fatalf("admin reset: %d %s", w.Code, w.Body)
		}
		link := e.mailedToken(t, addr)
		userOf(t, e.call("PATCH", path, patch, adminKey))
		wantProblem(t, e.call("POST", "/v1/password/reset", `{"token":"`+link+`","password":"the attacker's passphrase"}`, ""), 400, "invalid_token")
	}
	tokens(t, e.call("POST", "/v1/login", `{"email":"cy2@example.com","password":"a fresh admin-set passphrase"}`, ""), 200)
	wantProblem(t, e.call("GET", "/v1/me", "", tk.AccessToken), 401, "invalid_token")
}
