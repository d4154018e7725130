package main

import (
	"reflect"
	"testing"
)

// Every setting of auth.Config that a LATCH_* variable sets reaches the
// service through config.authConfig, the one place serve and every
// subcommand build it from: a subcommand that mails a link or retires a
// key then uses the server's lifetimes, not the package defaults.
func TestAuthConfigCarriesEverySetting(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"LATCH_PUBLIC_URL":            "https://id.example.com",
		"LATCH_AUDIENCE":              "api",
		"LATCH_ACCESS_TTL":            "7m",
		"LATCH_REFRESH_GRACE":         "3s",
		"LATCH_SESSION_IDLE":          "11h",
		"LATCH_SESSION_MAX":           "13h",
		"LATCH_RESET_TTL":             "17m",
		"LATCH_CONFIRM_TTL":           "19h",
		"LATCH_CONFIRM_EMAIL":         "true",
		"LATCH_LOGIN_AFTER_RESET":     "true",
		"LATCH_RATE_LIMITS":           "true",
		"LATCH_PRODUCT_NAME":          "Acme ID",
		"LATCH_MAIL_UNKNOWN_ACCOUNTS": "true",
		"LATCH_UNICODE_EMAIL":         "true",
		"LATCH_KEY_ALG":               "ES256",
		"LATCH_KEY_ROTATION":          "48h",
		"LATCH_REDIRECT_URLS":         "https://app.example.com/",
		"LATCH_WEBAUTHN_ORIGINS":      "https://app.example.com",
		"LATCH_WEBHOOK_ALLOW_PRIVATE": "true",
	}
	c, err := loadConfig(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	got := reflect.ValueOf(c.authConfig([]byte("0123456789abcdef0123456789abcdef")))
	// Not set from the environment: tuning the package owns (reload
	// interval, limits and caps, whose defaults api.md fixes).
	notConfigured := map[string]bool{"KeyReload": true, "LoginPerIP": true, "SignupPerIP": true,
		"MailPerIP": true, "ForgotCap": true, "ResendCap": true, "NoticeCap": true,
		"SessionCache": true, "SessionCacheMaxAge": true, "WebhookRetryWindow": true,
		// Follows LATCH_ENV=production (TestWebhookHTTPSInProduction).
		"WebhookHTTPSOnly": true}
	for i := range got.NumField() {
		name := got.Type().Field(i).Name
		if notConfigured[name] {
			continue
		}
		if got.Field(i).IsZero() {
			t.Errorf("auth.Config.%s is not set by authConfig", name)
		}
	}
}
