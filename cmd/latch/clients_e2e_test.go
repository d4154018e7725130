package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// tokenForm posts form to /oauth/token, with HTTP Basic client
// credentials when id is not empty, and returns the status and JSON body.
func (s *server) tokenForm(form url.Values, id, secret string) (int, map[string]any) {
	s.t.Helper()
	req, err := http.NewRequest("POST", s.URL+"/oauth/token", strings.NewReader(form.Encode()))
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
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	if resp.StatusCode >= 500 {
		s.t.Errorf("/oauth/token answered %d: %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, body
}

// registerClient registers a client through the admin API and returns the
// answer.
func (s *server) registerClient(body map[string]any) *response {
	s.t.Helper()
	return s.do("POST", "/admin/v1/clients", testAdminKey, body).want(s.t, 201, "")
}

// TestAdminClients: the admin API registers, lists, shows, changes and
// deletes clients; a confidential client's secret is shown once and works
// at the token endpoint, where each client may use only its grant types.
func TestAdminClients(t *testing.T) {
	t.Parallel()
	s := startAdmin(t)
	addr := "owner@example.com"
	s.adminCreate(addr)

	conf := s.registerClient(map[string]any{
		"name": "Billing", "type": "confidential",
		"redirect_uris":             []string{"https://billing.example.com/cb"},
		"post_logout_redirect_uris": []string{"https://billing.example.com/"},
		"grant_types":               []string{"authorization_code", "refresh_token", "password"},
	})
	id, secret := conf.str("client_id"), conf.str("client_secret")
	if id == "" || len(secret) < 40 || conf.Header.Get("Location") != "/admin/v1/clients/"+id {
		t.Fatalf("create: %s (Location %q)", conf.Raw, conf.Header.Get("Location"))
	}
	pub := s.registerClient(map[string]any{
		"name": "SPA", "type": "public", "redirect_uris": []string{"http://127.0.0.1/cb", "https://spa.example.com/cb"},
	})
	pubID := pub.str("client_id")
	if _, ok := pub.Body["client_secret"]; ok {
		t.Fatalf("a public client got a secret: %s", pub.Raw)
	}
	if g := roleList(pub.Body["grant_types"]); !slices.Equal(g, []string{"authorization_code", "refresh_token"}) {
		t.Fatalf("default grant_types = %v", g)
	}

	// The secret is never shown again.
	got := s.do("GET", "/admin/v1/clients/"+id, testAdminKey, nil).want(t, 200, "")
	if strings.Contains(got.Raw, secret) || got.str("name") != "Billing" {
		t.Fatalf("GET: %s", got.Raw)
	}
	list := s.do("GET", "/admin/v1/clients", testAdminKey, nil).want(t, 200, "")
	if cs, _ := list.Body["clients"].([]any); len(cs) != 2 || strings.Contains(list.Raw, secret) {
		t.Fatalf("list: %s", list.Raw)
	}

	// Bad registrations are 400 and register nothing.
	for _, bad := range []map[string]any{
		{"name": "x", "type": "secretive"},
		{"name": "x", "type": "public"}, // authorization_code without a redirect URI
		{"name": "x", "type": "public", "redirect_uris": []string{"http://app.example.com/cb"}},
		{"name": "x", "type": "public", "redirect_uris": []string{"https://app.example.com/cb#frag"}},
		{"name": "x", "type": "public", "redirect_uris": []string{"myapp:/cb"}},
		{"name": "x", "type": "public", "grant_types": []string{"client_credentials"}},
		{"name": "x", "type": "public", "redirect_uri": "https://app.example.com/cb"},
		{"name": "", "type": "public"},
	} {
		s.do("POST", "/admin/v1/clients", testAdminKey, bad).want(t, 400, "invalid_request")
	}
	s.do("PATCH", "/admin/v1/clients/"+id, testAdminKey, map[string]any{"type": "public"}).want(t, 400, "invalid_request")
	s.do("GET", "/admin/v1/clients/nope", testAdminKey, nil).want(t, 404, "not_found")
	s.do("POST", "/admin/v1/clients", "", map[string]any{"name": "x", "type": "public"}).want(t, 401, "invalid_token")

	// The password grant: the confidential client lists it, with its secret.
	pw := url.Values{"grant_type": {"password"}, "username": {addr}, "password": {goodPassword}}
	if st, b := s.tokenForm(pw, id, secret); st != 200 || b["refresh_token"] == nil {
		t.Fatalf("password grant of a client listing it: %d %v", st, b)
	}
	if st, b := s.tokenForm(pw, id, "wrong-secret-0123456789"); st != 401 || b["error"] != "invalid_client" {
		t.Fatalf("wrong secret: %d %v", st, b)
	}
	if st, b := s.tokenForm(pw, id, ""); st != 401 || b["error"] != "invalid_client" {
		t.Fatalf("no secret: %d %v", st, b)
	}
	// The public client does not list it.
	pwPub := url.Values{"grant_type": {"password"}, "username": {addr}, "password": {goodPassword}, "client_id": {pubID}}
	if st, b := s.tokenForm(pwPub, "", ""); st != 400 || b["error"] != "unauthorized_client" {
		t.Fatalf("password grant of a client not listing it: %d %v", st, b)
	}
	// Without a client it works, as before registration existed.
	if st, _ := s.tokenForm(pw, "", ""); st != 200 {
		t.Fatalf("password grant without a client: %d", st)
	}
	// Introspection accepts the registered confidential client.
	intro, _ := http.NewRequest("POST", s.URL+"/oauth/introspect", strings.NewReader("token=x"))
	intro.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	intro.SetBasicAuth(id, secret)
	if resp, err := http.DefaultClient.Do(intro); err != nil || resp.StatusCode != 200 {
		t.Fatalf("introspection by a registered confidential client: %v %v", resp, err)
	}

	// PATCH replaces lists; dropping password refuses the grant.
	p := s.do("PATCH", "/admin/v1/clients/"+id, testAdminKey, map[string]any{
		"name": "Billing 2", "grant_types": []string{"authorization_code"},
	}).want(t, 200, "")
	if p.str("name") != "Billing 2" || !slices.Equal(roleList(p.Body["grant_types"]), []string{"authorization_code"}) {
		t.Fatalf("PATCH: %s", p.Raw)
	}
	if st, b := s.tokenForm(pw, id, secret); st != 400 || b["error"] != "unauthorized_client" {
		t.Fatalf("password grant after PATCH: %d %v", st, b)
	}

	// DELETE: gone, its secret no longer authenticates anything.
	s.do("DELETE", "/admin/v1/clients/"+id, testAdminKey, nil).want(t, 204, "")
	s.do("DELETE", "/admin/v1/clients/"+id, testAdminKey, nil).want(t, 404, "not_found")
	if st, b := s.tokenForm(pw, id, secret); st != 401 || b["error"] != "invalid_client" {
		t.Fatalf("deleted client: %d %v", st, b)
	}

	var types []string
	for _, e := range s.events("") {
		types = append(types, e["type"].(string))
	}
	for _, want := range []string{"client_created", "client_updated", "client_deleted"} {
		if !slices.Contains(types, want) {
			t.Errorf("audit events %v lack %s", types, want)
		}
	}
	if strings.Contains(s.logs.all(), secret) {
		t.Error("the client secret is in the log")
	}
}

// TestClientSecretRotation: an admin rotates a confidential client's
// secret over HTTP; the new one is shown once and works at once, the old
// one keeps working while the overlap asked for lasts, a rotation without
// one ends it at once, and a mistaken request changes nothing.
func TestClientSecretRotation(t *testing.T) {
	t.Parallel()
	s := startAdmin(t)
	addr := "ops@example.com"
	s.adminCreate(addr)
	reg := s.registerClient(map[string]any{
		"name": "Billing", "type": "confidential", "grant_types": []string{"password", "refresh_token"},
	})
	id, first := reg.str("client_id"), reg.str("client_secret")
	pw := url.Values{"grant_type": {"password"}, "username": {addr}, "password": {goodPassword}}
	works := func(secret string) bool {
		t.Helper()
		st, b := s.tokenForm(pw, id, secret)
		switch {
		case st == 200:
			return true
		case st == 401 && b["error"] == "invalid_client":
			return false
		}
		t.Fatalf("password grant: %d %v", st, b)
		return false
	}
	path := "/admin/v1/clients/" + id + "/secret"

	r := s.do("POST", path, testAdminKey, map[string]any{"previous_secret_valid_for": 3600}).want(t, 200, "")
	second := r.str("client_secret")
	if len(second) < 40 || second == first || r.str("client_id") != id || r.str("previous_secret_expires_at") == "" {
		t.Fatalf("rotation with an overlap: %s", r.Raw)
	}
	if !works(first) || !works(second) {
		t.Fatal("during the overlap, the old and the new secret should both authenticate")
	}
	got := s.do("GET", "/admin/v1/clients/"+id, testAdminKey, nil).want(t, 200, "")
	if strings.Contains(got.Raw, second) || got.str("previous_secret_expires_at") != r.str("previous_secret_expires_at") {
		t.Fatalf("GET after a rotation: %s", got.Raw)
	}

	// Mistakes are 400 and leave both secrets as they were.
	for _, bad := range []string{
		`{"previous_secret_valid_for": -1}`, `{"previous_secret_valid_for": 604801}`,
		`{"previous_secret_valid_fro": 60}`, `{"previous_secret_valid_for": "60"}`,
		`{"previous_secret_valid_for": 1.5}`, `[]`, `{"client_secret": "mine"}`,
	} {
		s.do("POST", path, testAdminKey, bad).want(t, 400, "invalid_request")
	}
	pub := s.registerClient(map[string]any{"name": "SPA", "type": "public", "redirect_uris": []string{"https://spa.example.com/cb"}})
	s.do("POST", "/admin/v1/clients/"+pub.str("client_id")+"/secret", testAdminKey, nil).want(t, 400, "invalid_request")
	s.do("POST", "/admin/v1/clients/nope/secret", testAdminKey, nil).want(t, 404, "not_found")
	s.do("POST", path, "", nil).want(t, 401, "invalid_token")
	if !works(first) || !works(second) {
		t.Fatal("a refused rotation changed the secrets")
	}

	// No body: no overlap. Only the newest secret is left.
	r = s.do("POST", path, testAdminKey, nil).want(t, 200, "")
	third := r.str("client_secret")
	if third == "" || third == second {
		t.Fatalf("rotation without a body: %s", r.Raw)
	}
	if _, ok := r.Body["previous_secret_expires_at"]; ok {
		t.Fatalf("a rotation without an overlap reports one: %s", r.Raw)
	}
	if works(first) || works(second) || !works(third) {
		t.Fatal("after a rotation without an overlap, only the new secret should authenticate")
	}

	var rotations int
	for _, e := range s.events("type=client_updated") {
		if d, _ := e["details"].(map[string]any); d["changed"] == "secret" {
			rotations++
		}
	}
	if rotations != 2 {
		t.Errorf("audit: %d client_updated events for a secret rotation, want 2", rotations)
	}
	for _, secret := range []string{first, second, third} {
		if strings.Contains(s.logs.all(), secret) {
			t.Error("a client secret is in the log")
		}
	}
}

// TestPasswordGrantOff: LATCH_PASSWORD_GRANT=false refuses the password
// grant to callers without a registered client that lists it.
func TestPasswordGrantOff(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{
		"LATCH_ADMIN_KEY": testAdminKey, "LATCH_RATE_LIMITS": "false", "LATCH_PASSWORD_GRANT": "false",
	})
	addr := "pg@example.com"
	s.adminCreate(addr)
	pw := url.Values{"grant_type": {"password"}, "username": {addr}, "password": {goodPassword}}
	if st, b := s.tokenForm(pw, "", ""); st != 400 || b["error"] != "unauthorized_client" {
		t.Fatalf("password grant without a client: %d %v", st, b)
	}
	c := s.registerClient(map[string]any{"name": "CLI tool", "type": "public", "grant_types": []string{"password", "refresh_token"}})
	pw.Set("client_id", c.str("client_id"))
	st, b := s.tokenForm(pw, "", "")
	if st != 200 {
		t.Fatalf("password grant of a client listing it: %d %v", st, b)
	}
	// Its refresh token is bound to it.
	rf := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {b["refresh_token"].(string)}}
	if st, _ := s.tokenForm(rf, "", ""); st != 400 {
		t.Fatalf("refresh without the client: %d", st)
	}
	rf.Set("client_id", c.str("client_id"))
	if st, b := s.tokenForm(rf, "", ""); st != 200 {
		t.Fatalf("refresh through the client: %d %v", st, b)
	}
	// /v1/login is not the password grant.
	s.login(addr, goodPassword)
}

// TestCLIClients: latch clients create, list, get, update and delete.
func TestCLIClients(t *testing.T) {
	t.Parallel()
	env := cliEnvVars(t)
	mustCLI(t, env, "migrate")
	var created struct {
		ClientID     string   `json:"client_id"`
		ClientSecret string   `json:"client_secret"`
		Type         string   `json:"type"`
		RedirectURIs []string `json:"redirect_uris"`
		GrantTypes   []string `json:"grant_types"`
		Name         string   `json:"name"`
	}
	cliJSON(t, env, &created, "clients", "create", "--name", "Web", "--type", "confidential",
		"--redirect-uri", "https://web.example.com/cb", "--redirect-uri", "http://127.0.0.1/cb")
	if created.ClientID == "" || created.ClientSecret == "" || len(created.RedirectURIs) != 2 ||
		!slices.Equal(created.GrantTypes, []string{"authorization_code", "refresh_token"}) {
		t.Fatalf("create: %+v", created)
	}
	out := mustCLI(t, env, "clients", "list")
	if !strings.Contains(out, created.ClientID) || strings.Contains(out, created.ClientSecret) {
		t.Fatalf("list:\n%s", out)
	}
	out = mustCLI(t, env, "clients", "update", created.ClientID, "--name", "Web 2", "--grant-type", "password,refresh_token", "--redirect-uri", "")
	if !strings.Contains(out, "Web 2") || !strings.Contains(out, "password refresh_token") {
		t.Fatalf("update:\n%s", out)
	}
	var got struct {
		Name         string   `json:"name"`
		RedirectURIs []string `json:"redirect_uris"`
	}
	cliJSON(t, env, &got, "clients", "get", created.ClientID)
	if got.Name != "Web 2" || len(got.RedirectURIs) != 0 {
		t.Fatalf("get after update: %+v", got)
	}
	if _, _, err := runCLI(t, env, "clients", "create", "--name", "x", "--type", "public", "--redirect-uri", "ftp://x"); err == nil {
		t.Fatal("create with a bad redirect URI succeeded")
	}
	var rotated struct {
		ClientSecret            string `json:"client_secret"`
		PreviousSecretExpiresAt string `json:"previous_secret_expires_at"`
	}
	cliJSON(t, env, &rotated, "clients", "rotate-secret", created.ClientID, "--previous-valid-for", "24h")
	if rotated.ClientSecret == "" || rotated.ClientSecret == created.ClientSecret || rotated.PreviousSecretExpiresAt == "" {
		t.Fatalf("rotate-secret: %+v", rotated)
	}
	if out := mustCLI(t, env, "clients", "get", created.ClientID); !strings.Contains(out, "previous_secret_expires") || strings.Contains(out, rotated.ClientSecret) {
		t.Fatalf("get after rotate-secret:\n%s", out)
	}
	if _, _, err := runCLI(t, env, "clients", "rotate-secret", created.ClientID, "--previous-valid-for", "200h"); err == nil {
		t.Fatal("rotate-secret with an overlap over 7 days succeeded")
	}
	mustCLI(t, env, "clients", "delete", created.ClientID)
	if _, _, err := runCLI(t, env, "clients", "get", created.ClientID); err == nil {
		t.Fatal("get after delete succeeded")
	}
	var events struct {
		Events []struct {
			Type  string `json:"type"`
			Actor string `json:"actor"`
		} `json:"events"`
	}
	cliJSON(t, env, &events, "audit", "--type", "client_deleted")
	if len(events.Events) != 1 || events.Events[0].Actor != "cli" {
		t.Fatalf("audit: %+v", events)
	}
}

// clientsOpenAPI drives the client admin routes for TestOpenAPIResponses.
func clientsOpenAPI[A any](t *testing.T, call func(method, path, bearer string, body any) A, want func(A, int) A, str func(A, string) string, adminKey string) {
	t.Helper()
	c := want(call("POST", "/admin/v1/clients", adminKey, map[string]any{
		"name": "Docs", "type": "confidential", "redirect_uris": []string{"https://docs.example.com/cb"},
	}), 201)
	id := str(c, "client_id")
	want(call("POST", "/admin/v1/clients", adminKey, map[string]any{"name": "x", "type": "nope"}), 400)
	want(call("GET", "/admin/v1/clients", adminKey, nil), 200)
	want(call("GET", "/admin/v1/clients/"+id, adminKey, nil), 200)
	want(call("GET", "/admin/v1/clients/nope", adminKey, nil), 404)
	want(call("PATCH", "/admin/v1/clients/"+id, adminKey, map[string]any{"name": "Docs 2"}), 200)
	want(call("PATCH", "/admin/v1/clients/"+id, adminKey, map[string]any{"type": "public"}), 400)
	want(call("POST", "/admin/v1/clients/"+id+"/secret", adminKey, map[string]any{"previous_secret_valid_for": 60}), 200)
	want(call("POST", "/admin/v1/clients/"+id+"/secret", adminKey, map[string]any{"previous_secret_valid_for": -1}), 400)
	want(call("POST", "/admin/v1/clients/nope/secret", adminKey, nil), 404)
	want(call("DELETE", "/admin/v1/clients/"+id, adminKey, nil), 204)
}
