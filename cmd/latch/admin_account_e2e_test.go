package main

import (
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/svctest"
)

// adminFlavours runs f on SQLite and on PostgreSQL.
func adminFlavours(t *testing.T, f func(t *testing.T, env map[string]string)) {
	for _, fl := range []string{"sqlite", "postgres"} {
		t.Run(fl, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"LATCH_ADMIN_KEY": testAdminKey, "LATCH_RATE_LIMITS": "false"}
			if fl == "postgres" {
				env["LATCH_DATABASE_URL"] = svctest.PostgresURL(t)
			}
			f(t, env)
		})
	}
}

// TestAdminPatchEmailAndPassword: PATCH users/{id} changes the address
// (validated, unique, old address told) and the password (policy-checked,
// every session ends); an unknown or read-only field is refused, never
// ignored.
func TestAdminPatchEmailAndPassword(t *testing.T) {
	t.Parallel()
	adminFlavours(t, func(t *testing.T, env map[string]string) {
		s := startServer(t, env)
		id := s.adminCreate("kate@example.com")
		s.adminCreate("taken@example.com")
		pair := s.login("kate@example.com", goodPassword)
		path := "/admin/v1/users/" + id

		s.do("PATCH", path, testAdminKey, map[string]any{"bogus": true}).want(t, 400, "invalid_request")
		r := s.do("PATCH", path, testAdminKey, map[string]any{"id": "u2", "roles": []string{"admin"}}).want(t, 400, "invalid_request")
		if !strings.Contains(r.str("detail"), `"id" is read-only`) {
			t.Errorf("read-only field: %s", r.Raw)
		}
		s.do("PATCH", path, testAdminKey, map[string]any{"email": "not an address"}).want(t, 422, "invalid_email")
		s.do("PATCH", path, testAdminKey, map[string]any{"email": "Taken@Example.com"}).want(t, 409, "email_taken")
		s.do("PATCH", path, testAdminKey, map[string]any{"password": "password"}).want(t, 422, "weak_password")
		// A weak password changes nothing, not even the email beside it.
		s.do("PATCH", path, testAdminKey, map[string]any{"email": "kate2@example.com", "password": "short"}).want(t, 422, "weak_password")
		u := s.do("GET", path, testAdminKey, nil).want(t, 200, "")
		if u.str("email") != "kate@example.com" || slicesHas(u.Body["roles"], "admin") {
			t.Fatalf("a refused PATCH changed the user: %s", u.Raw)
		}
		s.do("GET", "/v1/me", pair.str("access_token"), nil).want(t, 200, "")

		// The email: changed at once; the old address is told.
		u = s.do("PATCH", path, testAdminKey, map[string]any{"email": "kate.new@example.com"}).want(t, 200, "")
		if u.str("email") != "kate.new@example.com" {
			t.Fatalf("email not changed: %s", u.Raw)
		}
		if text, _ := s.mailTo("kate@example.com", 1)["text"].(string); !strings.Contains(text, "kate.new@example.com") {
			t.Errorf("the old address's notice does not name the new one:\n%s", text)
		}
		s.do("POST", "/v1/login", "", map[string]string{"email": "kate@example.com", "password": goodPassword}).want(t, 401, "invalid_credentials")
		s.login("kate.new@example.com", goodPassword)

		// The password: every session ends, its tokens are refused.
		const next = "a different long passphrase"
		s.do("PATCH", path, testAdminKey, map[string]any{"password": next}).want(t, 200, "")
		s.do("GET", "/v1/me", pair.str("access_token"), nil).want(t, 401, "invalid_token")
		s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": pair.str("refresh_token")}).want(t, 401, "")
		s.do("POST", "/v1/login", "", map[string]string{"email": "kate.new@example.com", "password": goodPassword}).want(t, 401, "invalid_credentials")
		s.login("kate.new@example.com", next)

		for _, typ := range []string{"email_changed", "password_changed"} {
			evs := s.events("type=" + typ + "&user_id=" + id)
			if len(evs) != 1 || evs[0]["actor"] != "admin_key" {
				t.Errorf("%s events: %v", typ, evs)
			}
		}
	})
}

func slicesHas(v any, s string) bool {
	l, _ := v.([]any)
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// TestAdminSendResetAndConfirmation: an admin has a reset link or a new
// confirmation link mailed; both work; a confirmed address is a 400.
func TestAdminSendResetAndConfirmation(t *testing.T) {
	t.Parallel()
	adminFlavours(t, func(t *testing.T, env map[string]string) {
		s := startServer(t, env)
		id := s.adminCreate("ron@example.com")
		s.do("POST", "/admin/v1/users/"+id+"/reset", testAdminKey, nil).want(t, 202, "")
		tok := linkToken(t, s.mailTo("ron@example.com", 1))
		s.do("POST", "/v1/password/reset", "", map[string]string{"token": tok, "password": "a brand new passphrase"}).want(t, 200, "")
		s.login("ron@example.com", "a brand new passphrase")
		s.do("POST", "/admin/v1/users/"+id+"/confirmation", testAdminKey, nil).want(t, 400, "invalid_request")
		s.do("POST", "/admin/v1/users/nobody/reset", testAdminKey, nil).want(t, 404, "not_found")

		r := s.do("POST", "/admin/v1/users", testAdminKey, map[string]any{"email": "una@example.com", "password": goodPassword}).want(t, 201, "")
		una := r.str("id")
		s.do("POST", "/admin/v1/users/"+una+"/confirmation", testAdminKey, nil).want(t, 202, "")
		// An account an admin creates is mailed nothing: this is the first.
		tok = linkToken(t, s.mailTo("una@example.com", 1))
		s.do("POST", "/v1/confirm", "", map[string]string{"token": tok}).want(t, 200, "")
		s.login("una@example.com", goodPassword)

		s.do("PATCH", "/admin/v1/users/"+una, testAdminKey, map[string]any{"disabled": true}).want(t, 200, "")
		s.do("POST", "/admin/v1/users/"+una+"/reset", testAdminKey, nil).want(t, 403, "account_disabled")

		evs := s.events("type=reset_requested&user_id=" + id)
		if len(evs) != 1 || evs[0]["actor"] != "admin_key" {
			t.Errorf("reset_requested events %v", evs)
		}
		s.do("GET", "/admin/v1/audit?type=bogus", testAdminKey, nil).want(t, 400, "invalid_request")
	})
}

// TestDeleteMeWithoutBody: no body says the password is required (not
// 415).
func TestDeleteMeWithoutBody(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"LATCH_ADMIN_KEY": testAdminKey, "LATCH_RATE_LIMITS": "false"})
	s.adminCreate("del@example.com")
	at := s.login("del@example.com", goodPassword).str("access_token")
	r := s.do("DELETE", "/v1/me", at, nil).want(t, 400, "invalid_request")
	if !strings.Contains(r.str("detail"), "password") {
		t.Errorf("detail %q does not say the password is required", r.str("detail"))
	}
	s.do("GET", "/v1/me", at, nil).want(t, 200, "")
}

// TestCLIUserAccountCommands: latch user set-email, set-password,
// send-reset and resend-confirmation work on the database of a running
// server, whose worker sends the queued mail.
func TestCLIUserAccountCommands(t *testing.T) {
	t.Parallel()
	s := startAdmin(t)
	id := s.adminCreate("cli@example.com")
	at := s.login("cli@example.com", goodPassword).str("access_token")
	if out, err := s.cli("user", "set-email", "cli@example.com", "cli.new@example.com"); err != nil || !strings.Contains(out, "cli.new@example.com") {
		t.Fatalf("set-email: %v %s", err, out)
	}
	s.mailTo("cli@example.com", 1) // the old address is told
	if out, err := s.cli("user", "set-email", id, "nope"); err == nil || !strings.Contains(out+err.Error(), "invalid_email") {
		t.Errorf("set-email to a bad address: %v %s", err, out)
	}
	out, err := s.cli("user", "set-password", id, "--json")
	if err != nil || !strings.Contains(out, `"password":`) {
		t.Fatalf("set-password: %v %s", err, out)
	}
	s.do("GET", "/v1/me", at, nil).want(t, 401, "invalid_token")
	if out, err := s.cli("user", "set-password", id, "--password", "password"); err == nil || !strings.Contains(out+err.Error(), "weak_password") {
		t.Errorf("set-password with a weak one: %v %s", err, out)
	}
	if out, err := s.cli("user", "send-reset", "cli.new@example.com"); err != nil || !strings.Contains(out, "mail queued") {
		t.Fatalf("send-reset: %v %s", err, out)
	}
	linkToken(t, s.mailTo("cli.new@example.com", 2)) // after the password-changed notice
	if _, err := s.cli("user", "resend-confirmation", id); err == nil || !strings.Contains(err.Error(), "already confirmed") {
		t.Errorf("resend-confirmation of a confirmed address: %v", err)
	}
	if _, err := s.cli("audit", "--type", "bogus"); err == nil || !strings.Contains(err.Error(), "login_failed") {
		t.Errorf("audit --type bogus: %v, want the list of types", err)
	}
}
