package pages_test

import (
	"context"
	"encoding/json"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/descope/virtualwebauthn"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/passkey/passkeytest"
)

// The security page's passkey endpoints with a software authenticator
// (descope/virtualwebauthn) playing the browser's part.
var pagesRP = virtualwebauthn.RelyingParty{Name: "Acme ID", ID: "id.example.com", Origin: publicURL}

func jsonAnswer(t *testing.T, p *page, status int) map[string]any {
	t.Helper()
	p.want(t, status)
	var m map[string]any
	if err := json.Unmarshal([]byte(p.Body), &m); err != nil {
		t.Fatalf("%s: %v", p.Body, err)
	}
	return m
}

func TestSecurityPagePasskeyCeremonies(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.confirmed("cer@example.com")
	b := f.signedIn(t, "cer@example.com")
	other := f.signedIn(t, "cer@example.com") // another browser of the same person
	csrf := b.get("/account/security").want(t, 200).csrf(t)
	otherCSRF := other.get("/account/security").want(t, 200).csrf(t)

	begin := jsonAnswer(t, b.post("/account/security/passkeys/begin", url.Values{"csrf": {csrf}, "password": {goodPW}}), 200)
	opts, _ := json.Marshal(begin["publicKey"])
	att, err := virtualwebauthn.ParseAttestationOptions(string(opts))
	if err != nil {
		t.Fatalf("creation options %s: %v", opts, err)
	}
	a := virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(att.UserID)})
	cred := passkeytest.Credential()
	resp := virtualwebauthn.CreateAttestationResponse(pagesRP, a, cred, *att)
	finish := url.Values{"challenge_id": {begin["challenge_id"].(string)}, "name": {"Soft key"}, "credential": {resp}}

	// The challenge belongs to the browser session that began it.
	finish.Set("csrf", otherCSRF)
	if p := other.post("/account/security/passkeys/finish", finish); p.Status < 400 || p.Status >= 500 {
		t.Fatalf("another browser session finished the registration: %d %s", p.Status, p.Body)
	}
	finish.Set("csrf", csrf)
	added := jsonAnswer(t, b.post("/account/security/passkeys/finish", finish), 201)
	if added["name"] != "Soft key" || len(added["recovery_codes"].([]any)) != 10 {
		t.Fatalf("added %v", added)
	}
	a.AddCredential(cred)
	// Once only.
	if p := b.post("/account/security/passkeys/finish", finish); p.Status < 400 || p.Status >= 500 {
		t.Fatalf("a finished registration finished again: %d", p.Status)
	}
	b.get("/account/security").want(t, 200, "Soft key", "last used never")

	// Sign in with it in a fresh browser: the cookie, then the page.
	n := f.browser()
	loginCSRF := n.get("/login").csrf(t)
	lb := jsonAnswer(t, n.post("/login/passkey/begin", url.Values{"csrf": {loginCSRF}}), 200)
	ro, _ := json.Marshal(lb["publicKey"])
	ao, err := virtualwebauthn.ParseAssertionOptions(string(ro))
	if err != nil {
		t.Fatal(err)
	}
	cred.Counter++
	assertion := virtualwebauthn.CreateAssertionResponse(pagesRP, a, cred, *ao)
	lf := url.Values{"csrf": {loginCSRF}, "challenge_id": {lb["challenge_id"].(string)}, "credential": {assertion}}
	done := jsonAnswer(t, n.post("/login/passkey/finish", lf), 200)
	if done["location"] != "/account/security" {
		t.Errorf("location %v", done["location"])
	}
	n.get("/account/security").want(t, 200, "cer@example.com", "Soft key")
	// The same assertion again: refused, no second session.
	replay := f.browser()
	rc := replay.get("/login").csrf(t)
	lf.Set("csrf", rc)
	if p := replay.post("/login/passkey/finish", lf); p.Status != 400 && p.Status != 401 {
		t.Errorf("replayed assertion: %d %s", p.Status, p.Body)
	}
	if p := replay.get("/account/security"); p.Status != 303 {
		t.Errorf("the replay signed in: %d", p.Status)
	}
	// redirect_to is honoured when it is a path of latch's; another
	// origin's is dropped.
	for to, want := range map[string]string{"/account/security?x=1": "/account/security?x=1", "https://evil.example/": "/account/security"} {
		c := f.browser()
		cc := c.get("/login").csrf(t)
		lb := jsonAnswer(t, c.post("/login/passkey/begin", url.Values{"csrf": {cc}}), 200)
		ro, _ := json.Marshal(lb["publicKey"])
		ao, _ := virtualwebauthn.ParseAssertionOptions(string(ro))
		cred.Counter++
		as := virtualwebauthn.CreateAssertionResponse(pagesRP, a, cred, *ao)
		got := jsonAnswer(t, c.post("/login/passkey/finish", url.Values{"csrf": {cc}, "challenge_id": {lb["challenge_id"].(string)},
			"credential": {as}, "redirect_to": {to}}), 200)
		if got["location"] != want {
			t.Errorf("redirect_to %q: location %v, want %s", to, got["location"], want)
		}
	}
	if !strings.Contains(b.get("/account/security").Body, "last used") {
		t.Errorf("no last use shown")
	}
}

// A passkey sign-in of an authorization request answers the client's
// redirect with a code, state and iss.
func TestPasskeySignInAuthorize(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.confirmed("oidc@example.com")
	c, _, err := f.svc.AdminCreateClient(context.Background(), "test", auth.NewClient{Name: "App", Type: auth.ClientPublic,
		RedirectURIs: []string{"https://app.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	b := f.signedIn(t, "oidc@example.com")
	csrf := b.get("/account/security").want(t, 200).csrf(t)
	begin := jsonAnswer(t, b.post("/account/security/passkeys/begin", url.Values{"csrf": {csrf}, "password": {goodPW}}), 200)
	opts, _ := json.Marshal(begin["publicKey"])
	att, _ := virtualwebauthn.ParseAttestationOptions(string(opts))
	a := virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(att.UserID)})
	cred := passkeytest.Credential()
	jsonAnswer(t, b.post("/account/security/passkeys/finish", url.Values{"csrf": {csrf}, "challenge_id": {begin["challenge_id"].(string)},
		"credential": {virtualwebauthn.CreateAttestationResponse(pagesRP, a, cred, *att)}}), 201)
	a.AddCredential(cred)

	n := f.browser()
	q := url.Values{"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {"https://app.example/cb"}, "scope": {"openid"},
		"state": {"st8"}, "code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"}}
	form := n.get("/oauth/authorize?"+q.Encode()).want(t, 200, `name="authorize"`)
	authz := regexp.MustCompile(`name="authorize" value="([^"]*)"`).FindStringSubmatch(form.Body)[1]
	authz = html.UnescapeString(authz)
	nc := form.csrf(t)
	lb := jsonAnswer(t, n.post("/login/passkey/begin", url.Values{"csrf": {nc}}), 200)
	ro, _ := json.Marshal(lb["publicKey"])
	ao, _ := virtualwebauthn.ParseAssertionOptions(string(ro))
	cred.Counter++
	got := jsonAnswer(t, n.post("/login/passkey/finish", url.Values{"csrf": {nc}, "challenge_id": {lb["challenge_id"].(string)},
		"credential": {virtualwebauthn.CreateAssertionResponse(pagesRP, a, cred, *ao)}, "authorize": {authz}}), 200)
	loc, err := url.Parse(got["location"].(string))
	if err != nil || loc.Host != "app.example" || loc.Query().Get("code") == "" || loc.Query().Get("state") != "st8" || loc.Query().Get("iss") == "" {
		t.Fatalf("location %v", got["location"])
	}
	// A tampered authorization request starts no session.
	m := f.browser()
	mc := m.get("/login").csrf(t)
	lb = jsonAnswer(t, m.post("/login/passkey/begin", url.Values{"csrf": {mc}}), 200)
	ro, _ = json.Marshal(lb["publicKey"])
	ao, _ = virtualwebauthn.ParseAssertionOptions(string(ro))
	cred.Counter++
	bad := strings.Replace(authz, url.QueryEscape("https://app.example/cb"), url.QueryEscape("https://evil.example/cb"), 1)
	if bad == authz {
		t.Fatalf("authorize %q: no redirect_uri to tamper with", authz)
	}
	m.post("/login/passkey/finish", url.Values{"csrf": {mc}, "challenge_id": {lb["challenge_id"].(string)},
		"credential": {virtualwebauthn.CreateAssertionResponse(pagesRP, a, cred, *ao)}, "authorize": {bad}}).want(t, 400, `"error"`)
	if p := m.get("/account/security"); p.Status != 303 {
		t.Errorf("a refused authorization request signed in: %d", p.Status)
	}
}
