package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/latchauth/latch/internal/httpapi"
	"github.com/latchauth/latch/internal/limit"
	latchmail "github.com/latchauth/latch/internal/mail"
)

// config is latch's configuration, read from LATCH_* variables and the
// flags of `latch serve` (flags win).
type config struct {
	Env             string
	Addr            string
	MetricsAddr     string // LATCH_METRICS_ADDR: metrics listener (empty: none)
	PublicURL       string
	DatabaseURL     string
	RedisURL        string
	RedisPrefix     string // LATCH_REDIS_PREFIX: keys and channel on a shared Redis
	SMTPURL         string
	MailFrom        string
	ConfirmEmail    bool
	AccessTTL       time.Duration
	AdminKey        string
	RevocationKey   string // LATCH_REVOCATION_KEY: guards GET /v1/revocations
	Secret          string
	Audience        string
	RefreshGrace    time.Duration
	SessionIdle     time.Duration
	SessionMax      time.Duration
	ResetTTL        time.Duration
	ConfirmTTL      time.Duration
	PasswordMin     int
	HashQueue       int // LATCH_HASH_QUEUE: 0 is password.Config's default
	RateLimits      bool
	LoginAfterReset bool
	TrustedProxies  []netip.Prefix
	CORSOrigins     []string
	KeyAlg          string
	KeyRotation     time.Duration         // LATCH_KEY_ROTATION: negative is off
	OAuthClients    []httpapi.OAuthClient // LATCH_OAUTH_CLIENTS
	LogFormat       string
	LogLevel        string

	// PublicURLFromAddr is set when LATCH_PUBLIC_URL (and -public-url)
	// is not: PublicURL then follows the listen address, and serve fixes
	// its port once listening (for port 0). AudienceFromPublicURL is the
	// same for LATCH_AUDIENCE.
	PublicURLFromAddr     bool
	AudienceFromPublicURL bool

	// Mail and pages.
	ProductName         string
	TemplatesDir        string
	MailUnknownAccounts bool
	UnicodeEmail        bool // LATCH_UNICODE_EMAIL: local parts outside ASCII
}

// commandDoc is the description -h prints above the flags of the commands
// that take the server's flags.
var commandDoc = map[string]string{
	"serve": "Runs the server. Every setting is a LATCH_* environment variable\n" +
		"(docs/configuration.md); these flags override them.",
	"migrate": "Applies the embedded migrations to LATCH_DATABASE_URL and exits\n" +
		"(serve applies them too). It takes the flags of latch serve.",
}

// loadConfig reads the environment, then the flags of latch serve in args.
func loadConfig(args []string, getenv func(string) string) (*config, error) {
	return loadCommandConfig("serve", args, getenv)
}

// loadCommandConfig reads the environment, then the flags in args of the
// command name (serve or migrate).
func loadCommandConfig(name string, args []string, getenv func(string) string) (*config, error) {
	c := &config{}
	var errs []error
	str := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	dur := func(name string, def time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: %q is not a positive duration (e.g. 15m, 24h)", name, v))
			return def
		}
		return d
	}
	boolean := func(name string, def bool) bool {
		v := getenv(name)
		if v == "" {
			return def
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not true or false", name, v))
			return def
		}
		return b
	}
	c.Env = str("LATCH_ENV", "development")
	c.Addr = str("LATCH_ADDR", "127.0.0.1:8080")
	c.MetricsAddr = getenv("LATCH_METRICS_ADDR")
	c.PublicURL = getenv("LATCH_PUBLIC_URL")
	c.DatabaseURL = str("LATCH_DATABASE_URL", "sqlite:latch.db")
	c.RedisURL = getenv("LATCH_REDIS_URL")
	c.RedisPrefix = str("LATCH_REDIS_PREFIX", "latch:")
	c.SMTPURL = getenv("LATCH_SMTP_URL")
	c.MailFrom = str("LATCH_MAIL_FROM", "latch@localhost")
	c.ProductName = strings.TrimSpace(str("LATCH_PRODUCT_NAME", "latch"))
	c.TemplatesDir = getenv("LATCH_TEMPLATES_DIR")
	c.MailUnknownAccounts = boolean("LATCH_MAIL_UNKNOWN_ACCOUNTS", false)
	c.UnicodeEmail = boolean("LATCH_UNICODE_EMAIL", false)
	c.ConfirmEmail = boolean("LATCH_CONFIRM_EMAIL", true)
	c.AccessTTL = dur("LATCH_ACCESS_TTL", 15*time.Minute)
	c.AdminKey = getenv("LATCH_ADMIN_KEY")
	if c.AdminKey != "" && !validAdminKey(c.AdminKey) { // admin API: cli.go
		errs = append(errs, errors.New("LATCH_ADMIN_KEY must be at least 16 characters of letters, digits and -._~+/ (it is sent as a bearer token)"))
	}
	c.RevocationKey = getenv("LATCH_REVOCATION_KEY")
	c.Secret = getenv("LATCH_SECRET")
	c.Audience = getenv("LATCH_AUDIENCE")
	c.RefreshGrace = dur("LATCH_REFRESH_GRACE", 5*time.Second)
	c.SessionIdle = dur("LATCH_SESSION_IDLE", 168*time.Hour)
	c.SessionMax = dur("LATCH_SESSION_MAX", 720*time.Hour)
	c.ResetTTL = dur("LATCH_RESET_TTL", 60*time.Minute)
	c.ConfirmTTL = dur("LATCH_CONFIRM_TTL", 24*time.Hour)
	c.RateLimits = boolean("LATCH_RATE_LIMITS", true)
	c.LoginAfterReset = boolean("LATCH_LOGIN_AFTER_RESET", true)
	c.KeyAlg = str("LATCH_KEY_ALG", "EdDSA")
	c.LogFormat = getenv("LATCH_LOG_FORMAT")
	c.LogLevel = str("LATCH_LOG_LEVEL", "info")
	c.PasswordMin = 8
	if v := getenv("LATCH_PASSWORD_MIN"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 256 {
			errs = append(errs, fmt.Errorf("LATCH_PASSWORD_MIN: %q is not a number from 1 to 256", v))
		} else {
			c.PasswordMin = n
		}
	}
	if v := getenv("LATCH_HASH_QUEUE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100000 {
			errs = append(errs, fmt.Errorf("LATCH_HASH_QUEUE: %q is not a number from 1 to 100000", v))
		} else {
			c.HashQueue = n
		}
	}
	proxies := getenv("LATCH_TRUSTED_PROXIES")
	origins := getenv("LATCH_CORS_ORIGINS")

	fs := flag.NewFlagSet("latch "+name, flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (LATCH_ADDR)")
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "public base URL (LATCH_PUBLIC_URL; default: http:// and the listen address, localhost for a loopback one)")
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "sqlite:PATH or postgres://... (LATCH_DATABASE_URL)")
	fs.StringVar(&c.SMTPURL, "smtp-url", c.SMTPURL, "smtp://user:pass@host:port (LATCH_SMTP_URL)")
	fs.StringVar(&c.Env, "env", c.Env, "development or production (LATCH_ENV)")
	fs.StringVar(&proxies, "trusted-proxies", proxies, "CIDRs whose X-Forwarded-For is believed (LATCH_TRUSTED_PROXIES)")
	fs.StringVar(&origins, "cors-origins", origins, "allowed browser origins (LATCH_CORS_ORIGINS)")
	if err := fs.Parse(args); err != nil {
		help := fmt.Sprintf("usage: latch %s [flags]\n\n%s\n\nflags:\n%s", name, commandDoc[name], flagUsage(fs))
		if errors.Is(err, flag.ErrHelp) {
			return nil, &helpRequest{help}
		}
		return nil, fmt.Errorf("latch %s: %w\n%s", name, err, help)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}

	for _, p := range splitList(proxies) {
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
	for _, o := range splitList(origins) {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, fmt.Errorf("LATCH_CORS_ORIGINS: %q is not an origin like https://app.example.com", o))
			continue
		}
		c.CORSOrigins = append(c.CORSOrigins, u.Scheme+"://"+u.Host)
	}
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("LATCH_ADDR: %q is not HOST:PORT (e.g. 127.0.0.1:8080 or :8080)", c.Addr))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		errs = append(errs, fmt.Errorf("LATCH_ADDR: %q has no port number from 0 to 65535", c.Addr))
	}
	if c.PublicURL == "" {
		c.PublicURL = publicURLForAddr(c.Addr)
		c.PublicURLFromAddr = true
	}
	pu, err := url.Parse(c.PublicURL)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		errs = append(errs, fmt.Errorf("LATCH_PUBLIC_URL: %q is not an http(s) URL", c.PublicURL))
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.Audience == "" {
		c.Audience = c.PublicURL
		c.AudienceFromPublicURL = true
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("LATCH_LOG_LEVEL: %q is not debug, info, warn or error", c.LogLevel))
	}
	if a, err := mail.ParseAddress(c.MailFrom); err != nil || !strings.Contains(a.Address, "@") {
		errs = append(errs, fmt.Errorf("LATCH_MAIL_FROM: %q is not an email address (e.g. latch@example.com or \"Example <no-reply@example.com>\")", c.MailFrom))
	}
	if c.ProductName == "" || strings.ContainsFunc(c.ProductName, unicode.IsControl) || len(c.ProductName) > 100 {
		errs = append(errs, fmt.Errorf("LATCH_PRODUCT_NAME: %q must be 1 to 100 characters on one line", c.ProductName))
	}
	if c.RedisURL != "" {
		if _, err := limit.RedisOptions(c.RedisURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.SMTPURL != "" {
		if _, err := latchmail.NewSMTPSender(c.SMTPURL, c.MailFrom); err != nil {
			errs = append(errs, fmt.Errorf("LATCH_SMTP_URL: %w", err))
		}
	}
	if c.RevocationKey != "" && !bearerSafe(c.RevocationKey) {
		errs = append(errs, errors.New("LATCH_REVOCATION_KEY must be letters, digits and -._~+/ (it is sent as a bearer token)"))
	}
	switch c.KeyAlg {
	case "EdDSA", "ES256", "RS256":
	default:
		errs = append(errs, fmt.Errorf("LATCH_KEY_ALG: %q is not EdDSA, ES256 or RS256", c.KeyAlg))
	}
	// Key rotation and OAuth clients: keys.go.
	errs = append(errs, c.loadOAuth(getenv)...)
	switch c.Env {
	case "development":
	case "production":
		if c.Secret == "" {
			errs = append(errs, errors.New("production needs LATCH_SECRET (at least 32 characters)"))
		}
		if c.PublicURLFromAddr {
			errs = append(errs, errors.New("production needs LATCH_PUBLIC_URL (https://...): the base of mailed links and of iss"))
		} else if pu != nil && pu.Scheme != "https" {
			errs = append(errs, errors.New("production needs LATCH_PUBLIC_URL on https"))
		}
		if c.SMTPURL == "" {
			errs = append(errs, errors.New("production needs LATCH_SMTP_URL: mails cannot only be logged"))
		}
	default:
		errs = append(errs, fmt.Errorf("LATCH_ENV: %q is not development or production", c.Env))
	}
	if c.Secret != "" && len(c.Secret) < 32 {
		errs = append(errs, errors.New("LATCH_SECRET must be at least 32 characters"))
	}
	if c.LogFormat == "" {
		c.LogFormat = "text"
		if c.Env == "production" {
			c.LogFormat = "json"
		}
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("LATCH_LOG_FORMAT: %q is not text or json", c.LogFormat))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return c, nil
}

func flagUsage(fs *flag.FlagSet) string {
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	return b.String()
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// sqlitePath returns the file of a sqlite database URL, or "".
func sqlitePath(dbURL string) string {
	switch {
	case strings.HasPrefix(dbURL, "sqlite://"):
		return strings.TrimPrefix(dbURL, "sqlite://")
	case strings.HasPrefix(dbURL, "sqlite:"):
		return strings.TrimPrefix(dbURL, "sqlite:")
	case strings.HasPrefix(dbURL, "file:"):
		return strings.TrimPrefix(dbURL, "file:")
	case strings.HasSuffix(dbURL, ".db"):
		return dbURL
	}
	return ""
}

// developmentSecret reads, or creates, the secret file used in development
// when LATCH_SECRET is unset: beside the SQLite database, or latch.secret
// in the working directory.
func developmentSecret(dbURL string) (secret []byte, path string, created bool, err error) {
	path = "latch.secret"
	if p := sqlitePath(dbURL); p != "" {
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		path = p + ".secret"
	}
	path = filepath.Clean(path)
	if b, err := os.ReadFile(path); err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 32 {
			return nil, path, false, fmt.Errorf("secret file %s is shorter than 32 characters", path)
		}
		return []byte(s), path, false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, path, false, err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, path, false, err
	}
	s := hex.EncodeToString(raw[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return developmentSecret(dbURL)
		}
		return nil, path, false, err
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return nil, path, false, err
	}
	if err := f.Close(); err != nil {
		return nil, path, false, err
	}
	return []byte(s), path, true, nil
}
