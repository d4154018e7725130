package auth

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/latchauth/latch/internal/passkey"
)

// Config holds the service's settings. Zero values take the defaults noted
// beside each field (api.md's configuration table).
type Config struct {
	PublicURL string // default "http://localhost:8080"; iss is it without a trailing slash
	Audience  string // default PublicURL
	Product   string // default "latch"; used in mails

	AccessTTL    time.Duration // default 15m
	RefreshGrace time.Duration // default 5s; negative disables the grace window
	SessionIdle  time.Duration // default 168h
	SessionMax   time.Duration // default 720h
	ResetTTL     time.Duration // default 60m
	ConfirmTTL   time.Duration // default 24h

	// RequireConfirmation: login needs a confirmed email (LATCH_CONFIRM_EMAIL).
	RequireConfirmation bool
	// LoginAfterReset: a completed reset answers a token pair.
	LoginAfterReset bool
	// RateLimits turns on the per-IP limits and login throttling. The
	// per-account mail caps apply regardless.
	RateLimits bool
	// MailUnknownAccounts: a password reset asked for an address
	// without an account mails that address a "no account here" note
	// (LATCH_MAIL_UNKNOWN_ACCOUNTS, default off), within ForgotCap per
	// address, counted by the Limiter.
	MailUnknownAccounts bool
	// UnicodeEmail accepts addresses whose local part is outside ASCII
	// (LATCH_UNICODE_EMAIL), normalised with PRECIS; off, they are 422
	// invalid_email. See internal/emailaddr.
	UnicodeEmail bool

	// Secret seals signing keys and TOTP secrets at rest (at least 32 bytes).
	Secret []byte
	// KeyAlg is the algorithm of newly generated signing keys: "EdDSA"
	// (default), "ES256" or "RS256".
	KeyAlg string
	// KeyRotation is how long a key signs before RunKeyMaintenance rotates
	// it; default 720h, negative: only `latch keys rotate`.
	KeyRotation time.Duration
	// KeyReload is how often RunKeyMaintenance reloads the key set from
	// the store (keys rotated by another instance); default 1m.
	KeyReload time.Duration

	// Webhooks. WebhookHTTPSOnly refuses http:// receivers (production);
	// WebhookAllowPrivate lets receivers be on loopback and private
	// addresses (LATCH_WEBHOOK_ALLOW_PRIVATE; tests); WebhookRetryWindow
	// is how long a delivery is retried (default 24h).
	WebhookHTTPSOnly    bool
	WebhookAllowPrivate bool
	WebhookRetryWindow  time.Duration

	// RedirectURLs is where hosted pages may send the browser after
	// success (LATCH_REDIRECT_URLS; see RedirectAllowed). Empty: nowhere.
	RedirectURLs []string

	// WebAuthnOrigins are the origins besides the public URL's that
	// passkey ceremonies may come from (LATCH_WEBAUTHN_ORIGINS); the RP ID
	// is the public URL's host.
	WebAuthnOrigins []string

	// Limits; zero values take api.md's defaults.
	LoginPerIP  Rate // 20/min
	SignupPerIP Rate // 10/min
	MailPerIP   Rate // 10/min, for forgot, resend, confirm and reset
	ForgotCap   Rate // 5/h per email
	ResendCap   Rate // 5/24h per account
	NoticeCap   Rate // 5/24h per account and notice kind

	// SessionCache bounds the sessions and users Authenticate keeps in
	// memory (default 10000 entries, about 5 MB at most; negative: none,
	// every bearer check reads the store and checks the signature). See
	// sessioncache.go for how the cache stays true; with it, the last 4096
	// access tokens verified are remembered too (tokencache.go).
	SessionCache int
	// SessionCacheMaxAge is how long a cached entry is used before it is
	// read again (default 1s): the bound on how long a change made through
	// another instance (or the CLI) goes unseen here when no fan-out notice
	// reaches this one (Redis down or not configured, a notice lost).
	SessionCacheMaxAge time.Duration
}

// Hasher hashes and verifies passwords (internal/password.Hasher). An
// error with a Busy method that reports true (a full hashing queue) is
// answered 503 unavailable with a Retry-After.
type Hasher interface {
	Hash(ctx context.Context, pw string) (string, error)
	// Verify reports whether pw matches encoded, and whether encoded should
	// be replaced by a fresh Hash.
	Verify(ctx context.Context, pw, encoded string) (ok, needsRehash bool, err error)
	// VerifyDummy spends the time of a Verify for an unknown account and
	// fails as Verify would (a full queue).
	VerifyDummy(ctx context.Context, pw string) error
}

// Policy checks a new password; its error's message is shown to the user.
type Policy interface {
	Check(pw, email string) error
}

// Deps are the service's collaborators.
type Deps struct {
	Store    Store
	Limiter  Limiter
	Composer Composer
	Hasher   Hasher
	Policy   Policy
	Logger   *slog.Logger     // default: discard
	Now      func() time.Time // default time.Now
	// MailNotify, when set, is called after mail was enqueued (wakes the
	// outbox worker).
	MailNotify func()
	// Webhooks keeps webhook endpoints and their deliveries (the SQL
	// store); nil: the webhook admin calls answer unavailable.
	Webhooks WebhookStore
	// WebhookNotify, when set, is called after a commit that queued
	// webhook deliveries (wakes the delivery worker).
	WebhookNotify func()
	// Resolve, when set, replaces DNS for the check of a webhook URL.
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// OnEvent, when set, is called with every security event after it was
	// logged (audit log, metrics). It must not block for long.
	OnEvent func(ctx context.Context, e Event)
}

// Service carries every rule of latch's account and token lifecycle.
type Service struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	now  func() time.Time
	iss  string

	keysMu sync.RWMutex
	keys   *keyRing
	reload keyReload // reloads of keys for unknown kids

	bg    sync.WaitGroup // per-user work done off the request path
	bgSem chan struct{}

	cache    *sessionCache   // nil: off
	verified *verifiedTokens // nil: off

	passkeys    *passkey.RP // nil: off, for passkeysErr
	passkeysErr error
}

// New builds the service and loads (or, on first start, creates) the
// signing keys.
func New(ctx context.Context, cfg Config, deps Deps) (*Service, error) {
	cfg = cfg.WithDefaults()
	if len(cfg.Secret) < 32 {
		return nil, fmt.Errorf("auth: the secret must be at least 32 bytes")
	}
	if deps.Store == nil || deps.Hasher == nil || deps.Policy == nil || deps.Composer == nil || deps.Limiter == nil {
		return nil, fmt.Errorf("auth: Store, Hasher, Policy, Composer and Limiter are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	s := &Service{
		cfg:   cfg,
		deps:  deps,
		log:   deps.Logger,
		now:   func() time.Time { return deps.Now().UTC() },
		iss:   strings.TrimRight(cfg.PublicURL, "/"),
		bgSem: make(chan struct{}, bgSlots),
	}
	// A public URL that cannot be an RP ID (an IP address) turns passkeys
	// off, not the server.
	if s.passkeys, s.passkeysErr = newPasskeyRP(cfg); s.passkeysErr != nil {
		s.log.Warn("passkeys are off", "err", s.passkeysErr)
	}
	s.cache = newSessionCache(cfg.SessionCache, cfg.SessionCacheMaxAge, s.now)
	if s.cache != nil {
		s.verified = newVerifiedTokens(maxVerifiedTokens)
	}
	if err := s.loadKeys(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// WithDefaults returns c with every zero setting replaced by its default,
// the values noted beside the fields. New applies it; a program that
// shows or derives from the defaults (latch's configuration, the pages)
// reads them here rather than restating them.
func (c Config) WithDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://localhost:8080"
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.Audience == "" {
		c.Audience = c.PublicURL
	}
	if c.Product == "" {
		c.Product = "latch"
	}
	if c.KeyAlg == "" {
		c.KeyAlg = "EdDSA"
	}
	def(&c.AccessTTL, 15*time.Minute)
	def(&c.RefreshGrace, 5*time.Second)
	def(&c.SessionIdle, 168*time.Hour)
	def(&c.SessionMax, 720*time.Hour)
	def(&c.ResetTTL, 60*time.Minute)
	def(&c.ConfirmTTL, 24*time.Hour)
	def(&c.KeyRotation, 720*time.Hour)
	def(&c.KeyReload, time.Minute)
	def(&c.SessionCacheMaxAge, time.Second)
	def(&c.WebhookRetryWindow, DefaultWebhookRetryWindow)
	if c.SessionCache == 0 {
		c.SessionCache = 10000
	}
	rate := func(r *Rate, n int, per time.Duration) {
		if r.N == 0 || r.Per == 0 {
			*r = Rate{N: n, Per: per}
		}
	}
	rate(&c.LoginPerIP, 20, time.Minute)
	rate(&c.SignupPerIP, 10, time.Minute)
	rate(&c.MailPerIP, 10, time.Minute)
	rate(&c.ForgotCap, 5, time.Hour)
	rate(&c.ResendCap, 5, 24*time.Hour)
	rate(&c.NoticeCap, 5, 24*time.Hour)
	return c
}

// Issuer is the iss of access tokens and the discovery documents.
func (s *Service) Issuer() string { return s.iss }

// Config returns the effective configuration (defaults applied).
func (s *Service) Config() Config { return s.cfg }

// Ready reports whether the store answers.
func (s *Service) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.deps.Store.Ping(ctx); err != nil {
		return &Error{Code: CodeUnavailable, Message: "the database is not reachable", RetryAfter: 5 * time.Second, Cause: err}
	}
	// A database can answer and still refuse writes (a full disk, a
	// read-only standby): a store that tracks its writes says so.
	if w, ok := s.deps.Store.(interface{ WriteError() error }); ok {
		if err := w.WriteError(); err != nil {
			return &Error{Code: CodeUnavailable, Message: "writes to the database are failing: " + writeFailure(err), RetryAfter: 5 * time.Second, Cause: err}
		}
	}
	return nil
}

// writeFailure is the reason a WriteError gives, after its last ": ".
func writeFailure(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// Close waits for work started off the request path (mails of forgot and
// resend) to finish.
func (s *Service) Close() { s.bg.Wait() }

// Off-request-path work (the lookups and mails of forgot and resend): at
// most bgSlots jobs run at once; a request waits up to bgWait for a slot.
const (
	bgSlots = 64
	bgWait  = 10 * time.Second
)

// background runs fn off the request path with its own deadline. When
// every slot is taken the caller waits for one (back-pressure: a flood
// slows down, no request's mail is silently dropped), and when none frees
// within bgWait, or the request ends first, it answers 503 unavailable.
// The caller waits only for a slot, never for fn, and takes its slot before
// fn looks anything up, so how long it waits does not depend on what fn
// finds (whether an account exists).
func (s *Service) background(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	select {
	case s.bgSem <- struct{}{}:
	default:
		t := time.NewTimer(bgWait)
		defer t.Stop()
		select {
		case s.bgSem <- struct{}{}:
		case <-t.C:
			s.log.Warn("background work refused: no slot freed in time", "job", name)
			return &Error{Code: CodeUnavailable, Message: "the server is busy; try again shortly", RetryAfter: 5 * time.Second}
		case <-ctx.Done():
			return &Error{Code: CodeUnavailable, Message: "the server is busy; try again shortly", RetryAfter: 5 * time.Second, Cause: ctx.Err()}
		}
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		defer func() { <-s.bgSem }()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := fn(ctx); err != nil {
			s.log.Error("background work failed", "job", name, "err", err)
		}
	}()
	return nil
}
