// Package httpapi is the HTTP transport of latch's JSON API (api.md):
// routing, JSON decoding and encoding, RFC 9457 problems, bearer
// authentication, CORS, security headers, client addresses, request ids and
// the access log. Every rule lives in auth.Service; handlers only translate.
package httpapi

import (
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/revfeed"
)

// Config holds the server's dependencies and settings.
type Config struct {
	// Metrics, when set, observes every request. Nil: no metrics. The
	// metrics are not served here: the API listener is public, and latch
	// serves them on a listener of their own (LATCH_METRICS_ADDR).
	Metrics Metrics
	// Service carries every rule; required.
	Service *auth.Service
	// Logger receives the access log and errors; nil discards them.
	Logger *slog.Logger
	// TrustedProxies are the peers whose X-Forwarded-For is believed; the
	// client is the rightmost hop that is not one of them. Empty: the
	// socket peer is always the client.
	TrustedProxies []netip.Prefix
	// CORSOrigins are the exact browser origins (scheme://host[:port]) that
	// may call the API. Empty: no cross-origin access.
	CORSOrigins []string
	// AdminKey, when not empty, is the admin API key (LATCH_ADMIN_KEY),
	// accepted as "Authorization: Bearer <key>" on admin routes and for
	// token introspection.
	AdminKey string
	// OAuthClients are the confidential OAuth clients (LATCH_OAUTH_CLIENTS,
	// see ParseOAuthClients). Any other client_id is a public client.
	OAuthClients []OAuthClient
	// PasswordGrantOff refuses the password grant to callers that are not
	// a registered client listing it (LATCH_PASSWORD_GRANT=false).
	PasswordGrantOff bool
	// Revocations, when set, serves the revocation feed at
	// GET /v1/revocations (package verify follows it).
	Revocations *revfeed.Feed
	// RevocationKey, when not empty, is required on the revocation feed as
	// "Authorization: Bearer <key>" (LATCH_REVOCATION_KEY; the admin key
	// is accepted too). Empty: the feed is public.
	RevocationKey string
}

// Metrics receives one observation per answered request
// (internal/metrics.Metrics implements it).
type Metrics interface {
	// ObserveRequest is called once per request with the matched route
	// pattern ("" when none matched), the status and the time taken.
	ObserveRequest(method, route string, status int, d time.Duration)
}

// server is the state the handlers share.
type server struct {
	// metrics, when set, observes requests.
	metrics Metrics
	svc     *auth.Service
	log     *slog.Logger
	proxies []netip.Prefix
	origins map[string]struct{}
	// adminKey is Config.AdminKey (unset: no key works).
	adminKey auth.Secret
	// oauthClients are the confidential OAuth clients by id.
	oauthClients map[string]OAuthClient
	// passwordGrantOff is Config.PasswordGrantOff.
	passwordGrantOff bool
	// revocations serves the revocation feed (nil: off);
	// revocationKey is Config.RevocationKey (unset: the feed is public).
	revocations   *revfeed.Feed
	revocationKey auth.Secret
}

// NewServer returns the handler of latch's JSON API, operational endpoints
// and JWKS.
func NewServer(cfg Config) http.Handler {
	s := &server{
		svc:     cfg.Service,
		log:     cfg.Logger,
		proxies: cfg.TrustedProxies,
		origins: make(map[string]struct{}, len(cfg.CORSOrigins)),
		metrics: cfg.Metrics,
	}
	s.passwordGrantOff = cfg.PasswordGrantOff
	s.oauthClients = make(map[string]OAuthClient, len(cfg.OAuthClients))
	for _, c := range cfg.OAuthClients {
		s.oauthClients[c.ID] = c
	}
	s.initRevocations(cfg)
	s.adminKey = auth.NewSecret(cfg.AdminKey)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, o := range cfg.CORSOrigins {
		if o != "" && o != "*" && o != "null" {
			s.origins[o] = struct{}{}
		}
	}
	mux := http.NewServeMux()
	addRoutes(mux, s)
	var h http.Handler = storeBudget(s.problems(mux))
	h = s.cors(h)
	h = securityHeaders(h)
	h = s.observe(h)
	return h
}
