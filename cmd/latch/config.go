package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/httpapi"
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
	RedirectURLs    []string // LATCH_REDIRECT_URLS: where hosted pages may send the browser
	WebAuthnOrigins []string // LATCH_WEBAUTHN_ORIGINS: more origins of passkey ceremonies
	KeyAlg          string
	KeyRotation     time.Duration         // LATCH_KEY_ROTATION: negative is off
	OAuthClients    []httpapi.OAuthClient // LATCH_OAUTH_CLIENTS
	PasswordGrant   bool                  // LATCH_PASSWORD_GRANT: the password grant for callers without a registered client
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

	// Webhooks.
	WebhookAllowPrivate bool // LATCH_WEBHOOK_ALLOW_PRIVATE: receivers on loopback and private addresses
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
// command name (serve or migrate), then checks every value (settings.go).
func loadCommandConfig(name string, args []string, getenv func(string) string) (*config, error) {
	values := make(map[string]*string, len(settings))
	for _, s := range settings {
		v := getenv(s.name)
		if v == "" {
			v = s.def
		}
		values[s.name] = &v
	}
	if err := parseFlags(name, args, values); err != nil {
		return nil, err
	}
	c := &config{}
	var errs []error
	for _, s := range settings {
		if err := s.parse(c, *values[s.name]); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, c.derive()...)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return c, nil
}

// parseFlags sets values from the flags in args of the command name: the
// settings with a flag (a flag wins over the variable).
func parseFlags(name string, args []string, values map[string]*string) error {
	fs := flag.NewFlagSet("latch "+name, flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	for _, s := range settings {
		if s.flag != "" {
			fs.StringVar(values[s.name], s.flag, *values[s.name], s.usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		help := fmt.Sprintf("usage: latch %s [flags]\n\n%s\n\nflags:\n%s", name, commandDoc[name], flagUsage(fs))
		if errors.Is(err, flag.ErrHelp) {
			return &helpRequest{help}
		}
		return fmt.Errorf("latch %s: %w\n%s", name, err, help)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return nil
}

// derive fills in the settings that follow others (the public URL the
// listen address, the audience the public URL, the log format the
// environment) and checks what production requires.
func (c *config) derive() []error {
	var errs []error
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
	if c.SMTPURL != "" {
		if _, err := latchmail.NewSMTPSender(c.SMTPURL, c.MailFrom); err != nil {
			errs = append(errs, fmt.Errorf("LATCH_SMTP_URL: %w", err))
		}
	}
	if c.Env == "production" {
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
	}
	if c.LogFormat == "" {
		c.LogFormat = "text"
		if c.Env == "production" {
			c.LogFormat = "json"
		}
	}
	return errs
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
