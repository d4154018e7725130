package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/httpapi"
	"github.com/latchauth/latch/internal/limit"
	"github.com/latchauth/latch/internal/passkey"
	"github.com/latchauth/latch/internal/password"
)

// setting is one LATCH_* variable: its name, its value when unset, the
// flag of latch serve that overrides it (if any), and how a value is
// checked and stored in a config. The list of settings is the list of
// variables latch reads: knownVariables and the unknown-variable warnings
// come from it.
type setting struct {
	name  string
	def   string // the value when the variable is unset ("": none)
	flag  string // the flag of latch serve and latch migrate, if any
	usage string // the flag's usage
	// parse checks v (the value, or def) and stores it in c. Its error
	// names the variable.
	parse func(c *config, v string) error
}

// authDefaults are auth.Config's defaults: the settings of fields auth
// owns default to them rather than restating them here.
var authDefaults = auth.Config{}.WithDefaults()

// settings are latch's variables (docs/configuration.md documents each).
// The order is the order their errors are reported in.
var settings = []setting{
	oneOf("LATCH_ENV", "development", func(c *config) *string { return &c.Env }, "development", "production").
		withFlag("env", "development or production (LATCH_ENV)"),
	setting{name: "LATCH_ADDR", def: "127.0.0.1:8080", parse: parseAddr}.
		withFlag("addr", "listen address (LATCH_ADDR)"),
	text("LATCH_METRICS_ADDR", "", func(c *config) *string { return &c.MetricsAddr }),
	text("LATCH_PUBLIC_URL", "", func(c *config) *string { return &c.PublicURL }).
		withFlag("public-url", "public base URL (LATCH_PUBLIC_URL; default: http:// and the listen address, localhost for a loopback one)"),
	text("LATCH_DATABASE_URL", "sqlite:latch.db", func(c *config) *string { return &c.DatabaseURL }).
		withFlag("database-url", "sqlite:PATH or postgres://... (LATCH_DATABASE_URL)"),
	{name: "LATCH_REDIS_URL", parse: parseRedisURL},
	text("LATCH_REDIS_PREFIX", "latch:", func(c *config) *string { return &c.RedisPrefix }),
	// LATCH_SMTP_URL is checked with LATCH_MAIL_FROM, in derive.
	text("LATCH_SMTP_URL", "", func(c *config) *string { return &c.SMTPURL }).
		withFlag("smtp-url", "smtp://user:pass@host:port (LATCH_SMTP_URL)"),
	{name: "LATCH_MAIL_FROM", def: "latch@localhost", parse: parseMailFrom},
	{name: "LATCH_PRODUCT_NAME", def: authDefaults.Product, parse: parseProductName},
	text("LATCH_TEMPLATES_DIR", "", func(c *config) *string { return &c.TemplatesDir }),
	boolean("LATCH_MAIL_UNKNOWN_ACCOUNTS", false, func(c *config) *bool { return &c.MailUnknownAccounts }),
	boolean("LATCH_UNICODE_EMAIL", false, func(c *config) *bool { return &c.UnicodeEmail }),
	boolean("LATCH_CONFIRM_EMAIL", true, func(c *config) *bool { return &c.ConfirmEmail }),
	duration("LATCH_ACCESS_TTL", authDefaults.AccessTTL, func(c *config) *time.Duration { return &c.AccessTTL }),
	{name: "LATCH_ADMIN_KEY", parse: parseAdminKey},
	{name: "LATCH_REVOCATION_KEY", parse: parseRevocationKey},
	{name: "LATCH_SECRET", parse: parseSecret},
	text("LATCH_AUDIENCE", "", func(c *config) *string { return &c.Audience }),
	duration("LATCH_REFRESH_GRACE", authDefaults.RefreshGrace, func(c *config) *time.Duration { return &c.RefreshGrace }),
	duration("LATCH_SESSION_IDLE", authDefaults.SessionIdle, func(c *config) *time.Duration { return &c.SessionIdle }),
	duration("LATCH_SESSION_MAX", authDefaults.SessionMax, func(c *config) *time.Duration { return &c.SessionMax }),
	duration("LATCH_RESET_TTL", authDefaults.ResetTTL, func(c *config) *time.Duration { return &c.ResetTTL }),
	duration("LATCH_CONFIRM_TTL", authDefaults.ConfirmTTL, func(c *config) *time.Duration { return &c.ConfirmTTL }),
	boolean("LATCH_RATE_LIMITS", true, func(c *config) *bool { return &c.RateLimits }),
	boolean("LATCH_LOGIN_AFTER_RESET", true, func(c *config) *bool { return &c.LoginAfterReset }),
	oneOf("LATCH_KEY_ALG", authDefaults.KeyAlg, func(c *config) *string { return &c.KeyAlg }, "EdDSA", "ES256", "RS256"),
	// LATCH_LOG_FORMAT's default follows LATCH_ENV, in derive.
	{name: "LATCH_LOG_FORMAT", parse: parseLogFormat},
	{name: "LATCH_LOG_LEVEL", def: "info", parse: parseLogLevel},
	{name: "LATCH_PASSWORD_MIN", def: strconv.Itoa(password.DefaultMinLength), parse: parsePasswordMin},
	{name: "LATCH_HASH_QUEUE", parse: parseHashQueue},
	setting{name: "LATCH_TRUSTED_PROXIES", parse: parseTrustedProxies}.
		withFlag("trusted-proxies", "CIDRs whose X-Forwarded-For is believed (LATCH_TRUSTED_PROXIES)"),
	setting{name: "LATCH_CORS_ORIGINS", parse: parseCORSOrigins}.
		withFlag("cors-origins", "allowed browser origins (LATCH_CORS_ORIGINS)"),
	{name: "LATCH_KEY_ROTATION", def: authDefaults.KeyRotation.String(), parse: parseKeyRotation},
	{name: "LATCH_OAUTH_CLIENTS", parse: parseOAuthClients},
	boolean("LATCH_PASSWORD_GRANT", true, func(c *config) *bool { return &c.PasswordGrant }),
	{name: "LATCH_REDIRECT_URLS", parse: parseRedirectURLs},
	{name: "LATCH_WEBAUTHN_ORIGINS", parse: parseWebAuthnOrigins},
	boolean("LATCH_WEBHOOK_ALLOW_PRIVATE", false, func(c *config) *bool { return &c.WebhookAllowPrivate }),
}

// withFlag gives s a flag of latch serve (and latch migrate).
func (s setting) withFlag(name, usage string) setting {
	s.flag, s.usage = name, usage
	return s
}

// text is a setting stored as it is.
func text(name, def string, field func(*config) *string) setting {
	return setting{name: name, def: def, parse: func(c *config, v string) error {
		*field(c) = v
		return nil
	}}
}

// oneOf is a setting that takes one of a few words.
func oneOf(name, def string, field func(*config) *string, words ...string) setting {
	return setting{name: name, def: def, parse: func(c *config, v string) error {
		*field(c) = v
		for _, w := range words {
			if v == w {
				return nil
			}
		}
		list := strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
		return fmt.Errorf("%s: %q is not %s", name, v, list)
	}}
}

// duration is a setting holding a positive duration.
func duration(name string, def time.Duration, field func(*config) *time.Duration) setting {
	return setting{name: name, def: def.String(), parse: func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("%s: %q is not a positive duration (e.g. 15m, 24h)", name, v)
		}
		*field(c) = d
		return nil
	}}
}

// boolean is a true-or-false setting.
func boolean(name string, def bool, field func(*config) *bool) setting {
	return setting{name: name, def: strconv.FormatBool(def), parse: func(c *config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s: %q is not true or false", name, v)
		}
		*field(c) = b
		return nil
	}}
}

func parseAddr(c *config, v string) error {
	c.Addr = v
	if _, port, err := net.SplitHostPort(v); err != nil {
		return fmt.Errorf("LATCH_ADDR: %q is not HOST:PORT (e.g. 127.0.0.1:8080 or :8080)", v)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("LATCH_ADDR: %q has no port number from 0 to 65535", v)
	}
	return nil
}

func parseRedisURL(c *config, v string) error {
	c.RedisURL = v
	if v == "" {
		return nil
	}
	_, err := limit.RedisOptions(v)
	return err
}

func parseMailFrom(c *config, v string) error {
	c.MailFrom = v
	if a, err := mail.ParseAddress(v); err != nil || !strings.Contains(a.Address, "@") {
		return fmt.Errorf("LATCH_MAIL_FROM: %q is not an email address (e.g. latch@example.com or \"Example <no-reply@example.com>\")", v)
	}
	return nil
}

func parseProductName(c *config, v string) error {
	c.ProductName = strings.TrimSpace(v)
	if c.ProductName == "" || strings.ContainsFunc(c.ProductName, unicode.IsControl) || len(c.ProductName) > 100 {
		return fmt.Errorf("LATCH_PRODUCT_NAME: %q must be 1 to 100 characters on one line", c.ProductName)
	}
	return nil
}

// parseAdminKey: the admin API's key is sent as a bearer token (cli.go).
func parseAdminKey(c *config, v string) error {
	c.AdminKey = v
	if v != "" && !validAdminKey(v) {
		return errors.New("LATCH_ADMIN_KEY must be at least 16 characters of letters, digits and -._~+/ (it is sent as a bearer token)")
	}
	return nil
}

func parseRevocationKey(c *config, v string) error {
	c.RevocationKey = v
	if v != "" && !bearerSafe(v) {
		return errors.New("LATCH_REVOCATION_KEY must be letters, digits and -._~+/ (it is sent as a bearer token)")
	}
	return nil
}

func parseSecret(c *config, v string) error {
	c.Secret = v
	if v != "" && len(v) < 32 {
		return errors.New("LATCH_SECRET must be at least 32 characters")
	}
	return nil
}

func parseLogFormat(c *config, v string) error {
	c.LogFormat = v
	if v != "" && v != "text" && v != "json" {
		return fmt.Errorf("LATCH_LOG_FORMAT: %q is not text or json", v)
	}
	return nil
}

func parseLogLevel(c *config, v string) error {
	c.LogLevel = v
	var level slog.Level
	if err := level.UnmarshalText([]byte(v)); err != nil {
		return fmt.Errorf("LATCH_LOG_LEVEL: %q is not debug, info, warn or error", v)
	}
	return nil
}

func parsePasswordMin(c *config, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 256 {
		return fmt.Errorf("LATCH_PASSWORD_MIN: %q is not a number from 1 to 256", v)
	}
	c.PasswordMin = n
	return nil
}

// parseHashQueue reads how many callers may wait for a hashing slot.
func parseHashQueue(c *config, v string) error {
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 100000 {
		return fmt.Errorf("LATCH_HASH_QUEUE: %q is not a number from 1 to 100000", v)
	}
	c.HashQueue = n
	return nil
}

// parseTrustedProxies reads CIDRs, or single addresses (a /32 or /128).
func parseTrustedProxies(c *config, v string) error {
	var errs []error
	for _, p := range splitList(v) {
		if !strings.Contains(p, "/") {
			if a, err := netip.ParseAddr(p); err == nil {
				c.TrustedProxies = append(c.TrustedProxies, netip.PrefixFrom(a, a.BitLen()))
				continue
			}
		}
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("LATCH_TRUSTED_PROXIES: %q is not a CIDR", p))
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, pfx.Masked())
	}
	return errors.Join(errs...)
}

func parseCORSOrigins(c *config, v string) error {
	var errs []error
	for _, o := range splitList(v) {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("LATCH_CORS_ORIGINS: %q is not an origin like https://app.example.com", o))
			continue
		}
		c.CORSOrigins = append(c.CORSOrigins, u.Scheme+"://"+u.Host)
	}
	return errors.Join(errs...)
}

// parseRedirectURLs reads the comma-separated redirect_to allow-list of
// the hosted pages (auth.RedirectAllowed says how an entry matches).
func parseRedirectURLs(c *config, v string) error {
	var errs []error
	for _, e := range splitList(v) {
		if !auth.ValidRedirectEntry(e) {
			errs = append(errs, fmt.Errorf("LATCH_REDIRECT_URLS: %q is not an absolute http(s) URL with a path (https://app.example.com/ or https://app.example.com/done)", e))
			continue
		}
		c.RedirectURLs = append(c.RedirectURLs, e)
	}
	return errors.Join(errs...)
}

// parseWebAuthnOrigins reads the comma-separated origins, besides the
// public URL's, that passkey ceremonies may come from (an app on another
// subdomain of the RP ID, say).
func parseWebAuthnOrigins(c *config, v string) error {
	var errs []error
	for _, e := range splitList(v) {
		o, err := passkey.OriginOf(e)
		if err != nil || strings.TrimRight(e, "/") != o {
			errs = append(errs, fmt.Errorf("LATCH_WEBAUTHN_ORIGINS: %q is not an origin (https://app.example.com, no path)", e))
			continue
		}
		c.WebAuthnOrigins = append(c.WebAuthnOrigins, o)
	}
	return errors.Join(errs...)
}

// parseKeyRotation reads a duration of at least an hour, or "off" / "0"
// for rotation only by `latch keys rotate` (stored as negative).
func parseKeyRotation(c *config, v string) error {
	switch v = strings.TrimSpace(v); v {
	case "":
		c.KeyRotation = authDefaults.KeyRotation
		return nil
	case "off", "0":
		c.KeyRotation = -1
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("LATCH_KEY_ROTATION: %q is not a positive duration (e.g. 720h) or off", v)
	}
	if d < time.Hour {
		return fmt.Errorf("LATCH_KEY_ROTATION: %q is under an hour: verifiers caching the JWKS would not see the next key in time", v)
	}
	c.KeyRotation = d
	return nil
}

func parseOAuthClients(c *config, v string) error {
	clients, err := httpapi.ParseOAuthClients(v)
	if err != nil {
		return fmt.Errorf("LATCH_OAUTH_CLIENTS: %w", err)
	}
	c.OAuthClients = clients
	return nil
}
