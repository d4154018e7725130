package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/latchauth/latch/jws"
)

// Config configures a Verifier. Zero values take the defaults noted beside
// each field.
type Config struct {
	// Issuer is the required iss: latch's LATCH_PUBLIC_URL without a
	// trailing slash. Required.
	Issuer string
	// Audience must be one of the token's aud values (LATCH_AUDIENCE,
	// which defaults to the public URL). Required.
	Audience string
	// JWKSURL is where the keys are fetched (default
	// Issuer + "/.well-known/jwks.json").
	JWKSURL string
	// RevocationsURL, when set, turns on immediate revocation: the
	// Verifier follows latch's revocation feed (for example
	// "https://auth.example.com/v1/revocations") and refuses tokens of
	// ended sessions and of users cut off, within about a second.
	RevocationsURL string
	// RevocationsKey is sent as "Authorization: Bearer <key>" to the feed
	// when latch requires one (LATCH_REVOCATION_KEY).
	RevocationsKey string
	// HTTPClient fetches keys and the feed (default: a client of its own;
	// requests carry their own deadlines).
	HTTPClient *http.Client
	// Leeway is the clock skew allowed on exp, nbf and iat (default 30s;
	// negative: none).
	Leeway time.Duration
	// RefreshInterval is how often the keys are fetched again while tokens
	// are being verified (default 5m). A Cache-Control max-age on the JWKS
	// answer replaces it, within [MinRefreshInterval, 24h].
	RefreshInterval time.Duration
	// MinRefreshInterval bounds how often a token with an unknown kid, or
	// a failing latch, makes the Verifier fetch the keys (default 10s).
	MinRefreshInterval time.Duration
	// MaxTokenSize is the largest token accepted, in bytes (default 8192).
	MaxTokenSize int
	// Realm is the realm of the middleware's WWW-Authenticate challenges
	// (default none).
	Realm string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives key refresh and feed failures (default discard).
	Logger *slog.Logger
}

// Verifier verifies latch access tokens locally: signature with a cached
// key from latch's JWKS, then iss, aud, exp, nbf, iat and typ, then -
// when the revocation feed is on - whether the session ended or the user
// was cut off. It is safe for concurrent use. Close stops its background
// work.
//
// Verifier is the one to use in a service that accepts latch's tokens. Its
// check is jws.Verify, the same rule latch's server applies to its own
// tokens; jws.Verify alone neither fetches nor caches keys.
type Verifier struct {
	cfg  Config
	log  *slog.Logger
	http *http.Client

	keysMu      sync.RWMutex
	keys        map[string]*Key
	nextRefresh time.Time // when the keys are due for a periodic refresh
	lastAttempt time.Time // of a fetch, for MinRefreshInterval
	fetching    *fetch    // the fetch in progress, if any

	rev *revocations

	ctx    context.Context
	cancel context.CancelFunc
	bg     sync.WaitGroup
}

// New returns a Verifier for cfg. It does not wait for the network: keys
// are fetched on the first verification (or by Ready), and the revocation
// feed, when configured, is followed from now on in the background.
func New(cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("verify: Issuer and Audience are required")
	}
	if cfg.JWKSURL == "" {
		cfg.JWKSURL = strings.TrimRight(cfg.Issuer, "/") + "/.well-known/jwks.json"
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 30 * time.Second
	} else if cfg.Leeway < 0 {
		cfg.Leeway = 0
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = 5 * time.Minute
	}
	if cfg.MinRefreshInterval <= 0 {
		cfg.MinRefreshInterval = 10 * time.Second
	}
	if cfg.MaxTokenSize <= 0 {
		cfg.MaxTokenSize = DefaultMaxSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &Verifier{
		cfg:  cfg,
		log:  cfg.Logger,
		http: cfg.HTTPClient,
		keys: map[string]*Key{},
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	if v.http == nil {
		v.http = &http.Client{}
	}
	v.ctx, v.cancel = context.WithCancel(context.Background())
	if cfg.RevocationsURL != "" {
		v.rev = newRevocations()
		v.bg.Add(1)
		go func() {
			defer v.bg.Done()
			v.follow(v.ctx)
		}()
	}
	return v, nil
}

// Close stops the background work (key refreshes, the revocation feed).
// Verify keeps working with what is cached.
func (v *Verifier) Close() error {
	v.cancel()
	v.bg.Wait()
	return nil
}

// Ready fetches the keys if none are cached yet and, when the revocation
// feed is on, waits for its first answer. Call it at start-up to fail fast
// or to be sure that no revoked token slips through in the first moments.
func (v *Verifier) Ready(ctx context.Context) error {
	v.keysMu.RLock()
	have := len(v.keys) > 0
	v.keysMu.RUnlock()
	if !have {
		if err := v.Refresh(ctx); err != nil {
			return err
		}
	}
	if v.rev != nil {
		select {
		case <-v.rev.synced:
		case <-ctx.Done():
			return fmt.Errorf("verify: waiting for the revocation feed: %w", ctx.Err())
		}
	}
	return nil
}

// Verify checks an access token (the compact JWS, without "Bearer ") and
// returns its claims. Every refusal wraps ErrInvalid; an expired token
// also wraps ErrExpired, a revoked one ErrRevoked.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	now := v.cfg.Now()
	ck := jws.Checks{
		Issuer:   v.cfg.Issuer,
		Audience: v.cfg.Audience,
		Leeway:   v.cfg.Leeway,
		Now:      now,
		MaxSize:  v.cfg.MaxTokenSize,
	}
	c, err := jws.Verify(token, func(kid string) (*Key, error) { return v.key(ctx, kid, now) }, &ck)
	if err != nil {
		return nil, refusal(err)
	}
	if v.rev != nil {
		if err := v.rev.check(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// key returns the cached key kid. An unknown kid fetches the keys again,
// at most once per MinRefreshInterval; keys due for their periodic refresh
// are fetched in the background while the cached ones keep serving.
func (v *Verifier) key(ctx context.Context, kid string, now time.Time) (*Key, error) {
	v.keysMu.RLock()
	k, ok := v.keys[kid]
	due := !v.nextRefresh.IsZero() && !now.Before(v.nextRefresh)
	v.keysMu.RUnlock()
	if ok {
		if due {
			v.refreshAsync(now)
		}
		return k, nil
	}
	if err := v.refreshIfAllowed(ctx, now); err != nil {
		v.log.Warn("verify: fetching the JWKS", "url", v.cfg.JWKSURL, "err", err)
	}
	v.keysMu.RLock()
	k, ok = v.keys[kid]
	v.keysMu.RUnlock()
	if !ok {
		return nil, invalid("unknown kid")
	}
	return k, nil
}

// refreshAsync starts a background fetch unless one ran recently.
func (v *Verifier) refreshAsync(now time.Time) {
	v.keysMu.Lock()
	if v.fetching != nil || now.Sub(v.lastAttempt) < v.cfg.MinRefreshInterval {
		v.keysMu.Unlock()
		return
	}
	v.keysMu.Unlock()
	v.bg.Add(1)
	go func() {
		defer v.bg.Done()
		ctx, cancel := context.WithTimeout(v.ctx, 10*time.Second)
		defer cancel()
		if err := v.refreshIfAllowed(ctx, now); err != nil {
			v.log.Warn("verify: refreshing the JWKS", "url", v.cfg.JWKSURL, "err", err)
		}
	}()
}

// refreshIfAllowed fetches the keys unless a fetch was attempted less than
// MinRefreshInterval ago; a fetch in progress is joined.
func (v *Verifier) refreshIfAllowed(ctx context.Context, now time.Time) error {
	v.keysMu.Lock()
	if f := v.fetching; f != nil {
		v.keysMu.Unlock()
		return f.wait(ctx)
	}
	if !v.lastAttempt.IsZero() && now.Sub(v.lastAttempt) < v.cfg.MinRefreshInterval {
		v.keysMu.Unlock()
		return nil
	}
	return v.fetchLocked(ctx, now)
}

// Refresh fetches the keys now, whatever MinRefreshInterval says (a fetch
// in progress is joined). On failure the cached keys stay.
func (v *Verifier) Refresh(ctx context.Context) error {
	v.keysMu.Lock()
	if f := v.fetching; f != nil {
		v.keysMu.Unlock()
		return f.wait(ctx)
	}
	return v.fetchLocked(ctx, v.cfg.Now())
}

// fetchLocked is called with keysMu held; it releases it while fetching.
func (v *Verifier) fetchLocked(ctx context.Context, now time.Time) error {
	f := &fetch{done: make(chan struct{})}
	v.fetching = f
	v.lastAttempt = now
	v.keysMu.Unlock()

	keys, maxAge, err := v.fetchJWKS(ctx)

	v.keysMu.Lock()
	defer v.keysMu.Unlock()
	v.fetching = nil
	f.err = err
	close(f.done)
	if err != nil {
		return err
	}
	v.keys = keys
	interval := v.cfg.RefreshInterval
	if maxAge > 0 {
		interval = min(max(maxAge, v.cfg.MinRefreshInterval), 24*time.Hour)
	}
	v.nextRefresh = now.Add(interval)
	return nil
}

// fetch is one JWKS fetch that other callers may join.
type fetch struct {
	done chan struct{} // closed when the fetch ends
	err  error         // its outcome, set before done is closed
}

// wait joins the fetch and returns its outcome.
func (f *fetch) wait(ctx context.Context) error {
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fetchJWKS gets and parses the key set, and the answer's max-age.
func (v *Verifier) fetchJWKS(ctx context.Context) (map[string]*Key, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.cfg.JWKSURL, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("verify: JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.http.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("verify: JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("verify: JWKS: %s answered %d", v.cfg.JWKSURL, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("verify: JWKS: %w", err)
	}
	keys, skipped, err := ParseJWKS(b)
	if err != nil {
		return nil, 0, err
	}
	for _, e := range skipped {
		v.log.Warn("verify: JWKS key skipped", "err", e)
	}
	if len(keys) == 0 {
		return nil, 0, errors.New("verify: JWKS has no usable key")
	}
	return keys, maxAge(resp.Header.Get("Cache-Control")), nil
}

// maxAge reads max-age from a Cache-Control header (0 when absent or
// no-store/no-cache).
func maxAge(cc string) time.Duration {
	var age time.Duration
	for _, d := range strings.Split(cc, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		switch {
		case d == "no-store" || d == "no-cache":
			return 0
		case strings.HasPrefix(d, "max-age="):
			n, err := strconv.ParseInt(strings.TrimPrefix(d, "max-age="), 10, 64)
			if err == nil && n > 0 && n < 1<<31 {
				age = time.Duration(n) * time.Second
			}
		}
	}
	return age
}
