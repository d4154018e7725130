package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/pages"
)

// TestRedirectToJSON: signup, resend and forgot take an optional
// redirect_to; a listed one rides in the mailed link, any other is a 400
// invalid_redirect that creates and mails nothing.
func TestRedirectToJSON(t *testing.T) {
	e := newEnv(t, auth.Config{RequireConfirmation: true, RedirectURLs: []string{"https://app.example.com/"}}, Config{})
	body := func(kv ...string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	const done = "https://app.example.com/welcome?step=2"
	bad := []string{
		"https://evil.example/",
		"https://app.example.com.evil.example/",
		"https://app.example.com@evil.example/",
		"https://user@app.example.com/",
		"javascript:alert(1)",
		"//evil.example/",
		"/\\evil.example",
		"https://app.example.com\\@evil.example/",
		"https:\\\\app.example.com\\",
		"http://app.example.com/",
	}
	for _, rt := range bad {
		p := wantProblem(t, e.call("POST", "/v1/signup", body("email", "ada@example.com", "password", goodPassword, "redirect_to", rt), ""), 400, "invalid_redirect")
		if !strings.Contains(p.Detail, "LATCH_REDIRECT_URLS") {
			t.Errorf("detail %q does not say what is allowed", p.Detail)
		}
		wantProblem(t, e.call("POST", "/v1/confirm/resend", body("email", "ada@example.com", "redirect_to", rt), ""), 400, "invalid_redirect")
		wantProblem(t, e.call("POST", "/v1/password/forgot", body("email", "ada@example.com", "redirect_to", rt), ""), 400, "invalid_redirect")
	}
	e.svc.Close()
	if msgs := authtest.DrainMail(t, e.db, e.clock.Now()); len(msgs) != 0 {
		t.Fatalf("%d mails after refused calls", len(msgs))
	}
	wantProblem(t, e.call("POST", "/v1/signup", `{"email":"ada@example.com","password":"`+goodPassword+`","redirect_to":7}`, ""), 400, "invalid_request")

	wantStatusBody(t, e.call("POST", "/v1/signup", body("email", "ada@example.com", "password", goodPassword, "redirect_to", done), ""), 202, "confirmation_sent")
	wantStatusBody(t, e.call("POST", "/v1/confirm/resend", body("email", "ada@example.com", "redirect_to", done), ""), 202, "accepted")
	e.svc.Close()
	msgs := authtest.DrainMail(t, e.db, e.clock.Now())
	if len(msgs) != 2 {
		t.Fatalf("%d mails, want the signup's and the resent one", len(msgs))
	}
	for _, m := range msgs {
		if !strings.Contains(m.Message.Text, "&redirect_to="+url.QueryEscape(done)) {
			t.Errorf("%s mail lacks redirect_to:\n%s", m.Kind, m.Message.Text)
		}
	}
	tok := authtest.LastToken(t, msgs, "ada@example.com", auth.MailConfirm)
	tokens(t, e.call("POST", "/v1/confirm", `{"token":"`+tok+`"}`, ""), 200)
	wantStatusBody(t, e.call("POST", "/v1/password/forgot", body("email", "ada@example.com", "redirect_to", done), ""), 202, "accepted")
	e.svc.Close()
	msgs = authtest.DrainMail(t, e.db, e.clock.Now())
	if len(msgs) != 1 || !strings.Contains(msgs[0].Message.Text, "/reset-password?token=") ||
		!strings.Contains(msgs[0].Message.Text, "&redirect_to="+url.QueryEscape(done)) {
		t.Errorf("reset mail lacks redirect_to: %d mails", len(msgs))
		for _, m := range msgs {
			t.Log(m.Message.Text)
		}
	}
}

// TestSignupPageMounted: /signup is served by the pages, with their
// headers, and a refused redirect_to is never a Location.
func TestSignupPageMounted(t *testing.T) {
	e := newEnv(t, auth.Config{RequireConfirmation: true, RedirectURLs: []string{"https://app.example.com/"}}, Config{})
	w := do(e.h, "GET", "/signup?redirect_to="+url.QueryEscape("https://app.example.com/x"), nil, nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `name="redirect_to" value="https://app.example.com/x"`) {
		t.Fatalf("GET /signup: %d\n%s", w.Code, w.Body)
	}
	for k, v := range map[string]string{
		"Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
		"Content-Security-Policy": strings.Replace(pages.CSP, "form-action 'self'", "form-action 'self' https://app.example.com", 1),
	} {
		if got := w.Header().Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("GET /signup: %s = %q, want %q", k, got, v)
		}
	}
	for _, rt := range []string{"https://evil.example/", "//evil.example", "javascript:alert(1)", "https://app.example.com.evil.example/"} {
		w := do(e.h, "GET", "/signup?redirect_to="+url.QueryEscape(rt), nil, nil)
		if w.Code != http.StatusBadRequest || w.Header().Get("Location") != "" {
			t.Errorf("GET /signup?redirect_to=%s: %d, Location %q; want 400 and none", rt, w.Code, w.Header().Get("Location"))
		}
	}
}
