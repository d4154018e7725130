package main

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/descope/virtualwebauthn"

	"github.com/latchauth/latch/internal/passkey/passkeytest"
)

// Passkeys through a real latch started by run() on port 0, with a
// software authenticator (descope/virtualwebauthn) playing the browser and
// the security key. The relying party is LATCH_PUBLIC_URL's host
// (latch.test in these tests); LATCH_WEBAUTHN_ORIGINS adds origins.

var (
	latchRP = virtualwebauthn.RelyingParty{Name: "latch", ID: "latch.test", Origin: "http://latch.test"}
	appRP   = virtualwebauthn.RelyingParty{Name: "latch", ID: "latch.test", Origin: "https://app.latch.test"}
)

// passkeyHolder is an authenticator with one credential.
type passkeyHolder struct {
	t    *testing.T
	a    virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

// attest answers a register/begin answer's creation options.
func (h *passkeyHolder) attest(begin map[string]any, rp virtualwebauthn.RelyingParty) string {
	h.t.Helper()
	opts, _ := json.Marshal(begin["publicKey"])
	att, err := virtualwebauthn.ParseAttestationOptions(string(opts))
	if err != nil {
		h.t.Fatalf("creation options %s: %v", opts, err)
	}
	h.a.Options.UserHandle = []byte(att.UserID)
	return virtualwebauthn.CreateAttestationResponse(rp, h.a, h.cred, *att)
}

// assert answers a login/begin answer's request options, with the next
// sign counter.
func (h *passkeyHolder) assert(begin map[string]any, rp virtualwebauthn.RelyingParty) string {
	h.t.Helper()
	opts, _ := json.Marshal(begin["publicKey"])
	ao, err := virtualwebauthn.ParseAssertionOptions(string(opts))
	if err != nil {
		h.t.Fatalf("request options %s: %v", opts, err)
	}
	h.cred.Counter++
	return virtualwebauthn.CreateAssertionResponse(rp, h.a, h.cred, *ao)
}

func newPasskeyHolder(t *testing.T) *passkeyHolder {
	return &passkeyHolder{t: t, a: virtualwebauthn.NewAuthenticator(), cred: passkeytest.Credential()}
}

// registerPasskey adds h's credential to the holder of access and returns
// the 201 answer.
func (s *server) registerPasskey(h *passkeyHolder, access, name, code string) *response {
	s.t.Helper()
	body := map[string]string{"password": goodPassword}
	if code != "" {
		body["code"] = code
	}
	begin := s.do("POST", "/v1/passkeys/register/begin", access, body).want(s.t, 200, "")
	if begin.Header.Get("Cache-Control") != "no-store" || begin.str("challenge_id") == "" {
		s.t.Fatalf("register/begin: %v %s", begin.Header, begin.Raw)
	}
	return s.do("POST", "/v1/passkeys/register/finish", access,
		`{"challenge_id":"`+begin.str("challenge_id")+`","name":`+jsonString(name)+`,"credential":`+h.attest(begin.Body, latchRP)+`}`).want(s.t, 201, "")
}

func jsonString(v string) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func passkeyFinish(challengeID, credential, mfaToken string) string {
	b := `{"challenge_id":"` + challengeID + `","credential":` + credential
	if mfaToken != "" {
		b += `,"mfa_token":"` + mfaToken + `"`
	}
	return b + "}"
}

// TestPasskeyLogin: a passkey added after the password becomes the second
// factor of a password login, and logs in alone (passwordless, user
// verified); replayed and foreign-origin assertions are refused; amr/acr
// say how; a removed passkey logs in no more. On SQLite and PostgreSQL.
func TestPasskeyLogin(t *testing.T) {
	adminFlavours(t, func(t *testing.T, env map[string]string) {
		env["LATCH_WEBAUTHN_ORIGINS"] = "https://app.latch.test"
		s := startServer(t, env)
		const addr = "pia@example.com"
		id := s.adminCreate(addr)
		access := s.login(addr, goodPassword).str("access_token")
		key := newPasskeyHolder(t)
		added := s.registerPasskey(key, access, "YubiKey", "")
		recovery := added.Body["recovery_codes"].([]any)
		if added.str("name") != "YubiKey" || len(recovery) != 10 {
			t.Fatalf("register/finish: %s", added.Raw)
		}
		if !strings.Contains(s.mailTo(addr, 1)["subject"].(string), "second factor") {
			t.Fatal("no notice of the new passkey")
		}
		st := s.do("GET", "/v1/mfa", access, nil).want(t, 200, "")
		if pks := st.Body["passkeys"].([]any); len(pks) != 1 || pks[0].(map[string]any)["name"] != "YubiKey" {
			t.Fatalf("GET /v1/mfa: %s", st.Raw)
		}
		pkID := added.str("id")
		s.do("PATCH", "/v1/passkeys/"+pkID, access, map[string]string{"name": "Blue key"}).want(t, 200, "")

		// Password, then the passkey.
		r := s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": goodPassword}).want(t, 403, "mfa_required")
		if m := r.Body["methods"].([]any); !slices.Contains(m, any("passkey")) {
			t.Fatalf("methods: %s", r.Raw)
		}
		mt := r.str("mfa_token")
		begin := s.do("POST", "/v1/passkeys/login/begin", "", map[string]string{"mfa_token": mt}).want(t, 200, "")
		cred := key.assert(begin.Body, latchRP)
		pair := s.do("POST", "/v1/passkeys/login/finish", "", passkeyFinish(begin.str("challenge_id"), cred, mt)).want(t, 200, "")
		wantAMR(t, pair.str("access_token"), []string{"pwd", "hwk", "mfa"}, "aal2")
		// Replayed: the challenge is spent.
		s.do("POST", "/v1/passkeys/login/finish", "", passkeyFinish(begin.str("challenge_id"), cred, mt)).want(t, 400, "invalid_token")

		// Passwordless, from the public URL's origin and the configured one.
		for _, rp := range []virtualwebauthn.RelyingParty{latchRP, appRP} {
			begin = s.do("POST", "/v1/passkeys/login/begin", "", map[string]string{}).want(t, 200, "")
			pl := s.do("POST", "/v1/passkeys/login/finish", "", passkeyFinish(begin.str("challenge_id"), key.assert(begin.Body, rp), "")).want(t, 200, "")
			wantAMR(t, pl.str("access_token"), []string{"hwk", "mfa"}, "aal2")
			if u := pl.Body["user"].(map[string]any); u["id"] != id {
				t.Fatalf("passwordless login as %v, want %s", u["id"], id)
			}
			// The session keeps its amr across a refresh.
			ref := s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": pl.str("refresh_token")}).want(t, 200, "")
			wantAMR(t, ref.str("access_token"), []string{"hwk", "mfa"}, "aal2")
		}
		// Any other origin is refused.
		begin = s.do("POST", "/v1/passkeys/login/begin", "", map[string]string{}).want(t, 200, "")
		evil := virtualwebauthn.RelyingParty{ID: "latch.test", Origin: "https://evil.example"}
		s.do("POST", "/v1/passkeys/login/finish", "", passkeyFinish(begin.str("challenge_id"), key.assert(begin.Body, evil), "")).want(t, 401, "invalid_credentials")

		// A user handle that names no account (not even a valid id) is a
		// refusal, not a store error.
		for _, handle := range [][]byte{{0xff, 0xfe, 0x00}, []byte("nobody"), []byte(strings.Repeat("x", 65))} {
			begin = s.do("POST", "/v1/passkeys/login/begin", "", map[string]string{}).want(t, 200, "")
			stranger := *key
			stranger.a.Options.UserHandle = handle
			s.do("POST", "/v1/passkeys/login/finish", "", passkeyFinish(begin.str("challenge_id"), stranger.assert(begin.Body, latchRP), "")).want(t, 401, "invalid_credentials")
			key.cred.Counter = stranger.cred.Counter
		}
		// A disabled account: said to the passkey's holder only.
		s.do("PATCH", "/admin/v1/users/"+id, testAdminKey, map[string]any{"disabled": true}).want(t, 200, "")
		begin = s.do("POST", "/v1/passkeys/login/begin", "", map[string]string{}).want(t, 200, "")
		s.do("POST", "/v1/passkeys/login/finish", "", passkeyFinish(begin.str("challenge_id"), key.assert(begin.Body, latchRP), "")).want(t, 403, "account_disabled")
		s.do("PATCH", "/admin/v1/users/"+id, testAdminKey, map[string]any{"disabled": false}).want(t, 200, "")
		// Disabling ended the sessions: a new one, passwordless.
		begin = s.do("POST", "/v1/passkeys/login/begin", "", map[string]string{}).want(t, 200, "")
		access = s.do("POST", "/v1/passkeys/login/finish", "", passkeyFinish(begin.str("challenge_id"), key.assert(begin.Body, latchRP), "")).want(t, 200, "").str("access_token")

		// Removal: password and a recovery code.
		s.do("DELETE", "/v1/passkeys/"+pkID, access, map[string]string{"password": goodPassword, "code": recovery[0].(string)}).want(t, 204, "")
		begin = s.do("POST", "/v1/passkeys/login/begin", "", map[string]string{}).want(t, 200, "")
		s.do("POST", "/v1/passkeys/login/finish", "", passkeyFinish(begin.str("challenge_id"), key.assert(begin.Body, latchRP), "")).want(t, 401, "invalid_credentials")
		s.login(addr, goodPassword)

		// Audited.
		a := s.do("GET", "/admin/v1/audit?user_id="+id, testAdminKey, nil).want(t, 200, "")
		for _, typ := range []string{"passkey_added", "passkey_renamed", "passkey_removed"} {
			if !strings.Contains(a.Raw, `"type":"`+typ+`"`) {
				t.Errorf("no %s in the audit log: %s", typ, a.Raw)
			}
		}
	})
}

// TestPasskeyOAuthMFAGrant: an OAuth client using the password grant
// finishes a login whose second factor is a passkey at the token
// endpoint: it begins at /v1/passkeys/login/begin with the mfa_token and
// sends challenge_id and credential with the MFA grant, authenticated as
// itself. The session is bound to that client; the mfa_token works for
// no other client, nor at the JSON API's finish.
func TestPasskeyOAuthMFAGrant(t *testing.T) {
	t.Parallel()
	s := startAdmin(t)
	const addr = "oz@example.com"
	s.adminCreate(addr)
	key := newPasskeyHolder(t)
	s.registerPasskey(key, s.login(addr, goodPassword).str("access_token"), "Key", "")
	reg := s.registerClient(map[string]any{"name": "Desk", "type": "confidential", "grant_types": []string{"password", "refresh_token"}})
	id, secret := reg.str("client_id"), reg.str("client_secret")
	other := s.registerClient(map[string]any{"name": "Other", "type": "confidential", "grant_types": []string{"password", "refresh_token"}})

	password := func() string {
		t.Helper()
		st, b := s.tokenForm(url.Values{"grant_type": {"password"}, "username": {addr}, "password": {goodPassword}}, id, secret)
		detail, _ := b["error_description"].(string)
		if st != 403 || b["error"] != "mfa_required" || !strings.Contains(detail, "challenge_id") {
			t.Fatalf("password grant of an account with a passkey: %d %v", st, b)
		}
		if m, _ := b["methods"].([]any); !slices.Contains(m, any("passkey")) {
			t.Fatalf("methods: %v", b)
		}
		return b["mfa_token"].(string)
	}
	begin := func(mt string) (string, string) {
		t.Helper()
		r := s.do("POST", "/v1/passkeys/login/begin", "", map[string]string{"mfa_token": mt}).want(t, 200, "")
		return r.str("challenge_id"), key.assert(r.Body, latchRP)
	}
	grant := func(mt, challenge, cred string) url.Values {
		return url.Values{"grant_type": {"urn:latch:params:oauth:grant-type:mfa"}, "mfa_token": {mt}, "challenge_id": {challenge}, "credential": {cred}}
	}

	mt := password()
	challenge, cred := begin(mt)
	// Another client, or none, cannot finish with it.
	if st, b := s.tokenForm(grant(mt, challenge, cred), other.str("client_id"), other.str("client_secret")); st != 400 || b["error"] != "invalid_grant" {
		t.Fatalf("the MFA grant by another client: %d %v", st, b)
	}
	s.do("POST", "/v1/passkeys/login/finish", "", passkeyFinish(challenge, cred, mt)).want(t, 400, "invalid_token")
	// Malformed: both a code and a passkey, or half a passkey.
	for _, bad := range []url.Values{
		func() url.Values { v := grant(mt, challenge, cred); v.Set("otp", "123456"); return v }(),
		{"grant_type": {"urn:latch:params:oauth:grant-type:mfa"}, "mfa_token": {mt}, "challenge_id": {challenge}},
		{"grant_type": {"urn:latch:params:oauth:grant-type:mfa"}, "mfa_token": {mt}, "credential": {cred}},
	} {
		if st, b := s.tokenForm(bad, id, secret); st != 400 || b["error"] != "invalid_request" {
			t.Fatalf("malformed MFA grant %v: %d %v", bad, st, b)
		}
	}

	// The right client, with a fresh ceremony (the challenge above was
	// spent by the refused finish).
	challenge, cred = begin(mt)
	st, b := s.tokenForm(grant(mt, challenge, cred), id, secret)
	if st != 200 || b["refresh_token"] == nil {
		t.Fatalf("the MFA grant with a passkey: %d %v", st, b)
	}
	wantAMR(t, b["access_token"].(string), []string{"pwd", "hwk", "mfa"}, "aal2")
	// The mfa_token is spent.
	challenge2, cred2 := "", ""
	if r := s.do("POST", "/v1/passkeys/login/begin", "", map[string]string{"mfa_token": mt}); r.Status == 200 {
		challenge2, cred2 = r.str("challenge_id"), key.assert(r.Body, latchRP)
	}
	if st, _ := s.tokenForm(grant(mt, challenge2, cred2), id, secret); st == 200 {
		t.Fatal("a spent mfa_token finished a second login")
	}
	// The session is the client's: refreshed through it, not without it.
	rf := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {b["refresh_token"].(string)}}
	if st, _ := s.tokenForm(rf, "", ""); st != 400 {
		t.Fatalf("refresh without the client: %d", st)
	}
	if st, b := s.tokenForm(rf, id, secret); st != 200 {
		t.Fatalf("refresh through the client: %d %v", st, b)
	}
}

// passkeysOpenAPI drives each passkey route through TestOpenAPIResponses's
// validating client.
func passkeysOpenAPI[A any](t *testing.T, call func(method, path, bearer string, body any) A, want func(A, int) A, str func(A, string) string, body func(A) map[string]any, adminKey, pw string) {
	t.Helper()
	const addr = "openapi-passkey@example.com"
	want(call("POST", "/admin/v1/users", adminKey, map[string]any{"email": addr, "password": pw, "email_confirmed": true}), 201)
	at := str(want(call("POST", "/v1/login", "", map[string]string{"email": addr, "password": pw}), 200), "access_token")
	key := newPasskeyHolder(t)
	begin := want(call("POST", "/v1/passkeys/register/begin", at, map[string]string{"password": pw}), 200)
	want(call("POST", "/v1/passkeys/register/finish", at, `{"challenge_id":"`+str(begin, "challenge_id")+`","credential":{}}`), 400)
	added := want(call("POST", "/v1/passkeys/register/finish", at, `{"challenge_id":"`+str(begin, "challenge_id")+`","name":"k","credential":`+key.attest(body(begin), latchRP)+`}`), 201)
	codes, _ := body(added)["recovery_codes"].([]any)
	if len(codes) != 10 {
		t.Fatalf("register/finish answered %v", body(added))
	}
	want(call("PATCH", "/v1/passkeys/"+str(added, "id"), at, map[string]string{"name": "key"}), 200)
	want(call("PATCH", "/v1/passkeys/nope", at, map[string]string{"name": "key"}), 404)
	lb := want(call("POST", "/v1/passkeys/login/begin", "", map[string]string{}), 200)
	want(call("POST", "/v1/passkeys/login/finish", "", passkeyFinish(str(lb, "challenge_id"), key.assert(body(lb), latchRP), "")), 200)
	want(call("POST", "/v1/passkeys/login/finish", "", passkeyFinish(str(lb, "challenge_id"), key.assert(body(lb), latchRP), "")), 400)
	want(call("DELETE", "/v1/passkeys/"+str(added, "id"), at, map[string]string{"password": pw}), 403)
	sb := want(call("POST", "/v1/passkeys/step-up/begin", at, nil), 200)
	want(call("POST", "/v1/passkeys/step-up/finish", at, `{"challenge_id":"`+str(sb, "challenge_id")+`"}`), 400)
	code := str(want(call("POST", "/v1/passkeys/step-up/finish", at, passkeyFinish(str(sb, "challenge_id"), key.assert(body(sb), latchRP), "")), 200), "code")
	want(call("DELETE", "/v1/passkeys/"+str(added, "id"), at, map[string]string{"password": pw, "code": code}), 204)
	want(call("DELETE", "/v1/passkeys/"+str(added, "id"), at, map[string]string{"password": pw, "code": codes[0].(string)}), 404)
}
