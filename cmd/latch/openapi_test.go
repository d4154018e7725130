package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/latchauth/latch/internal/httpapi"
)

// validatingTransport checks every answer of the real server against the
// OpenAPI document (kin-openapi's openapi3filter.ValidateResponse): the
// route must be documented, the status listed (or covered by default), the
// content type and the body must fit the schema.
type validatingTransport struct {
	t      *testing.T
	router routers.Router

	mu   sync.Mutex
	seen map[string]bool // operationId -> exercised
}

func (vt *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))

	// Match on the path alone: the document's server is relative.
	u := *req.URL
	u.Scheme, u.Host = "", ""
	r2 := req.Clone(context.Background())
	r2.URL = &u
	route, params, err := vt.router.FindRoute(r2)
	if err != nil {
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			return resp, nil // undocumented paths answer problems; checked by the caller
		}
		vt.t.Errorf("%s %s (answered %d) is not in the OpenAPI document: %v", req.Method, req.URL.Path, resp.StatusCode, err)
		return resp, nil
	}
	vt.mu.Lock()
	vt.seen[route.Operation.OperationID] = true
	vt.mu.Unlock()
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: r2, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		vt.t.Errorf("%s %s answered %d %s: does not fit the OpenAPI document:\n%v", req.Method, req.URL.Path, resp.StatusCode, body, err)
	}
	return resp, nil
}

// The pages answer HTML, which the document describes as a string.
func init() { openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.FileBodyDecoder) }

// TestOpenAPIDocument checks that the embedded document is valid OpenAPI
// 3.1 and that GET /openapi.json serves it.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %q, want 3.1", doc.OpenAPI)
	}
	s := startServer(t, nil)
	r := s.do("GET", "/openapi.json", "", nil).want(t, 200, "")
	if r.Raw != string(httpapi.OpenAPI()) || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi.json: %s %q", r.Header.Get("Content-Type"), r.Raw[:min(len(r.Raw), 80)])
	}
}

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPI())
	if err != nil {
		t.Fatalf("loading openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not valid: %v", err)
	}
	return doc
}

// htmlOperations answer HTML pages (the validator decodes JSON only);
// their own tests check them.
var htmlOperations = []string{"confirmPage", "resetPage", "resetForm",
	"authorizePage", "authorizePagePost", "loginPage", "loginForm", "loginMFAForm", "logoutPage", "logoutForm"}

// TestOpenAPIResponses drives a real latch through the main flows of every
// built endpoint and validates each answer against the document.
func TestOpenAPIResponses(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	vt := &validatingTransport{t: t, router: router, seen: map[string]bool{}}
	client := &http.Client{Transport: vt}
	const adminKey = "admin-key-0123456789abcdef"
	s := startServer(t, map[string]string{
		"LATCH_ADMIN_KEY":      adminKey,
		"LATCH_REVOCATION_KEY": "revocation-key",
		"LATCH_RATE_LIMITS":    "false",
	})

	type answer struct {
		status int
		body   map[string]any
	}
	call := func(method, path, bearer string, body any) answer {
		t.Helper()
		var rd io.Reader
		ct := ""
		switch b := body.(type) {
		case nil:
		case url.Values:
			rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
		case string:
			rd, ct = strings.NewReader(b), "application/json"
		default:
			j, _ := json.Marshal(b)
			rd, ct = bytes.NewReader(j), "application/json"
		}
		req, err := http.NewRequest(method, s.URL+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		a := answer{status: resp.StatusCode}
		_ = json.Unmarshal(raw, &a.body)
		return a
	}
	want := func(a answer, status int) answer {
		t.Helper()
		if a.status != status {
			t.Fatalf("status %d, want %d: %v", a.status, status, a.body)
		}
		return a
	}
	str := func(a answer, k string) string { v, _ := a.body[k].(string); return v }

	// Operations.
	want(call("GET", "/healthz", "", nil), 200)
	want(call("GET", "/readyz", "", nil), 200)
	want(call("GET", "/openapi.json", "", nil), 200)
	want(call("GET", "/.well-known/jwks.json", "", nil), 200)
	want(call("GET", "/.well-known/openid-configuration", "", nil), 200)
	want(call("GET", "/.well-known/oauth-authorization-server", "", nil), 200)
	// Metrics are not on the API listener (LATCH_METRICS_ADDR).
	if a := call("GET", "/metrics", "", nil); a.status != 404 {
		t.Errorf("GET /metrics on the API listener: %d, want 404", a.status)
	}

	// Accounts and sessions.
	const pw = goodPassword
	addr := "openapi@example.com"
	want(call("POST", "/v1/signup", "", map[string]string{"email": addr, "password": pw}), 202)
	want(call("POST", "/v1/signup", "", map[string]string{"email": "bad", "password": pw}), 422)
	want(call("POST", "/v1/signup", "", `{"email":`), 400)
	want(call("POST", "/v1/login", "", map[string]string{"email": addr, "password": pw}), 403)
	want(call("POST", "/v1/confirm/resend", "", map[string]string{"email": addr}), 202)
	tok := linkToken(t, s.mailTo(addr, 2)) // the resent link voids the first
	conf := want(call("POST", "/v1/confirm", "", map[string]string{"token": tok}), 200)
	want(call("POST", "/v1/confirm", "", map[string]string{"token": tok}), 400)
	want(call("POST", "/v1/login", "", map[string]string{"email": addr, "password": "wrong password!"}), 401)
	login := want(call("POST", "/v1/login", "", map[string]string{"email": addr, "password": pw}), 200)
	at := str(login, "access_token")
	want(call("GET", "/v1/me", at, nil), 200)
	want(call("GET", "/v1/me", "", nil), 401)
	want(call("PATCH", "/v1/me", at, map[string]any{"user_metadata": map[string]any{"theme": "dark"}}), 200)
	want(call("PATCH", "/v1/me", at, map[string]any{"user_metadata": []int{1}}), 400)
	want(call("PATCH", "/v1/me", at, map[string]any{"user_metadata": map[string]any{"k": strings.Repeat("x", 5000)}}), 422)
	sess := want(call("GET", "/v1/sessions", at, nil), 200)
	ref := want(call("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": str(login, "refresh_token")}), 200)
	want(call("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": "nope"}), 401)
	at = str(ref, "access_token")
	want(call("POST", "/v1/email/change", at, map[string]string{"new_email": "openapi2@example.com", "password": pw}), 202)
	// An email-change link answers a status and no session (on another
	// account, so that this one keeps its address).
	mover, moved := "openapi-mover@example.com", "openapi-moved@example.com"
	want(call("POST", "/v1/signup", "", map[string]string{"email": mover, "password": pw}), 202)
	oc := want(call("POST", "/v1/confirm", "", map[string]string{"token": linkToken(t, s.mailTo(mover, 1))}), 200)
	want(call("POST", "/v1/email/change", str(oc, "access_token"), map[string]string{"new_email": moved, "password": pw}), 202)
	if a := want(call("POST", "/v1/confirm", "", map[string]string{"token": linkToken(t, s.mailTo(moved, 1))}), 200); str(a, "status") != "email_changed" {
		t.Fatalf("email-change confirm: %v", a.body)
	}
	want(call("POST", "/v1/password/forgot", "", map[string]string{"email": addr}), 202)
	want(call("POST", "/v1/password/reset", "", map[string]string{"token": "x", "password": pw}), 400)
	changed := want(call("POST", "/v1/password/change", at, map[string]string{"current_password": pw, "new_password": pw + "!"}), 200)
	at = str(changed, "access_token")
	var other string
	for _, e := range sess.body["sessions"].([]any) {
		if e.(map[string]any)["current"] != true {
			other = e.(map[string]any)["id"].(string)
		}
	}
	want(call("DELETE", "/v1/sessions/"+other, at, nil), 404) // ended by the password change
	want(call("DELETE", "/v1/sessions/nope", at, nil), 404)
	want(call("GET", "/v1/revocations", "revocation-key", nil), 200)
	want(call("GET", "/v1/revocations", "", nil), 401)
	want(call("GET", "/v1/revocations?since=bad", "revocation-key", nil), 400)
	want(call("POST", "/v1/logout", at, map[string]any{}), 204)
	conf2 := want(call("POST", "/v1/login", "", map[string]string{"email": addr, "password": pw + "!"}), 200)
	want(call("POST", "/v1/logout/all", str(conf2, "access_token"), nil), 204)
	_ = conf

	// The transport's own answers.
	want(call("GET", "/v1/nothing-here", "", nil), 404)
	want(call("POST", "/v1/login", "", strings.Repeat(" ", 70<<10)), 413)
	if a := call("POST", "/v1/login", "", url.Values{"email": {addr}}); a.status != 415 {
		t.Errorf("form body on the JSON API: %d, want 415", a.status)
	}

	// The signup page, and its form posted without the page's CSRF value.
	want(call("GET", "/signup", "", nil), 200)
	want(call("POST", "/signup", "", url.Values{"email": {"x@example.com"}}), 403)

	// OAuth.
	otok := want(call("POST", "/oauth/token", "", url.Values{"grant_type": {"password"}, "username": {addr}, "password": {pw + "!"}}), 200)
	want(call("POST", "/oauth/token", "", url.Values{"grant_type": {"password"}, "username": {addr}, "password": {"wrong"}}), 400)
	want(call("POST", "/oauth/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(otok, "refresh_token")}}), 200)
	want(call("POST", "/oauth/introspect", adminKey, url.Values{"token": {str(otok, "access_token")}}), 200)
	want(call("POST", "/oauth/introspect", "", url.Values{"token": {str(otok, "access_token")}}), 401)
	want(call("POST", "/oauth/revoke", "", url.Values{"token": {str(otok, "refresh_token")}}), 200)

	// Admin API.
	created := want(call("POST", "/admin/v1/users", adminKey, map[string]any{"email": "made@example.com", "password": pw, "email_confirmed": true}), 201)
	id := str(created, "id")
	want(call("GET", "/admin/v1/users?limit=10", adminKey, nil), 200)
	want(call("GET", "/admin/v1/users/"+id, adminKey, nil), 200)
	want(call("GET", "/admin/v1/users/nope", adminKey, nil), 404)
	want(call("GET", "/admin/v1/users", at, nil), 401)
	want(call("PATCH", "/admin/v1/users/"+id, adminKey, map[string]any{"roles": []string{"user", "admin"}}), 200)
	want(call("GET", "/admin/v1/users/"+id+"/sessions", adminKey, nil), 200)
	want(call("POST", "/admin/v1/users/"+id+"/logout", adminKey, nil), 204)
	want(call("PATCH", "/admin/v1/users/"+id, adminKey, map[string]any{"email": "made2@example.com", "password": pw + "?"}), 200)
	want(call("PATCH", "/admin/v1/users/"+id, adminKey, map[string]any{"id": "x"}), 400)
	want(call("PATCH", "/admin/v1/users/"+id, adminKey, map[string]any{"app_metadata": map[string]any{"plan": "pro"}}), 200)
	want(call("PATCH", "/admin/v1/users/"+id, adminKey, map[string]any{"email": addr}), 409)
	want(call("POST", "/admin/v1/users/"+id+"/reset", adminKey, nil), 202)
	want(call("POST", "/admin/v1/users/"+id+"/confirmation", adminKey, nil), 400)
	unconfirmed := want(call("POST", "/admin/v1/users", adminKey, map[string]any{"email": "later@example.com", "password": pw}), 201)
	want(call("POST", "/admin/v1/users/"+str(unconfirmed, "id")+"/confirmation", adminKey, nil), 202)
	want(call("GET", "/admin/v1/audit?type=bogus", adminKey, nil), 400)
	want(call("GET", "/admin/v1/audit", adminKey, nil), 200)
	want(call("DELETE", "/admin/v1/users/"+id, adminKey, nil), 204)

	// The account goes.
	last := want(call("POST", "/v1/login", "", map[string]string{"email": addr, "password": pw + "!"}), 200)
	want(call("DELETE", "/v1/me", str(last, "access_token"), nil), 400)
	want(call("DELETE", "/v1/me", str(last, "access_token"), map[string]string{"password": pw + "!"}), 204)

	// Second factors (mfa_e2e_test.go has the rules).
	mfaTOTPOpenAPI(t, call, want, str, adminKey, pw)
	passkeysOpenAPI(t, call, want, str, func(a answer) map[string]any { return a.body }, adminKey, pw)
	// Registered OAuth clients (clients_e2e_test.go has the rules).
	clientsOpenAPI(t, call, want, str, adminKey)
	// The OpenID Provider (oidc_e2e_test.go has the flow).
	oidcOpenAPI(t, call, want, str, adminKey, pw)

	// Webhooks (webhooks_e2e_test.go has the rules).
	webhooksOpenAPI(t, call, want, str, adminKey)

	// Every JSON API and OAuth operation of the document was exercised
	// (pages are covered when they exist).
	var missed []string
	for _, item := range doc.Paths.Map() {
		for _, o := range item.Operations() {
			if !vt.seen[o.OperationID] && !slices.Contains(htmlOperations, o.OperationID) {
				missed = append(missed, o.OperationID)
			}
		}
	}
	slices.Sort(missed)
	if len(missed) > 0 {
		t.Errorf("operations not exercised: %v", missed)
	}
}
