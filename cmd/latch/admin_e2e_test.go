package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

const testAdminKey = "test-admin-key_0123456789abcdefghijklmnop"

// startAdmin runs latch with an admin key and without per-IP limits (these
// tests log in often).
func startAdmin(t *testing.T) *server {
	t.Helper()
	return startServer(t, map[string]string{
		"LATCH_ADMIN_KEY":   testAdminKey,
		"LATCH_RATE_LIMITS": "false",
	})
}

// login logs addr in and returns the answer.
func (s *server) login(addr, pw string) *response {
	s.t.Helper()
	return s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": pw}).want(s.t, 200, "")
}

// adminCreate creates a confirmed user through the admin API and returns
// its id.
func (s *server) adminCreate(addr string, roles ...string) string {
	s.t.Helper()
	body := map[string]any{"email": addr, "password": goodPassword, "email_confirmed": true}
	if roles != nil {
		body["roles"] = roles
	}
	r := s.do("POST", "/admin/v1/users", testAdminKey, body).want(s.t, 201, "")
	return r.str("id")
}

// cli runs a latch command against the server's database, as an operator
// on the same machine would.
func (s *server) cli(args ...string) (string, error) {
	s.t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return s.env[k] }, &out, &errOut)
	if err != nil {
		return out.String() + errOut.String(), err
	}
	return out.String(), nil
}

// events returns the audit events of the admin API for query.
func (s *server) events(query string) []map[string]any {
	s.t.Helper()
	r := s.do("GET", "/admin/v1/audit?"+query, testAdminKey, nil).want(s.t, 200, "")
	var out []map[string]any
	for _, e := range r.Body["events"].([]any) {
		out = append(out, e.(map[string]any))
	}
	return out
}

func roleList(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// TestAdminRoutesRefuseNonAdmins checks every admin route: no credential
// and a bad one answer 401 invalid_token with a challenge, a user's valid
// token 403 forbidden; the key and an admin's token get through.
func TestAdminRoutesRefuseNonAdmins(t *testing.T) {
	t.Parallel()
	s := startAdmin(t)
	uid := s.adminCreate("plain@example.com")
	s.adminCreate("boss@example.com", "admin")
	userTok := s.login("plain@example.com", goodPassword).str("access_token")
	adminTok := s.login("boss@example.com", goodPassword).str("access_token")

	routes := []struct {
		method, path string
		body         any
		ok           int // status for an admin
	}{
		{"GET", "/admin/v1/users", nil, 200},
		{"POST", "/admin/v1/users", map[string]any{"email": "new@example.com", "password": goodPassword}, 201},
		{"GET", "/admin/v1/users/" + uid, nil, 200},
		{"PATCH", "/admin/v1/users/" + uid, map[string]any{"email_confirmed": true}, 200},
		{"GET", "/admin/v1/users/" + uid + "/sessions", nil, 200},
		{"GET", "/admin/v1/audit", nil, 200},
		{"POST", "/admin/v1/users/" + uid + "/logout", nil, 204},
		{"DELETE", "/admin/v1/users/" + uid, nil, 204},
	}
	for _, rt := range routes {
		name := rt.method + " " + rt.path
		// Refusals first: nothing may happen before the checks.
		r := s.do(rt.method, rt.path, "", rt.body).want(t, 401, "invalid_token")
		if got := r.Header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
			t.Errorf("%s without credentials: WWW-Authenticate %q", name, got)
		}
		for _, bad := range []string{"wrong-key", testAdminKey + "x", "eyJhbGciOiJFZERTQSJ9.e30.c2ln"} {
			r = s.do(rt.method, rt.path, bad, rt.body)
			if r.Status != 401 || r.str("code") != "invalid_token" || r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s with a bad credential: got %d %s, want 401 invalid_token with a challenge", name, r.Status, r.Raw)
			}
		}
		r = s.do(rt.method, rt.path, userTok, rt.body)
		if r.Status != 403 || r.str("code") != "forbidden" {
			t.Errorf("%s with a user's token: got %d %s, want 403 forbidden", name, r.Status, r.Raw)
		}
	}
	// The user's token still works where it belongs.
	s.do("GET", "/v1/me", userTok, nil).want(t, 200, "")

	for i, rt := range routes {
		cred := testAdminKey
		if i%2 == 1 {
			cred = adminTok
		}
		r := s.do(rt.method, rt.path, cred, rt.body)
		if r.Status != rt.ok {
			t.Errorf("%s %s as admin: got %d %s, want %d", rt.method, rt.path, r.Status, r.Raw, rt.ok)
		}
		if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("%s %s: Cache-Control %q, want no-store", rt.method, rt.path, cc)
		}
	}
	// Unknown paths and methods under /admin/v1/ behave like elsewhere.
	s.do("GET", "/admin/v1/nothing", testAdminKey, nil).want(t, 404, "not_found")
	r := s.do("PUT", "/admin/v1/users", testAdminKey, nil).want(t, 405, "method_not_allowed")
	if r.Header.Get("Allow") == "" {
		t.Errorf("405 without Allow")
	}
}

// TestAdminKeyDisabledWithoutConfig: with no LATCH_ADMIN_KEY no key works.
func TestAdminKeyDisabledWithoutConfig(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	s.do("GET", "/admin/v1/users", testAdminKey, nil).want(t, 401, "invalid_token")
}

func TestAdminUsersCRUD(t *testing.T) {
	t.Parallel()
	s := startAdmin(t)
	// Validation.
	for _, tc := range []struct {
		body       map[string]any
		status     int
		code, name string
	}{
		{map[string]any{"email": "x@example.com"}, 400, "invalid_request", "no password"},
		{map[string]any{"email": "not-an-address", "password": goodPassword}, 422, "invalid_email", "bad email"},
		{map[string]any{"email": "x@example.com", "password": "password"}, 422, "weak_password", "common password"},
		{map[string]any{"email": "x@example.com", "password": goodPassword, "roles": []string{"Admin"}}, 400, "invalid_request", "upper-case role"},
		{map[string]any{"email": "x@example.com", "password": goodPassword, "roles": []string{"a b"}}, 400, "invalid_request", "role with a space"},
		{map[string]any{"email": "x@example.com", "password": goodPassword, "roles": "admin"}, 400, "invalid_request", "roles not a list"},
	} {
		r := s.do("POST", "/admin/v1/users", testAdminKey, tc.body)
		if r.Status != tc.status || r.str("code") != tc.code {
			t.Errorf("%s: got %d %s, want %d %s", tc.name, r.Status, r.Raw, tc.status, tc.code)
		}
	}
	var many []string
	for i := range 40 {
		many = append(many, fmt.Sprintf("r%d", i))
	}
	s.do("POST", "/admin/v1/users", testAdminKey, map[string]any{"email": "x@example.com", "password": goodPassword, "roles": many}).want(t, 400, "invalid_request")

	// Create: roles validated and deduplicated; the admin user object.
	r := s.do("POST", "/admin/v1/users", testAdminKey, map[string]any{
		"email": "Grace@Example.com", "password": goodPassword, "roles": []string{"user", "support", "user"},
	}).want(t, 201, "")
	id := r.str("id")
	if got := roleList(r.Body["roles"]); !slices.Equal(got, []string{"user", "support"}) {
		t.Errorf("roles %v, want [user support]", got)
	}
	if r.Body["disabled"] != false || r.Body["email_confirmed"] != false || r.str("email") != "Grace@Example.com" {
		t.Errorf("created user %s", r.Raw)
	}
	if loc := r.Header.Get("Location"); loc != "/admin/v1/users/"+id {
		t.Errorf("Location %q", loc)
	}
	s.do("POST", "/admin/v1/users", testAdminKey, map[string]any{"email": "grace@example.COM", "password": goodPassword}).want(t, 409, "email_taken")

	// Unconfirmed: login needs confirmation; the admin can set it.
	s.do("POST", "/v1/login", "", map[string]string{"email": "grace@example.com", "password": goodPassword}).want(t, 403, "email_not_confirmed")
	r = s.do("PATCH", "/admin/v1/users/"+id, testAdminKey, map[string]any{"email_confirmed": true}).want(t, 200, "")
	if r.Body["email_confirmed"] != true {
		t.Errorf("patch email_confirmed: %s", r.Raw)
	}
	login := s.login("grace@example.com", goodPassword)
	// email_confirmed does not end sessions.
	s.do("GET", "/v1/me", login.str("access_token"), nil).want(t, 200, "")

	got := s.do("GET", "/admin/v1/users/"+id, testAdminKey, nil).want(t, 200, "")
	if got.str("id") != id || got.Body["disabled"] != false || got.str("updated_at") == "" {
		t.Errorf("get %s", got.Raw)
	}
	sess := s.do("GET", "/admin/v1/users/"+id+"/sessions", testAdminKey, nil).want(t, 200, "")
	if list := sess.Body["sessions"].([]any); len(list) != 1 || list[0].(map[string]any)["user_agent"] == "" {
		t.Errorf("sessions %s", sess.Raw)
	}

	// Bad PATCH bodies.
	s.do("PATCH", "/admin/v1/users/"+id, testAdminKey, map[string]any{"disabled": "yes"}).want(t, 400, "invalid_request")
	s.do("PATCH", "/admin/v1/users/"+id, testAdminKey, "[1]").want(t, 400, "invalid_request")

	// Unknown ids are 404 on every user route.
	for _, rt := range []struct{ method, path string }{
		{"GET", "/admin/v1/users/nope"},
		{"PATCH", "/admin/v1/users/nope"},
		{"DELETE", "/admin/v1/users/nope"},
		{"GET", "/admin/v1/users/nope/sessions"},
		{"POST", "/admin/v1/users/nope/logout"},
	} {
		var body any
		if rt.method == "PATCH" {
			body = map[string]any{"disabled": true}
		}
		s.do(rt.method, rt.path, testAdminKey, body).want(t, 404, "not_found")
	}

	// Delete: the user's tokens die, the address is free again.
	s.do("DELETE", "/admin/v1/users/"+id, testAdminKey, nil).want(t, 204, "")
	s.do("GET", "/admin/v1/users/"+id, testAdminKey, nil).want(t, 404, "not_found")
	s.do("GET", "/v1/me", login.str("access_token"), nil).want(t, 401, "invalid_token")
	s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": login.str("refresh_token")}).want(t, 401, "invalid_token")
	s.do("POST", "/v1/login", "", map[string]string{"email": "grace@example.com", "password": goodPassword}).want(t, 401, "invalid_credentials")
	s.adminCreate("grace@example.com")

	// The audit log tells who did what, from where.
	evs := s.events("user_id=" + url.QueryEscape(id))
	var types []string
	for _, e := range evs {
		types = append(types, e["type"].(string))
		if e["type"] != "login" && e["actor"] != "admin_key" {
			t.Errorf("event %v: actor %v, want admin_key", e["type"], e["actor"])
		}
		if e["ip"] != "127.0.0.1" || e["user_agent"] == "" {
			t.Errorf("event %v without ip/user agent: %v", e["type"], e)
		}
	}
	if want := []string{"user_deleted", "login", "email_confirmed_set", "user_created"}; !slices.Equal(types, want) {
		t.Errorf("audit of the user: %v, want %v (newest first)", types, want)
	}
}

func TestAdminListUsersPaging(t *testing.T) {
	t.Parallel()
	s := startAdmin(t)
	var ids []string
	for i := range 7 {
		ids = append(ids, s.adminCreate(fmt.Sprintf("page%d@example.com", i)))
	}
	s.adminCreate("other@example.org")

	// Pages of 3 follow (created_at, id) order, with no gaps or repeats.
	var seen []string
	cursor := ""
	pages := 0
	for {
		q := "email=PAGE&limit=3"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		r := s.do("GET", "/admin/v1/users?"+q, testAdminKey, nil).want(t, 200, "")
		pages++
		for _, u := range r.Body["users"].([]any) {
			seen = append(seen, u.(map[string]any)["id"].(string))
		}
		cursor = r.str("next_cursor")
		if cursor == "" {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if pages != 3 || !slices.Equal(seen, ids) {
		t.Errorf("paged %d pages: %v, want 3 pages of %v", pages, seen, ids)
	}
	// An exact address finds that user; the prefix is literal ('_' and
	// '%' are no wildcards).
	r := s.do("GET", "/admin/v1/users?email=Other@Example.org", testAdminKey, nil).want(t, 200, "")
	if n := len(r.Body["users"].([]any)); n != 1 || r.str("next_cursor") != "" {
		t.Errorf("exact email: %s", r.Raw)
	}
	r = s.do("GET", "/admin/v1/users?email=page_%25", testAdminKey, nil).want(t, 200, "")
	if n := len(r.Body["users"].([]any)); n != 0 {
		t.Errorf("wildcards matched: %s", r.Raw)
	}
	// Default limit 50, at most 200; bad values and cursors are 400.
	r = s.do("GET", "/admin/v1/users?limit=1000", testAdminKey, nil).want(t, 200, "")
	if n := len(r.Body["users"].([]any)); n != 8 {
		t.Errorf("limit=1000 answered %d users, want all 8", n)
	}
	for _, q := range []string{"limit=abc", "limit=0", "limit=-1", "cursor=garbage", "cursor=" + url.QueryEscape("dTE6eDp5")} {
		s.do("GET", "/admin/v1/users?"+q, testAdminKey, nil).want(t, 400, "invalid_request")
	}
}

// TestAdminRoleToken: an admin role in the token opens the admin API; a
// role change ends the user's sessions, so a demoted admin (themself
// included) loses access at once.
func TestAdminRoleToken(t *testing.T) {
	t.Parallel()
	s := startAdmin(t)
	id := s.adminCreate("root@example.com")
	before := s.login("root@example.com", goodPassword)
	s.do("GET", "/admin/v1/users", before.str("access_token"), nil).want(t, 403, "forbidden")

	// Promotion ends the old sessions; the next login carries the role.
	r := s.do("PATCH", "/admin/v1/users/"+id, testAdminKey, map[string]any{"roles": []string{"user", "admin"}}).want(t, 200, "")
	if got := roleList(r.Body["roles"]); !slices.Equal(got, []string{"user", "admin"}) {
		t.Fatalf("roles %v", got)
	}
	s.do("GET", "/v1/me", before.str("access_token"), nil).want(t, 401, "invalid_token")
	s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": before.str("refresh_token")}).want(t, 401, "invalid_token")

	admin := s.login("root@example.com", goodPassword)
	var claims map[string]any
	decodeSeg(t, strings.Split(admin.str("access_token"), ".")[1], &claims)
	if got := roleList(claims["roles"]); !slices.Equal(got, []string{"user", "admin"}) {
		t.Fatalf("roles claim %v", got)
	}
	at := admin.str("access_token")
	other := s.do("POST", "/admin/v1/users", at, map[string]any{"email": "minion@example.com", "password": goodPassword}).want(t, 201, "")
	// A refresh re-reads roles: still admin.
	ref := s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": admin.str("refresh_token")}).want(t, 200, "")
	s.do("GET", "/admin/v1/users/"+other.str("id"), ref.str("access_token"), nil).want(t, 200, "")

	// Actions by token name the admin as the actor.
	evs := s.events("type=user_created&user_id=" + other.str("id"))
	if len(evs) != 1 || evs[0]["actor"] != id {
		t.Fatalf("user_created events %v, want actor %s", evs, id)
	}

	// The admin demotes themself: the very next call is refused, and a
	// fresh login is no admin any more.
	at = ref.str("access_token")
	s.do("PATCH", "/admin/v1/users/"+id, at, map[string]any{"roles": []string{"user"}}).want(t, 200, "")
	s.do("GET", "/admin/v1/users", at, nil).want(t, 401, "invalid_token")
	s.do("GET", "/v1/me", at, nil).want(t, 401, "invalid_token")
	again := s.login("root@example.com", goodPassword)
	s.do("GET", "/admin/v1/users", again.str("access_token"), nil).want(t, 403, "forbidden")

	evs = s.events("type=role_changed&user_id=" + id)
	if len(evs) != 2 {
		t.Fatalf("role_changed events %v", evs)
	}
	d := evs[0]["details"].(map[string]any)
	if evs[0]["actor"] != id || d["from"] != "user,admin" || d["to"] != "user" || d["sessions_ended"] != "1" {
		t.Errorf("self-demotion event %v", evs[0])
	}
}

// TestAdminDisable: a disabled user is cut off at once, cannot refresh,
// and their right password answers 403 account_disabled (a wrong one still
// 401 invalid_credentials); enabling lets them in again.
func TestAdminDisable(t *testing.T) {
	t.Parallel()
	s := startAdmin(t)
	id := s.adminCreate("dis@example.com")
	l1 := s.login("dis@example.com", goodPassword)
	l2 := s.login("dis@example.com", goodPassword)

	r := s.do("PATCH", "/admin/v1/users/"+id, testAdminKey, map[string]any{"disabled": true}).want(t, 200, "")
	if r.Body["disabled"] != true {
		t.Fatalf("patch answer %s", r.Raw)
	}
	for _, l := range []*response{l1, l2} {
		s.do("GET", "/v1/me", l.str("access_token"), nil).want(t, 401, "invalid_token")
		if r := s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": l.str("refresh_token")}); r.Status != 401 && r.Status != 403 {
			t.Errorf("refresh of a disabled user: %d %s", r.Status, r.Raw)
		}
	}
	s.do("POST", "/v1/login", "", map[string]string{"email": "dis@example.com", "password": goodPassword}).want(t, 403, "account_disabled")
	s.do("POST", "/v1/login", "", map[string]string{"email": "dis@example.com", "password": "wrong " + goodPassword}).want(t, 401, "invalid_credentials")
	if list := s.do("GET", "/admin/v1/users/"+id+"/sessions", testAdminKey, nil).want(t, 200, "").Body["sessions"].([]any); len(list) != 0 {
		t.Errorf("sessions after disable: %v", list)
	}

	s.do("PATCH", "/admin/v1/users/"+id, testAdminKey, map[string]any{"disabled": false}).want(t, 200, "")
	l3 := s.login("dis@example.com", goodPassword)
	s.do("GET", "/v1/me", l3.str("access_token"), nil).want(t, 200, "")

	var types []string
	for _, e := range s.events("user_id=" + id) {
		types = append(types, e["type"].(string))
	}
	want := []string{"login", "enabled", "login_failed", "disabled", "login", "login", "user_created"}
	if !slices.Equal(types, want) {
		t.Errorf("events %v, want %v", types, want)
	}
}

// TestAdminForceLogout: every session ends and its access tokens are
// refused at once.
func TestAdminForceLogout(t *testing.T) {
	t.Parallel()
	s := startAdmin(t)
	id := s.adminCreate("out@example.com")
	l1 := s.login("out@example.com", goodPassword)
	l2 := s.login("out@example.com", goodPassword)
	if list := s.do("GET", "/admin/v1/users/"+id+"/sessions", testAdminKey, nil).want(t, 200, "").Body["sessions"].([]any); len(list) != 2 {
		t.Fatalf("want 2 sessions, got %v", list)
	}
	s.do("POST", "/admin/v1/users/"+id+"/logout", testAdminKey, nil).want(t, 204, "")
	for _, l := range []*response{l1, l2} {
		s.do("GET", "/v1/me", l.str("access_token"), nil).want(t, 401, "invalid_token")
		s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": l.str("refresh_token")}).want(t, 401, "invalid_token")
	}
	if list := s.do("GET", "/admin/v1/users/"+id+"/sessions", testAdminKey, nil).want(t, 200, "").Body["sessions"].([]any); len(list) != 0 {
		t.Errorf("sessions after force logout: %v", list)
	}
	// Logging in again works.
	s.do("GET", "/v1/me", s.login("out@example.com", goodPassword).str("access_token"), nil).want(t, 200, "")
	evs := s.events("type=force_logout")
	if len(evs) != 1 || evs[0]["user_id"] != id || evs[0]["details"].(map[string]any)["sessions_ended"] != "2" {
		t.Errorf("force_logout events %v", evs)
	}
}

// TestAuditLog: every security event lands in the audit table with its IP
// and user agent, queryable by user, type and time, page by page; no
// secret is ever stored.
func TestAuditLog(t *testing.T) {
	t.Parallel()
	s := startAdmin(t)
	id := s.adminCreate("aud@example.com")
	hdr := map[string]string{"User-Agent": "audit-test/1.0"}
	for range 3 {
		s.doWith("POST", "/v1/login", "", map[string]string{"email": "aud@example.com", "password": "not the " + goodPassword}, hdr).want(t, 401, "invalid_credentials")
	}
	// An unknown address is recorded without a user.
	s.doWith("POST", "/v1/login", "", map[string]string{"email": "ghost@example.com", "password": goodPassword}, hdr).want(t, 401, "invalid_credentials")
	login := s.login("aud@example.com", goodPassword)

	failed := s.events("type=login_failed")
	if len(failed) != 4 {
		t.Fatalf("login_failed events: %v", failed)
	}
	if failed[0]["user_id"] != "" || failed[0]["details"].(map[string]any)["reason"] != "unknown_email" {
		t.Errorf("unknown-email event %v", failed[0])
	}
	for _, e := range failed[1:] {
		if e["user_id"] != id || e["ip"] != "127.0.0.1" || e["user_agent"] != "audit-test/1.0" {
			t.Errorf("login_failed event %v", e)
		}
		if _, err := time.Parse(time.RFC3339, e["created_at"].(string)); err != nil {
			t.Errorf("created_at: %v", err)
		}
	}
	ok := s.events("type=login&user_id=" + id)
	if len(ok) != 1 || ok[0]["session_id"] == "" {
		t.Errorf("login events %v", ok)
	}

	// Paging, newest first, with no gaps.
	all := s.events("user_id=" + id)
	var paged []any
	cursor := ""
	for {
		q := "limit=2&user_id=" + id
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		r := s.do("GET", "/admin/v1/audit?"+q, testAdminKey, nil).want(t, 200, "")
		for _, e := range r.Body["events"].([]any) {
			paged = append(paged, e.(map[string]any)["id"])
		}
		if cursor = r.str("next_cursor"); cursor == "" {
			break
		}
	}
	var allIDs []any
	for _, e := range all {
		allIDs = append(allIDs, e["id"])
	}
	if len(all) != 5 || fmt.Sprint(paged) != fmt.Sprint(allIDs) {
		t.Errorf("paged %v, want %v", paged, allIDs)
	}
	// Time filters.
	future := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if evs := s.events("since=" + future); len(evs) != 0 {
		t.Errorf("since the future: %v", evs)
	}
	if evs := s.events("until=" + future + "&user_id=" + id); len(evs) != 5 {
		t.Errorf("until the future: %d events", len(evs))
	}
	s.do("GET", "/admin/v1/audit?since=yesterday", testAdminKey, nil).want(t, 400, "invalid_request")
	s.do("GET", "/admin/v1/audit?cursor=xyz", testAdminKey, nil).want(t, 400, "invalid_request")

	// No password, hash or token is in the audit log.
	raw := s.do("GET", "/admin/v1/audit?limit=200", testAdminKey, nil).want(t, 200, "").Raw
	for _, secret := range []string{goodPassword, "not the", login.str("access_token"), login.str("refresh_token"), "$argon2id$"} {
		if strings.Contains(raw, secret) {
			t.Errorf("audit log contains a secret %q", secret)
		}
	}
	// The CLI reads the same log.
	out, err := s.cli("audit", "--user", "aud@example.com", "--type", "login_failed", "--json")
	if err != nil {
		t.Fatalf("latch audit: %v\n%s", err, out)
	}
	if n := strings.Count(out, `"type": "login_failed"`); n != 3 {
		t.Errorf("latch audit --user --type: %d events\n%s", n, out)
	}
}

// TestAdminPathsKeepNoAccountInvisible: accounts created by admins answer
// the public API exactly like signed-up ones.
func TestAdminPathsKeepNoAccountInvisible(t *testing.T) {
	t.Parallel()
	s := startAdmin(t)
	s.adminCreate("made@example.com")
	known := s.do("POST", "/v1/signup", "", map[string]string{"email": "made@example.com", "password": goodPassword}).want(t, 202, "")
	unknown := s.do("POST", "/v1/signup", "", map[string]string{"email": "fresh@example.com", "password": goodPassword}).want(t, 202, "")
	if known.Raw != unknown.Raw {
		t.Errorf("signup answers differ: %s vs %s", known.Raw, unknown.Raw)
	}
	a := s.do("POST", "/v1/password/forgot", "", map[string]string{"email": "made@example.com"}).want(t, 202, "")
	b := s.do("POST", "/v1/password/forgot", "", map[string]string{"email": "nobody@example.com"}).want(t, 202, "")
	if a.Raw != b.Raw {
		t.Errorf("forgot answers differ: %s vs %s", a.Raw, b.Raw)
	}
}
