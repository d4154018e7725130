// Package metrics exposes latch's Prometheus metrics: HTTP requests by
// route pattern and status with latencies, security events (logins,
// refreshes, reuse detections, throttling), rate-limit refusals, limiter
// and fan-out errors, mail delivery failures, and gauges read at scrape
// time (hashing queue depth, outbox depth, database pool statistics).
//
// Every metric is named latch_*; labels take values from closed sets
// (route patterns, event types, status codes), never from user input.
//
// No metric may tell an address with an account from one without: a
// counter that moves only when an address has an account would undo what
// forgot-password, resend and signup do to answer alike (same status, same
// time, the work off the request path). So requests are counted at the
// request (latch_http_requests_total), alike for every address; security
// events are counted only for the types in countedEvents; mail is counted
// only when delivery fails (an operational signal, see MailDelivery).
package metrics

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/latchauth/latch/internal/auth"
)

// Metrics holds latch's collectors on a registry of its own.
type Metrics struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	events        *prometheus.CounterVec
	limited       *prometheus.CounterVec
	limiterErrors prometheus.Counter
	limiterByMode *prometheus.CounterVec
	fanoutErrors  prometheus.Counter
	mailFailures  prometheus.Counter
}

// New returns the metrics, with the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "latch_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by method and route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_security_events_total",
			Help: "Security events (login, login_failed, refresh_reuse_detected, logout, ...), by type; only types that do not depend on whether an address has an account.",
		}, []string{"type"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_rate_limited_total",
			Help: "Requests refused with 429 rate_limited, by route pattern.",
		}, []string{"route"}),
		limiterErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "latch_limiter_errors_total",
			Help: "Shared rate limiter (Redis) errors; each one puts the limiter in its in-process fallback.",
		}),
		limiterByMode: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_limiter_decisions_total",
			Help: "Rate limit and login throttle decisions, by backend: redis (shared), memory (in-process fallback while Redis is unreachable).",
		}, []string{"backend"}),
		fanoutErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "latch_fanout_errors_total",
			Help: "Revocation fan-out errors (Redis unreachable); other instances learn of revocations at their next poll.",
		}),
		mailFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "latch_mail_delivery_failures_total",
			Help: "Failed mail delivery attempts of the outbox worker (relay unreachable or refusing); the message is retried or dropped.",
		}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.events, m.limited, m.limiterErrors, m.limiterByMode, m.fanoutErrors, m.mailFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where the collectors live (to add more).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// ObserveRequest counts one answered request; route is the matched
// pattern ("" when no route matched).
func (m *Metrics) ObserveRequest(method, route string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	method = knownMethod(method)
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
	if status == http.StatusTooManyRequests {
		m.limited.WithLabelValues(route).Inc()
	}
}

// knownMethod keeps the method label's values to a closed set.
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// countedEvents are the security event types latch_security_events_total
// counts: those whose occurrence tells nothing about whether an address has
// an account beyond what the caller's own answer tells. Left out:
//   - signup: with confirmation required, a signup for a taken address
//     answers the same 202 and emits no signup event (the owner is mailed);
//   - reset_requested: emitted off the request path, and only when the
//     address has an account.
//
// Both requests are counted at the request, alike for every address, by
// latch_http_requests_total (routes "POST /v1/signup" and "POST
// /v1/password/forgot"); accounts that come to life are counted by confirm.
// A new event type is not counted until it is added here, after checking
// the same.
var countedEvents = map[string]bool{
	auth.EventConfirm:              true, // needs the link from the mailbox
	auth.EventLogin:                true, // needs the password; the caller sees 200
	auth.EventLoginFailed:          true, // unknown address and wrong password alike
	auth.EventLoginThrottled:       true, // throttled per address, known or not
	auth.EventRefreshReuseDetected: true,
	auth.EventLogout:               true,
	auth.EventLogoutAll:            true,
	auth.EventSessionEnded:         true,
	auth.EventResetCompleted:       true, // needs the link from the mailbox
	auth.EventPasswordChanged:      true,
	auth.EventEmailChangeRequested: true, // emitted whether or not the new address is taken
	auth.EventEmailChanged:         true, // needs the link from the new mailbox
	auth.EventAccountDeleted:       true,
	auth.EventTokenRevoked:         true,
	auth.EventRoleChanged:          true, // admin actions: the admin knows the account
	auth.EventDisabled:             true,
	auth.EventEnabled:              true,
	auth.EventForceLogout:          true,
	auth.EventUserCreated:          true,
	auth.EventUserDeleted:          true,
	auth.EventEmailConfirmedSet:    true,
	auth.EventUsersImported:        true,
}

// OnEvent is an auth.Deps.OnEvent hook: it counts security events by type,
// for the types in countedEvents.
func (m *Metrics) OnEvent(_ context.Context, e auth.Event) {
	if countedEvents[e.Type] {
		m.events.WithLabelValues(e.Type).Inc()
	}
}

// LimiterError counts an error of the shared rate limiter.
func (m *Metrics) LimiterError(error) { m.limiterErrors.Inc() }

// LimiterDecision counts a decision of the shared rate limiter by backend
// ("redis" or "memory").
func (m *Metrics) LimiterDecision(backend string) {
	if backend != "redis" {
		backend = "memory"
	}
	m.limiterByMode.WithLabelValues(backend).Inc()
}

// FanoutError counts an error of the revocation fan-out.
func (m *Metrics) FanoutError(error) { m.fanoutErrors.Inc() }

// MailDelivery counts a failed delivery attempt of the outbox worker.
// Successful deliveries are not counted: every mail goes to one account's
// address, and a reset or resend mail exists only when the address has an
// account, so a count of them would answer "does this address have an
// account?" to whoever reads the metrics. Failures are kept as an
// operational signal: they move only while the relay is unreachable or
// refuses mail, which an operator must see; during such an outage (as with
// latch_outbox_depth, which grows while mail is stuck) they move with mail
// that was queued, one more reason to keep the metrics listener private.
func (m *Metrics) MailDelivery(err error) {
	if err != nil {
		m.mailFailures.Inc()
	}
}

// Gauge registers a gauge read from f at every scrape.
func (m *Metrics) Gauge(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// OutboxDepth registers latch_outbox_depth, counted by depth at every
// scrape.
func (m *Metrics) OutboxDepth(depth func(context.Context) (int, error)) {
	m.queueDepth("latch_outbox_depth", "Mails waiting in the outbox (-1: the database did not answer).", depth)
}

// queueDepth registers a gauge counted by depth at every scrape, bounded
// to two seconds; -1 when the database does not answer.
func (m *Metrics) queueDepth(name, help string, depth func(context.Context) (int, error)) {
	m.Gauge(name, help, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := depth(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
}

// DBStats registers the connection pool's statistics (sql.DBStats) as
// latch_db_* metrics.
func (m *Metrics) DBStats(stats func() sql.DBStats) {
	m.reg.MustRegister(&dbCollector{stats: stats})
}

type dbCollector struct {
	stats func() sql.DBStats
}

var (
	dbMaxOpen      = prometheus.NewDesc("latch_db_max_open_connections", "Maximum number of open connections to the database.", nil, nil)
	dbOpen         = prometheus.NewDesc("latch_db_open_connections", "Established connections, in use and idle.", nil, nil)
	dbInUse        = prometheus.NewDesc("latch_db_in_use_connections", "Connections in use.", nil, nil)
	dbIdle         = prometheus.NewDesc("latch_db_idle_connections", "Idle connections.", nil, nil)
	dbWaitCount    = prometheus.NewDesc("latch_db_wait_count_total", "Times a connection was waited for.", nil, nil)
	dbWaitDuration = prometheus.NewDesc("latch_db_wait_duration_seconds_total", "Time spent waiting for connections.", nil, nil)
	dbClosedIdle   = prometheus.NewDesc("latch_db_closed_max_idle_time_total", "Connections closed for being idle too long.", nil, nil)
	dbClosedLife   = prometheus.NewDesc("latch_db_closed_max_lifetime_total", "Connections closed for reaching their maximum lifetime.", nil, nil)
)

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dbMaxOpen, dbOpen, dbInUse, dbIdle, dbWaitCount, dbWaitDuration, dbClosedIdle, dbClosedLife} {
		ch <- d
	}
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	k := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	g(dbMaxOpen, float64(s.MaxOpenConnections))
	g(dbOpen, float64(s.OpenConnections))
	g(dbInUse, float64(s.InUse))
	g(dbIdle, float64(s.Idle))
	k(dbWaitCount, float64(s.WaitCount))
	k(dbWaitDuration, s.WaitDuration.Seconds())
	k(dbClosedIdle, float64(s.MaxIdleTimeClosed))
	k(dbClosedLife, float64(s.MaxLifetimeClosed))
}
