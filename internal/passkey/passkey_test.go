package passkey_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/descope/virtualwebauthn"

	"github.com/latchauth/latch/internal/passkey"
	"github.com/latchauth/latch/internal/passkey/passkeytest"
)

var (
	rpCfg = passkey.Config{RPID: "latch.test", RPName: "latch", Origins: []string{"https://latch.test", "https://app.example.com"}}
	vrp   = virtualwebauthn.RelyingParty{Name: "latch", ID: "latch.test", Origin: "https://latch.test"}
)

func newRP(t *testing.T) *passkey.RP {
	t.Helper()
	rp, err := passkey.New(rpCfg)
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// register runs a registration ceremony with a software authenticator
// and returns the stored credential.
func register(t *testing.T, rp *passkey.RP, a *virtualwebauthn.Authenticator, u passkey.User) (*passkey.Credential, virtualwebauthn.Credential) {
	t.Helper()
	opts, state, err := rp.BeginRegistration(u)
	if err != nil {
		t.Fatal(err)
	}
	att, err := virtualwebauthn.ParseAttestationOptions(string(opts))
	if err != nil {
		t.Fatalf("options %s: %v", opts, err)
	}
	if att.RelyingPartyID != "latch.test" || att.UserName != u.Name {
		t.Fatalf("options %s", opts)
	}
	vc := passkeytest.Credential()
	resp := virtualwebauthn.CreateAttestationResponse(vrp, *a, vc, *att)
	c, err := rp.FinishRegistration(u, state, []byte(resp))
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	a.AddCredential(vc)
	return c, vc
}

func TestCeremonies(t *testing.T) {
	rp := newRP(t)
	handle := []byte("user-1")
	a := virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: handle})
	u := passkey.User{Handle: handle, Name: "ada@example.com"}
	cred, vc := register(t, rp, &a, u)
	if string(cred.ID) != string(vc.ID) || len(cred.PublicKey) == 0 || !cred.UserVerified || cred.BackupEligible {
		t.Fatalf("credential %+v", cred)
	}

	// Discoverable login: no allow list, user verification required.
	opts, state, err := rp.BeginLogin(nil)
	if err != nil {
		t.Fatal(err)
	}
	var o map[string]any
	if err := json.Unmarshal(opts, &o); err != nil || o["userVerification"] != "required" || o["allowCredentials"] != nil || o["rpId"] != "latch.test" {
		t.Fatalf("discoverable options %s", opts)
	}
	ao, err := virtualwebauthn.ParseAssertionOptions(string(opts))
	if err != nil {
		t.Fatal(err)
	}
	vc.Counter = 1
	resp := virtualwebauthn.CreateAssertionResponse(vrp, a, vc, *ao)
	p, err := passkey.ParseAssertion([]byte(resp))
	if err != nil || string(p.UserHandle) != "user-1" || string(p.CredentialID) != string(vc.ID) {
		t.Fatalf("ParseAssertion = %+v, %v", p, err)
	}
	as, err := rp.FinishLogin(handle, *cred, state, p)
	if err != nil || as.SignCount != 1 || !as.UserVerified {
		t.Fatalf("FinishLogin = %+v, %v", as, err)
	}
	// The same response against another account's handle is refused.
	if _, err := rp.FinishLogin([]byte("user-2"), *cred, state, p); !errors.Is(err, passkey.ErrRejected) {
		t.Fatalf("other handle: %v", err)
	}

	// Second factor: the allow list names the account's credentials.
	opts, state, err = rp.BeginLogin([]passkey.Credential{*cred})
	if err != nil {
		t.Fatal(err)
	}
	ao, _ = virtualwebauthn.ParseAssertionOptions(string(opts))
	if len(ao.AllowCredentials) != 1 {
		t.Fatalf("allow list %s", opts)
	}
	vc.Counter = 2
	p, _ = passkey.ParseAssertion([]byte(virtualwebauthn.CreateAssertionResponse(vrp, a, vc, *ao)))
	if as, err := rp.FinishLogin(handle, *cred, state, p); err != nil || as.SignCount != 2 {
		t.Fatalf("second factor FinishLogin = %+v, %v", as, err)
	}

	// Another allowed origin works; an unknown one, or another RP ID, not.
	for _, tc := range []struct {
		rp   virtualwebauthn.RelyingParty
		want bool
	}{
		{virtualwebauthn.RelyingParty{ID: "latch.test", Origin: "https://app.example.com"}, true},
		{virtualwebauthn.RelyingParty{ID: "latch.test", Origin: "https://evil.example"}, false},
		{virtualwebauthn.RelyingParty{ID: "evil.example", Origin: "https://latch.test"}, false},
	} {
		opts, state, _ := rp.BeginLogin(nil)
		ao, _ := virtualwebauthn.ParseAssertionOptions(string(opts))
		vc.Counter++
		p, _ := passkey.ParseAssertion([]byte(virtualwebauthn.CreateAssertionResponse(tc.rp, a, vc, *ao)))
		_, err := rp.FinishLogin(handle, *cred, state, p)
		if (err == nil) != tc.want || (err != nil && !errors.Is(err, passkey.ErrRejected)) {
			t.Errorf("origin %s, RP ID %s: %v, want ok %v", tc.rp.Origin, tc.rp.ID, err, tc.want)
		}
	}

	// Without user verification a passwordless login is refused.
	noUV := a
	noUV.Options.UserNotVerified = true
	opts, state, _ = rp.BeginLogin(nil)
	ao, _ = virtualwebauthn.ParseAssertionOptions(string(opts))
	vc.Counter++
	p, _ = passkey.ParseAssertion([]byte(virtualwebauthn.CreateAssertionResponse(vrp, noUV, vc, *ao)))
	if _, err := rp.FinishLogin(handle, *cred, state, p); !errors.Is(err, passkey.ErrRejected) {
		t.Fatalf("passwordless without user verification: %v", err)
	}
}

func TestRegistrationRefusals(t *testing.T) {
	rp := newRP(t)
	u := passkey.User{Handle: []byte("user-1"), Name: "ada@example.com"}
	a := virtualwebauthn.NewAuthenticator()
	opts, state, err := rp.BeginRegistration(u)
	if err != nil {
		t.Fatal(err)
	}
	att, _ := virtualwebauthn.ParseAttestationOptions(string(opts))
	vc := passkeytest.Credential()
	wrong := virtualwebauthn.RelyingParty{ID: "latch.test", Origin: "https://evil.example"}
	if _, err := rp.FinishRegistration(u, state, []byte(virtualwebauthn.CreateAttestationResponse(wrong, a, vc, *att))); !errors.Is(err, passkey.ErrRejected) {
		t.Fatalf("wrong origin: %v", err)
	}
	for _, bad := range []string{``, `{}`, `null`, `{"id":"x","type":"public-key","response":{}}`, `[1,2]`} {
		if _, err := rp.FinishRegistration(u, state, []byte(bad)); !errors.Is(err, passkey.ErrRejected) {
			t.Errorf("FinishRegistration(%q) = %v, want ErrRejected", bad, err)
		}
	}
}

func TestNewRefusesBadRPID(t *testing.T) {
	for _, id := range []string{"", "https://latch.test"} {
		if _, err := passkey.New(passkey.Config{RPID: id, Origins: []string{"https://latch.test"}}); err == nil {
			t.Errorf("New(RPID %q) succeeded", id)
		}
	}
}

// FuzzParseCredential: whatever a client sends as a credential, parsing
// answers a value or ErrRejected, never a panic.
func FuzzParseCredential(f *testing.F) {
	rp, _ := passkey.New(rpCfg)
	a := virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte("u")})
	vc := passkeytest.Credential()
	opts, _, _ := rp.BeginRegistration(passkey.User{Handle: []byte("u"), Name: "u@example.com"})
	att, _ := virtualwebauthn.ParseAttestationOptions(string(opts))
	f.Add([]byte(virtualwebauthn.CreateAttestationResponse(vrp, a, vc, *att)))
	lopts, _, _ := rp.BeginLogin(nil)
	ao, _ := virtualwebauthn.ParseAssertionOptions(string(lopts))
	f.Add([]byte(virtualwebauthn.CreateAssertionResponse(vrp, a, vc, *ao)))
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"","signature":""}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := passkey.ParseAssertion(b); err != nil && !errors.Is(err, passkey.ErrRejected) {
			t.Fatalf("ParseAssertion: %v", err)
		} else if err == nil && p == nil {
			t.Fatal("ParseAssertion: nil without error")
		}
		if _, err := passkey.ParseCreation(b); err != nil && !errors.Is(err, passkey.ErrRejected) {
			t.Fatalf("ParseCreation: %v", err)
		}
	})
}
