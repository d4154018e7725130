package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// addVirtualAuthenticator gives the browser a platform authenticator that
// keeps discoverable credentials and verifies its user (CDP's WebAuthn
// domain): navigator.credentials works without a person touching a key.
func addVirtualAuthenticator(t *testing.T, ctx context.Context) {
	t.Helper()
	runIn(t, ctx, "add a virtual authenticator", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{
				Protocol:                    webauthn.AuthenticatorProtocolCtap2,
				Ctap2version:                webauthn.Ctap2versionCtap21,
				Transport:                   webauthn.AuthenticatorTransportInternal,
				HasResidentKey:              true,
				HasUserVerification:         true,
				IsUserVerified:              true,
				AutomaticPresenceSimulation: true,
			}})
		return err
	}))
}

// TestSecurityPageInChromium: a person signs in with the password on the
// hosted login page, opens /account/security, adds a passkey there, signs
// out, and signs in again with the passkey alone, landing back on the
// security page.
func TestSecurityPageInChromium(t *testing.T) {
	t.Parallel()
	_ = chromiumPath(t)
	addr := freeAddr(t)
	// WebAuthn needs a secure context and a domain as RP ID:
	// http://localhost is both.
	public := "http://localhost:" + addr[strings.LastIndexByte(addr, ':')+1:]
	s := startServer(t, map[string]string{
		"LATCH_ADDR":          addr,
		"LATCH_PUBLIC_URL":    public,
		"LATCH_CONFIRM_EMAIL": "false",
	})
	const email, pw = "passkey.person@example.com", "a passphrase for the security page"
	s.do("POST", "/v1/signup", "", map[string]string{"email": email, "password": pw}).want(t, 201, "")
	ctx := newBrowser(t)
	addVirtualAuthenticator(t, ctx)
	shots := newShots(t)

	// Not signed in: the page sends the browser to the login page, which
	// returns it to the page.
	runIn(t, ctx, "open the security page signed out", chromedp.Navigate(public+"/account/security"), waitH1("Sign in"))
	runIn(t, ctx, "sign in with the password",
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), pw),
		chromedp.Click(chromedp.ID("submit")),
		waitH1("Security"),
		chromedp.WaitVisible(chromedp.ID("passkeys-none")))
	shots.take(ctx, "account-security")

	// Add a passkey (the page's script, allowed by its nonce).
	runIn(t, ctx, "add a passkey",
		chromedp.WaitVisible(chromedp.ID("passkey-add")),
		chromedp.SendKeys(chromedp.ID("passkey-name"), "Virtual key"),
		chromedp.SendKeys(chromedp.ID("passkey-password"), pw),
		chromedp.Click(chromedp.ID("passkey-add")),
		chromedp.WaitVisible(chromedp.ID("recovery-codes")))
	codes := get(t, ctx, "count the recovery codes", chromedp.Evaluate[int](`document.querySelectorAll("#recovery-codes li").length`))
	if codes != 10 {
		t.Errorf("%d recovery codes shown with the first passkey, want 10", codes)
	}
	runIn(t, ctx, "back to the page", chromedp.Click(chromedp.ID("passkey-done")),
		chromedp.WaitVisible(chromedp.Search(`//strong[@class="passkey-name" and .="Virtual key"]`)))
	shots.take(ctx, "account-security-passkey")

	// The password alone no longer signs in through the API.
	s.do("POST", "/v1/login", "", map[string]string{"email": email, "password": pw}).want(t, 403, "mfa_required")

	// Sign out, then in with the passkey alone.
	runIn(t, ctx, "sign out", chromedp.Click(chromedp.ID("sign-out")), waitH1("You are signed out"))
	runIn(t, ctx, "the page needs signing in again", chromedp.Navigate(public+"/account/security"), waitH1("Sign in"))
	runIn(t, ctx, "sign in with the passkey",
		chromedp.WaitVisible(chromedp.ID("passkey-signin")),
		chromedp.Click(chromedp.ID("passkey-signin")),
		waitH1("Security"),
		chromedp.WaitVisible(chromedp.Search(`//strong[@class="passkey-name" and .="Virtual key"]`)))
	if loc := get(t, ctx, "read the location", chromedp.Location()); loc != public+"/account/security" {
		t.Errorf("after the passkey sign-in the browser is at %s", loc)
	}
	used := get(t, ctx, "read the passkey's last use", chromedp.Text(chromedp.CSS("#passkeys .hint")))
	if strings.Contains(used, "never") {
		t.Errorf("passkey row %q: the sign-in is not recorded", used)
	}

	// The password, then the passkey as the second step.
	runIn(t, ctx, "sign out again", chromedp.Click(chromedp.ID("sign-out")), waitH1("You are signed out"))
	runIn(t, ctx, "sign in with the password again", chromedp.Navigate(public+"/login?redirect_to=/account/security"), waitH1("Sign in"),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), pw),
		chromedp.Click(chromedp.ID("submit")),
		waitH1("Two-step verification"))
	shots.take(ctx, "login-mfa-passkey")
	// A wrong recovery code keeps the passkey button on the page.
	runIn(t, ctx, "type a wrong recovery code",
		chromedp.SendKeys(chromedp.ID("recovery_code"), "aaaa-bbbb-cccc-dddd"),
		chromedp.Click(chromedp.ID("submit-recovery")),
		chromedp.WaitVisible(chromedp.ID("form-error")))
	runIn(t, ctx, "use the passkey as the second factor",
		chromedp.WaitVisible(chromedp.ID("passkey-signin")),
		chromedp.Click(chromedp.ID("passkey-signin")),
		waitH1("Security"))

	// Rename the passkey, then remove it with the password and the
	// passkey itself standing in for a code (the account has a factor):
	// the account is back to the password alone.
	runIn(t, ctx, "rename the passkey",
		chromedp.Clear(chromedp.CSS(`#passkeys input[name="name"]`)),
		chromedp.SendKeys(chromedp.CSS(`#passkeys input[name="name"]`), "Renamed key"),
		chromedp.Click(chromedp.Search(`//ul[@id="passkeys"]//button[.="Rename"]`)),
		chromedp.WaitVisible(chromedp.Search(`//strong[@class="passkey-name" and .="Renamed key"]`)))
	runIn(t, ctx, "remove the passkey",
		chromedp.SendKeys(chromedp.CSS(`#passkeys input[name="password"]`), pw),
		chromedp.Click(chromedp.ID("stepup-passkey")),
		chromedp.WaitVisible(chromedp.ID("stepup-note")),
		chromedp.Click(chromedp.Search(`//ul[@id="passkeys"]//button[.="Remove"]`)),
		chromedp.WaitVisible(chromedp.ID("passkeys-none")))
	s.do("POST", "/v1/login", "", map[string]string{"email": email, "password": pw}).want(t, 200, "")

	// The authenticator app: the QR code shows (a data: image the page's
	// CSP allows), the app's first code turns it on, the recovery codes
	// show once.
	runIn(t, ctx, "start the authenticator app",
		chromedp.SendKeys(chromedp.ID("totp-password"), pw),
		chromedp.Click(chromedp.ID("totp-enrol")),
		chromedp.WaitVisible(chromedp.ID("totp-qr")))
	if w := get(t, ctx, "read the QR code's width", chromedp.Evaluate[int](`document.getElementById("totp-qr").naturalWidth`)); w == 0 {
		t.Errorf("the QR code did not load")
	}
	shots.take(ctx, "account-security-totp")
	secret := get(t, ctx, "read the secret", chromedp.Text(chromedp.ID("totp-secret")))
	code, err := totp.GenerateCodeCustom(strings.TrimSpace(secret), time.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	runIn(t, ctx, "type the app's code",
		chromedp.SendKeys(chromedp.ID("totp-code"), code),
		chromedp.Click(chromedp.ID("totp-confirm")),
		chromedp.WaitVisible(chromedp.ID("recovery-codes")),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="totp-state" and .="On."]`)))
	if n := get(t, ctx, "count the recovery codes", chromedp.Evaluate[int](`document.querySelectorAll("#recovery-codes li").length`)); n != 10 {
		t.Errorf("%d recovery codes, want 10", n)
	}
	s.do("POST", "/v1/login", "", map[string]string{"email": email, "password": pw}).want(t, 403, "mfa_required")
}
