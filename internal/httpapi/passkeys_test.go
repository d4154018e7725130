package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/passkey/passkeytest"
)

// Passkeys against the JSON API, with a software authenticator
// (descope/virtualwebauthn) playing the browser and the security key, on a
// real service and SQLite store with an injected clock. The relying party
// is the default public URL, http://localhost:8080.

var pkRP = virtualwebauthn.RelyingParty{Name: "latch", ID: "localhost", Origin: "http://localhost:8080"}

type pkEnv struct {
	*env
	mu     sync.Mutex
	events []auth.Event
}

func newPasskeyEnv(t *testing.T) *pkEnv {
	t.Helper()
	pe := &pkEnv{}
	cfg := auth.Config{Secret: []byte(strings.Repeat("k", 32)), WebAuthnOrigins: []string{"https://app.example.com"}}
	fx := authtest.New(t, cfg,
		authtest.WithClock(authtest.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))),
		lightHasher(),
		authtest.WithDeps(func(d *auth.Deps) {
			d.OnEvent = func(_ context.Context, e auth.Event) {
				pe.mu.Lock()
				defer pe.mu.Unlock()
				pe.events = append(pe.events, e)
			}
		}))
	h, logs := newTransport(t, Config{Service: fx.Service})
	pe.env = &env{h: h, svc: fx.Service, db: fx.DB, clock: fx.Clock, logs: logs}
	return pe
}

// eventsOf returns the types of the events so far for userID.
func (e *pkEnv) eventsOf(userID string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.events {
		if ev.UserID == userID {
			out = append(out, ev.Type)
		}
	}
	return out
}

// jsonOf decodes an answer's body, failing unless its status is status.
func jsonOf(t *testing.T, w *httptest.ResponseRecorder, status int) map[string]any {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d (body %s)", w.Code, status, w.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("body %s: %v", w.Body, err)
	}
	return m
}

// softKey is one authenticator holding one credential.
type softKey struct {
	a    virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

// register adds a passkey named name for the holder of access through the
// API and returns the key and the 201 answer.
func (e *pkEnv) register(t *testing.T, access, name, code string) (*softKey, map[string]any) {
	t.Helper()
	begin := jsonOf(t, e.call("POST", "/v1/passkeys/register/begin", mustJSON(map[string]string{"password": goodPassword, "code": code}), access), 200)
	opts, _ := json.Marshal(begin["publicKey"])
	att, err := virtualwebauthn.ParseAttestationOptions(string(opts))
	if err != nil {
		t.Fatalf("creation options %s: %v", opts, err)
	}
	k := &softKey{a: virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{}), cred: passkeytest.Credential()}
	k.a.Options.UserHandle = []byte(att.UserID)
	resp := virtualwebauthn.CreateAttestationResponse(pkRP, k.a, k.cred, *att)
	body := `{"challenge_id":"` + begin["challenge_id"].(string) + `","name":` + mustJSON(name) + `,"credential":` + resp + `}`
	added := jsonOf(t, e.call("POST", "/v1/passkeys/register/finish", body, access), 201)
	k.a.AddCredential(k.cred)
	return k, added
}

// assert answers the options of a login begin with k, as from origin rp.
func (k *softKey) assert(t *testing.T, begin map[string]any, rp virtualwebauthn.RelyingParty) string {
	t.Helper()
	opts, _ := json.Marshal(begin["publicKey"])
	ao, err := virtualwebauthn.ParseAssertionOptions(string(opts))
	if err != nil {
		t.Fatalf("request options %s: %v", opts, err)
	}
	k.cred.Counter++
	return virtualwebauthn.CreateAssertionResponse(rp, k.a, k.cred, *ao)
}

func finishBody(challengeID, credential, mfaToken string) string {
	b := `{"challenge_id":"` + challengeID + `","credential":` + credential
	if mfaToken != "" {
		b += `,"mfa_token":"` + mfaToken + `"`
	}
	return b + "}"
}

func claimsOf(t *testing.T, at string) map[string]any {
	t.Helper()
	parts := strings.Split(at, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func wantAMRACR(t *testing.T, at string, amr []string, acr string) {
	t.Helper()
	c := claimsOf(t, at)
	var got []string
	for _, v := range c["amr"].([]any) {
		got = append(got, v.(string))
	}
	if !slices.Equal(got, amr) || c["acr"] != acr {
		t.Fatalf("amr %v acr %v, want %v %v", got, c["acr"], amr, acr)
	}
}

// TestPasskeys: register (the first factor comes with recovery codes),
// list, rename, passwordless login, login as the second factor after the
// password, and removal; amr and acr say how each session was proved.
func TestPasskeys(t *testing.T) {
	e := newPasskeyEnv(t)
	su := tokens(t, e.call("POST", "/v1/signup", `{"email":"ada@example.com","password":"`+goodPassword+`"}`, ""), 201)
	at, uid := su.AccessToken, su.User.ID

	// Registration needs the password.
	wantProblem(t, e.call("POST", "/v1/passkeys/register/begin", `{}`, at), 400, "invalid_request")
	wantProblem(t, e.call("POST", "/v1/passkeys/register/begin", `{"password":"wrong password!"}`, at), 401, "invalid_credentials")
	wantProblem(t, e.call("POST", "/v1/passkeys/register/begin", `{"password":"x"}`, ""), 401, "invalid_token")
	key, added := e.register(t, at, "Laptop", "")
	codes, _ := added["recovery_codes"].([]any)
	if added["name"] != "Laptop" || added["id"] == "" || len(codes) != 10 {
		t.Fatalf("registered: %v", added)
	}
	pkID := added["id"].(string)

	// GET /v1/mfa lists it.
	st := jsonOf(t, e.call("GET", "/v1/mfa", "", at), 200)
	pks := st["passkeys"].([]any)
	if len(pks) != 1 || pks[0].(map[string]any)["id"] != pkID || pks[0].(map[string]any)["name"] != "Laptop" || st["recovery_codes_left"] != 10.0 || st["totp"] != false {
		t.Fatalf("GET /v1/mfa = %v", st)
	}

	// Rename.
	r := jsonOf(t, e.call("PATCH", "/v1/passkeys/"+pkID, `{"name":"Work laptop"}`, at), 200)
	if r["name"] != "Work laptop" || r["id"] != pkID {
		t.Fatalf("rename: %v", r)
	}
	wantProblem(t, e.call("PATCH", "/v1/passkeys/"+pkID, `{"name":"`+strings.Repeat("x", 65)+`"}`, at), 400, "invalid_request")
	wantProblem(t, e.call("PATCH", "/v1/passkeys/"+pkID, `{"name":"a\u0007b"}`, at), 400, "invalid_request")
	wantProblem(t, e.call("PATCH", "/v1/passkeys/"+pkID, `{"name":"x","id":"y"}`, at), 400, "invalid_request")
	wantProblem(t, e.call("PATCH", "/v1/passkeys/nope", `{"name":"x"}`, at), 404, "not_found")

	// The password alone no longer logs in: mfa_required offers the passkey.
	w := e.call("POST", "/v1/login", `{"email":"ada@example.com","password":"`+goodPassword+`"}`, "")
	mr := jsonOf(t, w, 403)
	if mr["code"] != "mfa_required" || !slices.Contains(toStrings(mr["methods"]), "passkey") || !slices.Contains(toStrings(mr["methods"]), "recovery_code") {
		t.Fatalf("mfa_required = %v", mr)
	}
	mfaToken := mr["mfa_token"].(string)

	// Second factor: the options allow this account's passkey only.
	begin := jsonOf(t, e.call("POST", "/v1/passkeys/login/begin", `{"mfa_token":"`+mfaToken+`"}`, ""), 200)
	if allow := begin["publicKey"].(map[string]any)["allowCredentials"].([]any); len(allow) != 1 {
		t.Fatalf("allowCredentials %v", allow)
	}
	cred := key.assert(t, begin, pkRP)
	// The mfa_token must come along, and be the one the challenge was begun with.
	wantProblem(t, e.call("POST", "/v1/passkeys/login/finish", finishBody(begin["challenge_id"].(string), cred, ""), ""), 400, "invalid_request")
	pair := tokens(t, e.call("POST", "/v1/passkeys/login/finish", finishBody(begin["challenge_id"].(string), cred, mfaToken), ""), 200)
	wantAMRACR(t, pair.AccessToken, []string{"pwd", "hwk", "mfa"}, "aal2")
	// The mfa_token and the challenge are spent.
	wantProblem(t, e.call("POST", "/v1/login/mfa", `{"mfa_token":"`+mfaToken+`","recovery_code":"`+codes[0].(string)+`"}`, ""), 400, "invalid_token")
	wantProblem(t, e.call("POST", "/v1/passkeys/login/begin", `{"mfa_token":"`+mfaToken+`"}`, ""), 400, "invalid_token")

	// Passwordless: no allow list, user verification required.
	begin = jsonOf(t, e.call("POST", "/v1/passkeys/login/begin", `{}`, ""), 200)
	pk := begin["publicKey"].(map[string]any)
	if pk["userVerification"] != "required" || pk["allowCredentials"] != nil || pk["rpId"] != "localhost" {
		t.Fatalf("discoverable options %v", pk)
	}
	pl := tokens(t, e.call("POST", "/v1/passkeys/login/finish", finishBody(begin["challenge_id"].(string), key.assert(t, begin, pkRP), ""), ""), 200)
	wantAMRACR(t, pl.AccessToken, []string{"hwk", "mfa"}, "aal2")
	if pl.User.ID != uid {
		t.Fatalf("passwordless login as %s, want %s", pl.User.ID, uid)
	}
	// No body at all begins a passwordless login too; another configured
	// origin is accepted.
	begin = jsonOf(t, e.call("POST", "/v1/passkeys/login/begin", "", ""), 200)
	other := virtualwebauthn.RelyingParty{ID: "localhost", Origin: "https://app.example.com"}
	tokens(t, e.call("POST", "/v1/passkeys/login/finish", finishBody(begin["challenge_id"].(string), key.assert(t, begin, other), ""), ""), 200)

	// last_used_at is set now.
	st = jsonOf(t, e.call("GET", "/v1/mfa", "", at), 200)
	if lu := st["passkeys"].([]any)[0].(map[string]any)["last_used_at"]; lu == "" || lu == nil {
		t.Fatalf("last_used_at after use: %v", st)
	}

	// Removal is a factor change: password and a code.
	wantProblem(t, e.call("DELETE", "/v1/passkeys/"+pkID, `{"password":"`+goodPassword+`"}`, at), 403, "mfa_required")
	wantProblem(t, e.call("DELETE", "/v1/passkeys/nope", `{"password":"`+goodPassword+`","code":"`+codes[1].(string)+`"}`, at), 404, "not_found")
	if w := e.call("DELETE", "/v1/passkeys/"+pkID, `{"password":"`+goodPassword+`","code":"`+codes[2].(string)+`"}`, at); w.Code != 204 {
		t.Fatalf("DELETE = %d %s", w.Code, w.Body)
	}
	st = jsonOf(t, e.call("GET", "/v1/mfa", "", at), 200)
	if len(st["passkeys"].([]any)) != 0 || st["recovery_codes_left"] != 0.0 {
		t.Fatalf("after removal: %v", st)
	}
	// The removed passkey logs in no more; the password alone does again.
	begin = jsonOf(t, e.call("POST", "/v1/passkeys/login/begin", `{}`, ""), 200)
	wantProblem(t, e.call("POST", "/v1/passkeys/login/finish", finishBody(begin["challenge_id"].(string), key.assert(t, begin, pkRP), ""), ""), 401, "invalid_credentials")
	tokens(t, e.call("POST", "/v1/login", `{"email":"ada@example.com","password":"`+goodPassword+`"}`, ""), 200)

	evs := e.eventsOf(uid)
	for _, want := range []string{auth.EventPasskeyAdded, auth.EventPasskeyRenamed, auth.EventPasskeyRemoved, auth.EventLogin} {
		if !slices.Contains(evs, want) {
			t.Errorf("no %s event; got %v", want, evs)
		}
	}
	// Each change mailed a notice.
	e.svc.Close()
	var notices []string
	for _, m := range authtest.DrainMail(t, e.db, e.clock.Now()) {
		if m.Kind == auth.MailMFAChanged {
			notices = append(notices, m.Message.Text)
		}
	}
	if len(notices) != 3 || !strings.Contains(notices[0], `"Laptop" was added`) || !strings.Contains(notices[1], "renamed") || !strings.Contains(notices[2], "removed") {
		t.Fatalf("notices: %q", notices)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestPasskeyRefusals: a replayed challenge, an expired one, a wrong
// origin, a sign counter that went backwards, a challenge of another
// session, and malformed credentials are each refused with a 4xx.
func TestPasskeyRefusals(t *testing.T) {
	e := newPasskeyEnv(t)
	su := tokens(t, e.call("POST", "/v1/signup", `{"email":"bo@example.com","password":"`+goodPassword+`"}`, ""), 201)
	key, added := e.register(t, su.AccessToken, "", "")
	if added["name"] != "Passkey" {
		t.Fatalf("default name: %v", added)
	}
	codes := toStrings(added["recovery_codes"])

	login := func() (map[string]any, string) {
		b := jsonOf(t, e.call("POST", "/v1/passkeys/login/begin", `{}`, ""), 200)
		return b, b["challenge_id"].(string)
	}

	// Replay: the same response, and the same challenge, work once.
	b, id := login()
	cred := key.assert(t, b, pkRP)
	tokens(t, e.call("POST", "/v1/passkeys/login/finish", finishBody(id, cred, ""), ""), 200)
	wantProblem(t, e.call("POST", "/v1/passkeys/login/finish", finishBody(id, cred, ""), ""), 400, "invalid_token")
	wantProblem(t, e.call("POST", "/v1/passkeys/login/finish", finishBody(id, key.assert(t, b, pkRP), ""), ""), 400, "invalid_token")

	// Expiry: 5 minutes, by the injected clock.
	b, id = login()
	cred = key.assert(t, b, pkRP)
	e.clock.Advance(5 * time.Minute)
	wantProblem(t, e.call("POST", "/v1/passkeys/login/finish", finishBody(id, cred, ""), ""), 400, "invalid_token")
	b, id = login()
	e.clock.Advance(5*time.Minute - time.Second)
	tokens(t, e.call("POST", "/v1/passkeys/login/finish", finishBody(id, key.assert(t, b, pkRP), ""), ""), 200)

	// A wrong origin or RP ID.
	for _, rp := range []virtualwebauthn.RelyingParty{
		{ID: "localhost", Origin: "https://evil.example"},
		{ID: "localhost", Origin: "http://localhost:8081"},
		{ID: "evil.example", Origin: "http://localhost:8080"},
	} {
		b, id = login()
		wantProblem(t, e.call("POST", "/v1/passkeys/login/finish", finishBody(id, key.assert(t, b, rp), ""), ""), 401, "invalid_credentials")
	}

	// A counter that goes backwards (a copy of the key): refused, audited,
	// the user told, the challenge spent; the key with the real counter
	// still works.
	clone := *key
	clone.cred.Counter = 1 // the key has signed more since
	b, id = login()
	back := clone.assert(t, b, pkRP)
	p := wantProblem(t, e.call("POST", "/v1/passkeys/login/finish", finishBody(id, back, ""), ""), 401, "invalid_credentials")
	if !strings.Contains(p.Detail, "counter") {
		t.Fatalf("regression detail %q", p.Detail)
	}
	wantProblem(t, e.call("POST", "/v1/passkeys/login/finish", finishBody(id, back, ""), ""), 400, "invalid_token")
	if !slices.Contains(e.eventsOf(su.User.ID), auth.EventPasskeyCounterRegressed) {
		t.Fatalf("no counter regression event: %v", e.eventsOf(su.User.ID))
	}
	// The same counter twice: the first is fine, the second a regression.
	b, id = login()
	same := key.assert(t, b, pkRP)
	key.cred.Counter--
	b2, id2 := login()
	again := key.assert(t, b2, pkRP)
	tokens(t, e.call("POST", "/v1/passkeys/login/finish", finishBody(id, same, ""), ""), 200)
	wantProblem(t, e.call("POST", "/v1/passkeys/login/finish", finishBody(id2, again, ""), ""), 401, "invalid_credentials")
	b, id = login()
	tokens(t, e.call("POST", "/v1/passkeys/login/finish", finishBody(id, key.assert(t, b, pkRP), ""), ""), 200)

	// A registration challenge belongs to its session.
	other := tokens(t, e.call("POST", "/v1/login/mfa", `{"mfa_token":"`+mfaTokenOf(t, e, "bo@example.com")+`","recovery_code":"`+codes[0]+`"}`, ""), 200)
	begin := jsonOf(t, e.call("POST", "/v1/passkeys/register/begin", mustJSON(map[string]string{"password": goodPassword, "code": codes[1]}), su.AccessToken), 200)
	opts, _ := json.Marshal(begin["publicKey"])
	att, err := virtualwebauthn.ParseAttestationOptions(string(opts))
	if err != nil {
		t.Fatal(err)
	}
	if len(att.ExcludeCredentials) != 1 {
		t.Fatalf("excludeCredentials %s", opts)
	}
	nk := passkeytest.Credential()
	resp := virtualwebauthn.CreateAttestationResponse(pkRP, key.a, nk, *att)
	regBody := `{"challenge_id":"` + begin["challenge_id"].(string) + `","credential":` + resp + `}`
	wantProblem(t, e.call("POST", "/v1/passkeys/register/finish", regBody, other.AccessToken), 400, "invalid_token")
	// A wrong origin at registration.
	bad := virtualwebauthn.CreateAttestationResponse(virtualwebauthn.RelyingParty{ID: "localhost", Origin: "https://evil.example"}, key.a, nk, *att)
	wantProblem(t, e.call("POST", "/v1/passkeys/register/finish", `{"challenge_id":"`+begin["challenge_id"].(string)+`","credential":`+bad+`}`, su.AccessToken), 400, "invalid_request")
	// The account's second passkey comes without new recovery codes.
	added2 := jsonOf(t, e.call("POST", "/v1/passkeys/register/finish", regBody, su.AccessToken), 201)
	if added2["recovery_codes"] != nil {
		t.Fatalf("second passkey answered recovery codes: %v", added2)
	}
	wantProblem(t, e.call("POST", "/v1/passkeys/register/finish", regBody, su.AccessToken), 400, "invalid_token")

	// Malformed requests.
	b, id = login()
	for _, body := range []string{
		`{"challenge_id":"` + id + `"}`,
		`{"challenge_id":"` + id + `","credential":null}`,
		`{"challenge_id":"` + id + `","credential":"abc"}`,
		`{"challenge_id":"` + id + `","credential":{}}`,
		`{"challenge_id":"` + id + `","credential":{"id":"AA","type":"public-key","response":{"clientDataJSON":"!!"}}}`,
		`{"credential":{}}`,
	} {
		wantProblem(t, e.call("POST", "/v1/passkeys/login/finish", body, ""), 400, "invalid_request")
	}
	wantProblem(t, e.call("POST", "/v1/passkeys/login/finish", finishBody("not-a-challenge", `{"id":"AA"}`, ""), ""), 400, "invalid_token")
	wantProblem(t, e.call("POST", "/v1/passkeys/login/begin", `{"mfa_token":"bogus"}`, ""), 400, "invalid_token")
	// The challenge survived the malformed attempts.
	tokens(t, e.call("POST", "/v1/passkeys/login/finish", finishBody(id, key.assert(t, b, pkRP), ""), ""), 200)

	// The user was told of the copied key.
	e.svc.Close()
	n := 0
	for _, m := range authtest.DrainMail(t, e.db, e.clock.Now()) {
		if m.Kind == auth.MailPasskeyCounter {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d counter notices, want 2", n)
	}
}

func mustAssertion(t *testing.T, begin map[string]any) virtualwebauthn.AssertionOptions {
	t.Helper()
	opts, _ := json.Marshal(begin["publicKey"])
	ao, err := virtualwebauthn.ParseAssertionOptions(string(opts))
	if err != nil {
		t.Fatal(err)
	}
	return *ao
}

func mfaTokenOf(t *testing.T, e *pkEnv, addr string) string {
	t.Helper()
	return jsonOf(t, e.call("POST", "/v1/login", `{"email":"`+addr+`","password":"`+goodPassword+`"}`, ""), 403)["mfa_token"].(string)
}

// TestPasskeyChallengeRace: concurrent finishes of one passwordless
// challenge by an authenticator without a counter; exactly one session.
func TestPasskeyChallengeRace(t *testing.T) {
	e := newPasskeyEnv(t)
	su := tokens(t, e.call("POST", "/v1/signup", `{"email":"cy@example.com","password":"`+goodPassword+`"}`, ""), 201)
	key, _ := e.register(t, su.AccessToken, "k", "")
	b := jsonOf(t, e.call("POST", "/v1/passkeys/login/begin", `{}`, ""), 200)
	key.cred.Counter = 0 // registered at 0: an authenticator that keeps no counter
	cred := virtualwebauthn.CreateAssertionResponse(pkRP, key.a, key.cred, mustAssertion(t, b))
	body := finishBody(b["challenge_id"].(string), cred, "")
	const n = 8
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { codes[i] = e.call("POST", "/v1/passkeys/login/finish", body, "").Code })
	}
	wg.Wait()
	wins := 0
	for _, c := range codes {
		switch c {
		case 200:
			wins++
		case 400:
		default:
			t.Errorf("status %d", c)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent finishes won, want 1 (%v)", wins, n, codes)
	}
}

// TestAdminResetRemovesPasskeys: an admin's reset takes passkeys too.
func TestAdminResetRemovesPasskeys(t *testing.T) {
	e := newPasskeyEnv(t)
	su := tokens(t, e.call("POST", "/v1/signup", `{"email":"di@example.com","password":"`+goodPassword+`"}`, ""), 201)
	key, _ := e.register(t, su.AccessToken, "k", "")
	if err := e.svc.AdminResetMFA(t.Context(), "admin", su.User.ID); err != nil {
		t.Fatal(err)
	}
	st := jsonOf(t, e.call("GET", "/v1/mfa", "", su.AccessToken), 200)
	if len(st["passkeys"].([]any)) != 0 || st["recovery_codes_left"] != 0.0 {
		t.Fatalf("after the reset: %v", st)
	}
	b := jsonOf(t, e.call("POST", "/v1/passkeys/login/begin", `{}`, ""), 200)
	wantProblem(t, e.call("POST", "/v1/passkeys/login/finish", finishBody(b["challenge_id"].(string), key.assert(t, b, pkRP), ""), ""), 401, "invalid_credentials")
	tokens(t, e.call("POST", "/v1/login", `{"email":"di@example.com","password":"`+goodPassword+`"}`, ""), 200)
}

// TestPasskeyStepUp: an account whose factor is a passkey proves it for a
// sensitive change with a step-up assertion, whose code works once, in
// its own session only.
func TestPasskeyStepUp(t *testing.T) {
	e := newPasskeyEnv(t)
	su := tokens(t, e.call("POST", "/v1/signup", `{"email":"eve@example.com","password":"`+goodPassword+`"}`, ""), 201)
	at := su.AccessToken
	key, added := e.register(t, at, "k", "")
	stepUp := func(access string) string {
		t.Helper()
		b := jsonOf(t, e.call("POST", "/v1/passkeys/step-up/begin", "", access), 200)
		if allow, _ := b["publicKey"].(map[string]any)["allowCredentials"].([]any); len(allow) == 0 {
			t.Fatalf("allowCredentials %v", allow)
		}
		r := jsonOf(t, e.call("POST", "/v1/passkeys/step-up/finish", finishBody(b["challenge_id"].(string), key.assert(t, b, pkRP), ""), access), 200)
		return r["code"].(string)
	}
	// Without a code the change asks for one, naming the passkey.
	p := wantProblem(t, e.call("POST", "/v1/passkeys/register/begin", `{"password":"`+goodPassword+`"}`, at), 403, "mfa_required")
	if !strings.Contains(p.Detail, "passkey") {
		t.Fatalf("mfa_required detail %q", p.Detail)
	}
	// A second passkey, with the first one's step-up code.
	code := stepUp(at)
	second, _ := e.register(t, at, "second", code)
	_ = second
	// The code is spent.
	wantProblem(t, e.call("DELETE", "/v1/passkeys/"+added["id"].(string), mustJSON(map[string]string{"password": goodPassword, "code": code}), at), 401, "invalid_credentials")
	// Another session's code does not serve this one.
	other := jsonOf(t, e.call("POST", "/v1/passkeys/login/begin", `{}`, ""), 200)
	otherPair := tokens(t, e.call("POST", "/v1/passkeys/login/finish", finishBody(other["challenge_id"].(string), key.assert(t, other, pkRP), ""), ""), 200)
	foreign := stepUp(otherPair.AccessToken)
	wantProblem(t, e.call("DELETE", "/v1/passkeys/"+added["id"].(string), mustJSON(map[string]string{"password": goodPassword, "code": foreign}), at), 401, "invalid_credentials")
	// An expired one neither.
	late := stepUp(at)
	e.clock.Advance(5 * time.Minute)
	wantProblem(t, e.call("DELETE", "/v1/passkeys/"+added["id"].(string), mustJSON(map[string]string{"password": goodPassword, "code": late}), at), 401, "invalid_credentials")
	// A fresh one removes the first passkey; the password is still needed.
	code = stepUp(at)
	wantProblem(t, e.call("DELETE", "/v1/passkeys/"+added["id"].(string), mustJSON(map[string]string{"password": "wrong password!", "code": code}), at), 401, "invalid_credentials")
	if w := e.call("DELETE", "/v1/passkeys/"+added["id"].(string), mustJSON(map[string]string{"password": goodPassword, "code": code}), at); w.Code != 204 {
		t.Fatalf("DELETE with a step-up code = %d %s", w.Code, w.Body)
	}
	st := jsonOf(t, e.call("GET", "/v1/mfa", "", at), 200)
	if len(st["passkeys"].([]any)) != 1 || st["recovery_codes_left"] != 10.0 {
		t.Fatalf("after removing one of two: %v", st)
	}
	// An account without a passkey has nothing to prove.
	nobody := tokens(t, e.call("POST", "/v1/signup", `{"email":"nopk@example.com","password":"`+goodPassword+`"}`, ""), 201)
	wantProblem(t, e.call("POST", "/v1/passkeys/step-up/begin", "", nobody.AccessToken), 400, "invalid_request")
}
