package main

import (
	"net/url"
	"testing"

	"github.com/latchauth/latch/internal/svctest"
)

// A refresh token that leaked from confidential client svc1 is no use to
// anyone else (RFC 6749 §6): not without client authentication, not as
// another client, not at the JSON API; nor can anyone else revoke it
// (RFC 7009 §2.1). svc1 itself goes on refreshing. On SQLite and
// PostgreSQL, since the binding is stored with the session.
func TestOAuthClientBinding(t *testing.T) {
	t.Parallel()
	for _, flavour := range []struct {
		name string
		env  func(t *testing.T) map[string]string
	}{
		{"sqlite", func(t *testing.T) map[string]string { return map[string]string{} }},
		{"postgres", func(t *testing.T) map[string]string {
			return map[string]string{"LATCH_DATABASE_URL": svctest.PostgresURL(t)}
		}},
	} {
		t.Run(flavour.name, func(t *testing.T) {
			t.Parallel()
			env := flavour.env(t)
			env["LATCH_OAUTH_CLIENTS"] = "svc1:svc1-long-client-secret,svc2:svc2-long-client-secret"
			s := startServer(t, env)
			const addr = "bound@example.com"
			s.signupConfirmed(addr, goodPassword)
			grant := url.Values{"grant_type": {"password"}, "username": {addr}, "password": {goodPassword}}
			refresh := func(rt string, extra ...string) url.Values {
				v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
				for i := 0; i+1 < len(extra); i += 2 {
					v.Set(extra[i], extra[i+1])
				}
				return v
			}
			wantOAuth := func(r *response, status int, code string) *response {
				t.Helper()
				if r.Status != status || (code != "" && r.str("error") != code) {
					t.Fatalf("got %d %s, want %d %s", r.Status, r.Raw, status, code)
				}
				return r
			}

			tok := wantOAuth(s.oauthForm("/oauth/token", grant, "svc1", "svc1-long-client-secret"), 200, "")
			rt, at := tok.str("refresh_token"), tok.str("access_token")
			wantOAuth(s.oauthForm("/oauth/token", refresh(rt), "", ""), 400, "invalid_grant")
			wantOAuth(s.oauthForm("/oauth/token", refresh(rt, "client_id", "svc1"), "", ""), 401, "invalid_client")
			wantOAuth(s.oauthForm("/oauth/token", refresh(rt), "svc2", "svc2-long-client-secret"), 400, "invalid_grant")
			s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": rt}).want(t, 401, "invalid_token")
			// Revocation by anyone else answers 200 and ends nothing.
			wantOAuth(s.oauthForm("/oauth/revoke", url.Values{"token": {rt}}, "", ""), 200, "")
			wantOAuth(s.oauthForm("/oauth/revoke", url.Values{"token": {at}}, "svc2", "svc2-long-client-secret"), 200, "")
			s.do("GET", "/v1/me", at, nil).want(t, 200, "")

			next := wantOAuth(s.oauthForm("/oauth/token", refresh(rt), "svc1", "svc1-long-client-secret"), 200, "")
			s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": next.str("refresh_token")}).want(t, 401, "invalid_token")
			wantOAuth(s.oauthForm("/oauth/revoke", url.Values{"token": {next.str("refresh_token")}}, "svc1", "svc1-long-client-secret"), 200, "")
			s.do("GET", "/v1/me", next.str("access_token"), nil).want(t, 401, "invalid_token")

			// A token of no client (the JSON API) works at both endpoints,
			// for any client, as before.
			login := s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": goodPassword}).want(t, 200, "")
			o := wantOAuth(s.oauthForm("/oauth/token", refresh(login.str("refresh_token")), "svc2", "svc2-long-client-secret"), 200, "")
			s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": o.str("refresh_token")}).want(t, 200, "")
		})
	}
}
