package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/latchauth/latch/internal/svctest"
)

// hookReceiver is a receiver on loopback that hands each request it gets
// to the test.
type hookReceiver struct {
	*httptest.Server
	got chan hookRequest
}

type hookRequest struct {
	header http.Header
	body   []byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	rc := &hookReceiver{got: make(chan hookRequest, 64)}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.got <- hookRequest{header: r.Header.Clone(), body: body}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *hookReceiver) next(t *testing.T) hookRequest {
	t.Helper()
	select {
	case r := <-rc.got:
		return r
	case <-time.After(svctest.Patience(20 * time.Second)):
		t.Fatal("no webhook delivery arrived")
	}
	return hookRequest{}
}

// TestWebhookEndToEnd: an admin adds a webhook through the API; a change
// made through the API reaches the receiver signed per Standard Webhooks
// (the library verifies it, timestamp included); deliveries are listed
// and one is sent again under the same webhook-id.
func TestWebhookEndToEnd(t *testing.T) {
	t.Parallel()
	const adminKey = "admin-key-0123456789abcdef"
	s := startServer(t, map[string]string{
		"LATCH_ADMIN_KEY":             adminKey,
		"LATCH_WEBHOOK_ALLOW_PRIVATE": "true",
		"LATCH_RATE_LIMITS":           "false",
		"LATCH_METRICS_ADDR":          "127.0.0.1:0",
	})
	rc := newHookReceiver(t)
	hook := s.do("POST", "/admin/v1/webhooks", adminKey, map[string]any{
		"url": rc.URL + "/latch", "events": []string{"user.login", "user.created"},
	}).want(t, 201, "")
	id, secret := hook.str("id"), hook.str("secret")
	if !strings.HasPrefix(secret, "whsec_") || hook.Header.Get("Location") != "/admin/v1/webhooks/"+id {
		t.Fatalf("created %s", hook.Raw)
	}
	if ev := hook.Body["events"].([]any); len(ev) != 2 || ev[0] != "user.created" {
		t.Errorf("events %v, want them in the documented order", ev)
	}
	// Webhook changes are audited, with the receiver's host only.
	audit := s.do("GET", "/admin/v1/audit?type=webhook_created", adminKey, nil).want(t, 200, "")
	if evs := audit.Body["events"].([]any); len(evs) != 1 || evs[0].(map[string]any)["actor"] != "admin_key" ||
		strings.Contains(audit.Raw, "/latch") || strings.Contains(audit.Raw, "whsec_") || !strings.Contains(audit.Raw, id) {
		t.Errorf("audit of the creation: %s", audit.Raw)
	}
	// The secret is shown once.
	if got := s.do("GET", "/admin/v1/webhooks/"+id, adminKey, nil).want(t, 200, ""); strings.Contains(got.Raw, "whsec_") {
		t.Errorf("GET shows the secret: %s", got.Raw)
	}
	if got := s.do("GET", "/admin/v1/webhooks", adminKey, nil).want(t, 200, ""); strings.Contains(got.Raw, "whsec_") || !strings.Contains(got.Raw, id) {
		t.Errorf("list: %s", got.Raw)
	}

	s.do("POST", "/admin/v1/users", adminKey, map[string]any{"email": "hooked@example.com", "password": goodPassword, "email_confirmed": true}).want(t, 201, "")
	first := rc.next(t)
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(first.body, first.header); err != nil {
		t.Fatalf("Verify: %v\n%s", err, first.body)
	}
	var p struct {
		Type string `json:"type"`
		Data struct {
			User struct {
				Email string `json:"email"`
			} `json:"user"`
		} `json:"data"`
	}
	if err := json.Unmarshal(first.body, &p); err != nil || p.Type != "user.created" || p.Data.User.Email != "hooked@example.com" {
		t.Fatalf("payload %s", first.body)
	}
	s.do("POST", "/v1/login", "", map[string]string{"email": "hooked@example.com", "password": goodPassword}).want(t, 200, "")
	if login := rc.next(t); !strings.Contains(string(login.body), `"type":"user.login"`) || strings.Contains(string(login.body), goodPassword) {
		t.Fatalf("login payload %s", login.body)
	}

	// The deliveries, newest first; the first is sent again on request.
	var ds []any
	deadline := time.Now().Add(svctest.Patience(10 * time.Second))
	for {
		page := s.do("GET", "/admin/v1/webhooks/"+id+"/deliveries", adminKey, nil).want(t, 200, "")
		ds = page.Body["deliveries"].([]any)
		if len(ds) == 2 && ds[0].(map[string]any)["state"] == "delivered" && ds[1].(map[string]any)["state"] == "delivered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries never both delivered: %s", page.Raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
	created := ds[1].(map[string]any)
	if created["message_id"] != first.header.Get("webhook-id") || created["status_code"] != float64(204) || created["attempts"] != float64(1) {
		t.Errorf("delivery %v", created)
	}
	retried := s.do("POST", "/admin/v1/webhooks/"+id+"/deliveries/"+created["id"].(string)+"/retry", adminKey, nil).want(t, 202, "")
	if retried.str("state") != "pending" {
		t.Errorf("retry answered %s", retried.Raw)
	}
	if again := rc.next(t); again.header.Get("webhook-id") != first.header.Get("webhook-id") || string(again.body) != string(first.body) {
		t.Errorf("retried delivery: id %s, want %s", again.header.Get("webhook-id"), first.header.Get("webhook-id"))
	}
	s.do("POST", "/admin/v1/webhooks/"+id+"/deliveries/999999/retry", adminKey, nil).want(t, 404, "not_found")
	s.do("POST", "/admin/v1/webhooks/nope/deliveries/1/retry", adminKey, nil).want(t, 404, "not_found")

	// Bad inputs are 400 and change nothing.
	for _, body := range []any{
		map[string]any{"url": rc.URL, "events": []string{"user.exploded"}},
		map[string]any{"url": rc.URL, "events": []string{}},
		map[string]any{"url": rc.URL},
		map[string]any{"url": "ftp://x.example/", "events": []string{"user.login"}},
		map[string]any{"events": []string{"user.login"}},
		`{"url": 5}`,
	} {
		s.do("POST", "/admin/v1/webhooks", adminKey, body).want(t, 400, "invalid_request")
	}
	s.do("PATCH", "/admin/v1/webhooks/"+id, adminKey, map[string]any{"secret": "whsec_x"}).want(t, 400, "invalid_request")
	s.do("PATCH", "/admin/v1/webhooks/"+id, adminKey, map[string]any{"events": []string{"nope"}}).want(t, 400, "invalid_request")
	patched := s.do("PATCH", "/admin/v1/webhooks/"+id, adminKey, map[string]any{"events": []string{"user.deleted"}}).want(t, 200, "")
	if ev := patched.Body["events"].([]any); len(ev) != 1 || ev[0] != "user.deleted" || patched.str("url") != rc.URL+"/latch" {
		t.Errorf("patched %s", patched.Raw)
	}
	s.do("GET", "/admin/v1/webhooks/"+id+"/deliveries?limit=0", adminKey, nil).want(t, 400, "invalid_request")
	s.do("GET", "/admin/v1/webhooks/"+id+"/deliveries?cursor=bogus", adminKey, nil).want(t, 400, "invalid_request")
	s.do("GET", "/admin/v1/webhooks", "", nil).want(t, 401, "")

	// The receiver has the retried delivery; its outcome is counted and
	// recorded a moment later.
	wantMetrics := []string{`latch_webhook_deliveries_total{result="delivered"} 3`, "latch_webhook_queue_depth 0", "latch_webhook_delivery_duration_seconds_count 3"}
	deadline = time.Now().Add(svctest.Patience(10 * time.Second))
	for {
		m, missing := s.metrics(), ""
		for _, want := range wantMetrics {
			if !strings.Contains(m, want) {
				missing = want
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics lack %q", missing)
		}
		time.Sleep(20 * time.Millisecond)
	}

	s.do("DELETE", "/admin/v1/webhooks/"+id, adminKey, nil).want(t, 204, "")
	for _, typ := range []string{"webhook_updated", "webhook_delivery_retried", "webhook_deleted"} {
		if evs := s.do("GET", "/admin/v1/audit?type="+typ, adminKey, nil).want(t, 200, "").Body["events"].([]any); len(evs) != 1 {
			t.Errorf("%d %s audit events, want 1", len(evs), typ)
		}
	}
	s.do("DELETE", "/admin/v1/webhooks/"+id, adminKey, nil).want(t, 404, "not_found")
	s.do("GET", "/admin/v1/webhooks/"+id+"/deliveries", adminKey, nil).want(t, 404, "not_found")
}

// TestWebhookURLRules: without LATCH_WEBHOOK_ALLOW_PRIVATE, receivers on
// loopback, private and link-local addresses are refused; in production
// only https is accepted.
func TestWebhookURLRules(t *testing.T) {
	t.Parallel()
	const adminKey = "admin-key-0123456789abcdef"
	s := startServer(t, map[string]string{"LATCH_ADMIN_KEY": adminKey})
	for _, u := range []string{"http://127.0.0.1:9/x", "http://[::1]/x", "http://10.0.0.1/", "http://169.254.169.254/latest",
		"http://[::ffff:127.0.0.1]/", "http://localhost:8080/", "http://0.0.0.0/", "http://[fe80::1]/", "http://224.0.0.1/"} {
		r := s.do("POST", "/admin/v1/webhooks", adminKey, map[string]any{"url": u, "events": []string{"user.login"}}).want(t, 400, "invalid_request")
		if !strings.Contains(r.str("detail"), "not a public") {
			t.Errorf("%s refused with %q", u, r.str("detail"))
		}
	}
	if r := s.do("GET", "/admin/v1/webhooks", adminKey, nil).want(t, 200, ""); len(r.Body["webhooks"].([]any)) != 0 {
		t.Errorf("refused webhooks were stored: %s", r.Raw)
	}
}

// webhooksOpenAPI exercises the webhook operations for TestOpenAPIResponses.
func webhooksOpenAPI[A any](t *testing.T, call func(method, path, bearer string, body any) A, want func(A, int) A, str func(A, string) string, adminKey string) {
	t.Helper()
	// .example never resolves: the URL is accepted, deliveries fail.
	id := str(want(call("POST", "/admin/v1/webhooks", adminKey, map[string]any{"url": "https://hooks.example/latch", "events": []string{"user.created"}}), 201), "id")
	want(call("POST", "/admin/v1/webhooks", adminKey, map[string]any{"url": "https://hooks.example/latch", "events": []string{"nope"}}), 400)
	want(call("GET", "/admin/v1/webhooks", adminKey, nil), 200)
	want(call("GET", "/admin/v1/webhooks/"+id, adminKey, nil), 200)
	want(call("GET", "/admin/v1/webhooks/nope", adminKey, nil), 404)
	want(call("PATCH", "/admin/v1/webhooks/"+id, adminKey, map[string]any{"events": []string{"user.created", "user.deleted"}}), 200)
	want(call("PATCH", "/admin/v1/webhooks/"+id, adminKey, map[string]any{"id": "x"}), 400)
	want(call("POST", "/admin/v1/users", adminKey, map[string]any{"email": "hooked-openapi@example.com", "password": goodPassword}), 201)
	want(call("GET", "/admin/v1/webhooks/"+id+"/deliveries?limit=5", adminKey, nil), 200)
	want(call("POST", "/admin/v1/webhooks/"+id+"/deliveries/999999/retry", adminKey, nil), 404)
	want(call("DELETE", "/admin/v1/webhooks/"+id, adminKey, nil), 204)
}

// TestCLIWebhooks: latch webhooks manages webhooks on the database, with
// the API's JSON shapes under --json.
func TestCLIWebhooks(t *testing.T) {
	t.Parallel()
	env := cliEnvVars(t)
	env["LATCH_WEBHOOK_ALLOW_PRIVATE"] = "true"
	mustCLI(t, env, "migrate")
	var h struct {
		ID     string   `json:"id"`
		URL    string   `json:"url"`
		Events []string `json:"events"`
		Secret string   `json:"secret"`
	}
	cliJSON(t, env, &h, "webhooks", "create", "--url", "http://127.0.0.1:9/hook", "--events", "user.created,user.deleted")
	if h.ID == "" || !strings.HasPrefix(h.Secret, "whsec_") || len(h.Events) != 2 {
		t.Fatalf("created %+v", h)
	}
	out := mustCLI(t, env, "webhooks", "list")
	if !strings.Contains(out, h.ID) || !strings.Contains(out, "user.created,user.deleted") || strings.Contains(out, "whsec_") {
		t.Errorf("list:\n%s", out)
	}
	if out := mustCLI(t, env, "webhooks", "update", h.ID, "--events", "user.login"); !strings.Contains(out, "user.login") {
		t.Errorf("update:\n%s", out)
	}
	mustCLI(t, env, "user", "create", "--email", "cli-hooked@example.com", "--password", goodPassword)
	mustCLI(t, env, "user", "show", "cli-hooked@example.com")
	var ds struct {
		Deliveries []struct {
			ID    string `json:"id"`
			Type  string `json:"type"`
			State string `json:"state"`
		} `json:"deliveries"`
	}
	cliJSON(t, env, &ds, "webhooks", "deliveries", h.ID)
	if len(ds.Deliveries) != 0 {
		t.Errorf("deliveries of a user.login webhook after a create: %+v", ds)
	}
	mustCLI(t, env, "webhooks", "update", h.ID, "--events", "user.deleted")
	mustCLI(t, env, "user", "delete", "cli-hooked@example.com")
	cliJSON(t, env, &ds, "webhooks", "deliveries", h.ID)
	if len(ds.Deliveries) != 1 || ds.Deliveries[0].Type != "user.deleted" || ds.Deliveries[0].State != "pending" {
		t.Fatalf("deliveries: %+v", ds)
	}
	if out := mustCLI(t, env, "webhooks", "deliveries", h.ID); !strings.Contains(out, "user.deleted") || !strings.Contains(out, "pending") {
		t.Errorf("deliveries table:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"webhooks", "retry", h.ID, ds.Deliveries[0].ID}, "delivery_pending"},
		{[]string{"webhooks", "get", "nope"}, "not_found"},
		{[]string{"webhooks", "create", "--url", "http://127.0.0.1/", "--events", "bogus"}, "unknown event type"},
		{[]string{"webhooks", "create"}, "--url and --events are required"},
		{[]string{"webhooks", "frobnicate"}, "unknown command"},
		{[]string{"webhooks", "update", h.ID}, "give --url or --events"},
	} {
		if _, _, err := runCLI(t, env, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("latch %s: %v, want an error containing %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
	if out := mustCLI(t, env, "webhooks", "delete", h.ID); !strings.Contains(out, "deleted "+h.ID) {
		t.Errorf("delete: %s", out)
	}
	if out := mustCLI(t, env, "webhooks", "-h"); !strings.HasPrefix(out, "usage: latch webhooks") || !strings.Contains(out, "roles.changed") {
		t.Errorf("help:\n%s", out)
	}
}

// TestWebhookHTTPSInProduction: LATCH_ENV=production accepts only https
// receivers.
func TestWebhookHTTPSInProduction(t *testing.T) {
	t.Parallel()
	for env, want := range map[string]bool{"production": true, "development": false} {
		c, err := loadConfig(nil, func(k string) string {
			return map[string]string{
				"LATCH_ENV":        env,
				"LATCH_SECRET":     "0123456789abcdef0123456789abcdef",
				"LATCH_PUBLIC_URL": "https://id.example.com",
				"LATCH_SMTP_URL":   "smtp://mail.example.com:587",
			}[k]
		})
		if err != nil {
			t.Fatalf("%s: %v", env, err)
		}
		if got := c.authConfig([]byte("0123456789abcdef0123456789abcdef")).WebhookHTTPSOnly; got != want {
			t.Errorf("LATCH_ENV=%s: WebhookHTTPSOnly %v, want %v", env, got, want)
		}
	}
}

// TestWebhookCarriesMetadata: user.updated carries the account's
// app_metadata and user_metadata as they are after the change, so that an
// app keeps its copy in step from the webhooks alone.
func TestWebhookCarriesMetadata(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{
		"LATCH_ADMIN_KEY":             testAdminKey,
		"LATCH_WEBHOOK_ALLOW_PRIVATE": "true",
		"LATCH_RATE_LIMITS":           "false",
	})
	rc := newHookReceiver(t)
	s.do("POST", "/admin/v1/webhooks", testAdminKey, map[string]any{
		"url": rc.URL, "events": []string{"user.updated"},
	}).want(t, 201, "")
	id := s.adminCreate("meta-hook@example.com")
	user := func(r hookRequest) (app, own string) {
		var p struct {
			Type string `json:"type"`
			Data struct {
				User struct {
					ID           string          `json:"id"`
					AppMetadata  json.RawMessage `json:"app_metadata"`
					UserMetadata json.RawMessage `json:"user_metadata"`
				} `json:"user"`
			} `json:"data"`
		}
		if err := json.Unmarshal(r.body, &p); err != nil || p.Type != "user.updated" || p.Data.User.ID != id {
			t.Fatalf("delivery %s", r.body)
		}
		return string(p.Data.User.AppMetadata), string(p.Data.User.UserMetadata)
	}

	s.do("PATCH", "/admin/v1/users/"+id, testAdminKey, `{"app_metadata": {"plan": "pro"}}`).want(t, 200, "")
	if app, own := user(rc.next(t)); app != `{"plan":"pro"}` || own != `{}` {
		t.Errorf("after the admin's change: app_metadata %s, user_metadata %s", app, own)
	}
	at := s.login("meta-hook@example.com", goodPassword).str("access_token")
	s.do("PATCH", "/v1/me", at, `{"user_metadata": {"nick": "zoë"}}`).want(t, 200, "")
	if app, own := user(rc.next(t)); app != `{"plan":"pro"}` || own != `{"nick":"zoë"}` {
		t.Errorf("after the user's change: app_metadata %s, user_metadata %s", app, own)
	}
}
