package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/auth"
)

// refreshGrant is a refresh_token grant body with extra pairs.
func refreshGrant(rt string, kv ...string) string {
	return formOf(append([]string{"grant_type", "refresh_token", "refresh_token", rt}, kv...)...)
}

// A refresh token issued through a confidential client is refreshed only by
// that client, authenticated (RFC 6749 §6); one issued to a public
// client_id only with that client_id. Refusals change nothing: the rightful
// client refreshes afterwards. Tokens of no client work everywhere.
func TestOAuthRefreshBoundToClient(t *testing.T) {
	e := newOAuthEnv(t, auth.Config{})
	signupUser(t, e)
	appBasic := []string{"Authorization", basic("app", clientSecret)}
	hashedBasic := []string{"Authorization", basic("hashed", "another long client secret")}
	jsonRefresh := func(rt string) *httptest.ResponseRecorder {
		return e.call("POST", "/v1/token/refresh", `{"refresh_token":"`+rt+`"}`, "")
	}

	t.Run("confidential client", func(t *testing.T) {
		a := oauthTokens(t, e.form("/oauth/token", passwordGrant(), appBasic...))
		wantOAuthError(t, e.form("/oauth/token", refreshGrant(a.RefreshToken)), 400, "invalid_grant")
		wantOAuthError(t, e.form("/oauth/token", refreshGrant(a.RefreshToken, "client_id", "my-spa")), 400, "invalid_grant")
		wantOAuthError(t, e.form("/oauth/token", refreshGrant(a.RefreshToken), hashedBasic...), 400, "invalid_grant")
		// Its id without its secret is no client authentication at all.
		wantOAuthError(t, e.form("/oauth/token", refreshGrant(a.RefreshToken, "client_id", "app")), 401, "invalid_client")
		// The JSON API has no client authentication: refused there too.
		wantProblem(t, jsonRefresh(a.RefreshToken), 401, "invalid_token")

		// None of that ended the session or counted as a reuse.
		if w := e.call("GET", "/v1/me", "", a.AccessToken); w.Code != 200 {
			t.Fatalf("GET /v1/me after refused refreshes = %d %s", w.Code, w.Body)
		}
		b := oauthTokens(t, e.form("/oauth/token", refreshGrant(a.RefreshToken), appBasic...))
		// The successor stays bound, whichever way the client authenticates.
		wantOAuthError(t, e.form("/oauth/token", refreshGrant(b.RefreshToken)), 400, "invalid_grant")
		wantProblem(t, jsonRefresh(b.RefreshToken), 401, "invalid_token")
		c := oauthTokens(t, e.form("/oauth/token", refreshGrant(b.RefreshToken, "client_id", "app", "client_secret", clientSecret)))
		wantOAuthError(t, e.form("/oauth/token", refreshGrant(c.RefreshToken), hashedBasic...), 400, "invalid_grant")
		oauthTokens(t, e.form("/oauth/token", refreshGrant(c.RefreshToken), appBasic...))
	})

	t.Run("public client id", func(t *testing.T) {
		a := oauthTokens(t, e.form("/oauth/token", passwordGrant("client_id", "my-spa")))
		wantOAuthError(t, e.form("/oauth/token", refreshGrant(a.RefreshToken)), 400, "invalid_grant")
		wantOAuthError(t, e.form("/oauth/token", refreshGrant(a.RefreshToken, "client_id", "other-spa")), 400, "invalid_grant")
		wantOAuthError(t, e.form("/oauth/token", refreshGrant(a.RefreshToken), appBasic...), 400, "invalid_grant")
		wantProblem(t, jsonRefresh(a.RefreshToken), 401, "invalid_token")
		b := oauthTokens(t, e.form("/oauth/token", refreshGrant(a.RefreshToken, "client_id", "my-spa")))
		oauthTokens(t, e.form("/oauth/token", refreshGrant(b.RefreshToken), "Authorization", basic("my-spa", "")))
	})

	t.Run("no client", func(t *testing.T) {
		// From the JSON API and from the token endpoint without a client:
		// usable at both endpoints, by anyone holding the token, as before.
		login := tokens(t, e.call("POST", "/v1/login", `{"email":"ada@example.com","password":"`+goodPassword+`"}`, ""), 200)
		a := oauthTokens(t, e.form("/oauth/token", refreshGrant(login.RefreshToken), appBasic...))
		b := oauthTokens(t, e.form("/oauth/token", refreshGrant(a.RefreshToken, "client_id", "my-spa")))
		c := tokens(t, jsonRefresh(b.RefreshToken), 200)
		d := oauthTokens(t, e.form("/oauth/token", passwordGrant()))
		f := tokens(t, jsonRefresh(d.RefreshToken), 200)
		oauthTokens(t, e.form("/oauth/token", refreshGrant(c.RefreshToken)))
		oauthTokens(t, e.form("/oauth/token", refreshGrant(f.RefreshToken), hashedBasic...))
	})

	t.Run("password change keeps the binding", func(t *testing.T) {
		a := oauthTokens(t, e.form("/oauth/token", passwordGrant(), appBasic...))
		ch := tokens(t, e.call("POST", "/v1/password/change",
			`{"current_password":"`+goodPassword+`","new_password":"another good passphrase"}`, a.AccessToken), 200)
		wantProblem(t, jsonRefresh(ch.RefreshToken), 401, "invalid_token")
		oauthTokens(t, e.form("/oauth/token", refreshGrant(ch.RefreshToken), appBasic...))
	})
}

// A client revokes only its own tokens (RFC 7009 §2.1): revoking a token of
// a session bound to another client answers the same 200 and ends nothing.
func TestOAuthRevokeRespectsClient(t *testing.T) {
	e := newOAuthEnv(t, auth.Config{})
	signupUser(t, e)
	appBasic := []string{"Authorization", basic("app", clientSecret)}
	hashedBasic := []string{"Authorization", basic("hashed", "another long client secret")}
	revoke := func(tok string, kv ...string) {
		t.Helper()
		body := formOf("token", tok)
		var hdr []string
		if len(kv) > 0 && kv[0] == "Authorization" {
			hdr = kv
		} else {
			body = formOf(append([]string{"token", tok}, kv...)...)
		}
		w := e.form("/oauth/revoke", body, hdr...)
		if w.Code != 200 || w.Body.Len() != 0 {
			t.Fatalf("revoke = %d %q, want 200 and no body", w.Code, w.Body)
		}
	}
	alive := func(at string) {
		t.Helper()
		if w := e.call("GET", "/v1/me", "", at); w.Code != 200 {
			t.Fatalf("GET /v1/me = %d %s, want the session still alive", w.Code, w.Body)
		}
	}

	a := oauthTokens(t, e.form("/oauth/token", passwordGrant(), appBasic...))
	for _, tok := range []string{a.RefreshToken, a.AccessToken} {
		revoke(tok)
		revoke(tok, hashedBasic...)
		revoke(tok, "client_id", "my-spa")
		alive(a.AccessToken)
	}
	a = oauthTokens(t, e.form("/oauth/token", refreshGrant(a.RefreshToken), appBasic...))
	revoke(a.RefreshToken, appBasic...)
	wantProblem(t, e.call("GET", "/v1/me", "", a.AccessToken), 401, "invalid_token")
	wantOAuthError(t, e.form("/oauth/token", refreshGrant(a.RefreshToken), appBasic...), 400, "invalid_grant")

	// The access token of a client's session, revoked by that client.
	b := oauthTokens(t, e.form("/oauth/token", passwordGrant(), hashedBasic...))
	revoke(b.AccessToken, appBasic...)
	alive(b.AccessToken)
	revoke(b.AccessToken, hashedBasic...)
	wantProblem(t, e.call("GET", "/v1/me", "", b.AccessToken), 401, "invalid_token")

	// A public client's: only with its client_id.
	c := oauthTokens(t, e.form("/oauth/token", passwordGrant("client_id", "my-spa")))
	revoke(c.RefreshToken)
	revoke(c.RefreshToken, appBasic...)
	alive(c.AccessToken)
	revoke(c.RefreshToken, "client_id", "my-spa")
	wantProblem(t, e.call("GET", "/v1/me", "", c.AccessToken), 401, "invalid_token")

	// Tokens of no client: anyone holding them, as before.
	d := oauthTokens(t, e.form("/oauth/token", passwordGrant()))
	revoke(d.RefreshToken, hashedBasic...)
	wantProblem(t, e.call("GET", "/v1/me", "", d.AccessToken), 401, "invalid_token")
}

// Introspection: a refresh token bound to a client is active only to that
// client and the admin key (no one else ever needs to see it); access
// tokens, meant for resource servers, to every introspecting client.
func TestOAuthIntrospectRespectsClient(t *testing.T) {
	e := newOAuthEnv(t, auth.Config{})
	signupUser(t, e)
	appBasic := []string{"Authorization", basic("app", clientSecret)}
	hashedBasic := []string{"Authorization", basic("hashed", "another long client secret")}
	admin := []string{"Authorization", "Bearer " + adminKey}

	a := oauthTokens(t, e.form("/oauth/token", passwordGrant(), appBasic...))
	w := e.form("/oauth/introspect", formOf("token", a.RefreshToken), hashedBasic...)
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"active":false}` {
		t.Errorf("another client introspecting a bound refresh token = %d %s, want {\"active\":false}", w.Code, w.Body)
	}
	for name, kv := range map[string][]string{"the client": appBasic, "the admin key": admin} {
		if m := e.introspect(t, a.RefreshToken, kv...); m["active"] != true {
			t.Errorf("%s introspecting its refresh token = %v, want active", name, m)
		}
	}
	if m := e.introspect(t, a.AccessToken, hashedBasic...); m["active"] != true {
		t.Errorf("a resource server introspecting an access token = %v, want active", m)
	}
	// Looking did not use it.
	oauthTokens(t, e.form("/oauth/token", refreshGrant(a.RefreshToken), appBasic...))

	b := oauthTokens(t, e.form("/oauth/token", passwordGrant()))
	if m := e.introspect(t, b.RefreshToken, hashedBasic...); m["active"] != true {
		t.Errorf("a refresh token of no client = %v, want active to any introspecting client", m)
	}
}
