package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/fanout"
	"github.com/latchauth/latch/internal/limit"
	"github.com/latchauth/latch/internal/mail"
	"github.com/latchauth/latch/internal/metrics"
	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/sqlstore"
)

// scale is what running several instances needs: metrics, the
// rate limiter (shared through Redis when LATCH_REDIS_URL is set) and the
// revocation fan-out (Redis pub/sub, or in-process).
type scale struct {
	metrics *metrics.Metrics
	limiter auth.Limiter
	hub     fanout.Hub
	closers []func()
}

// newScale sets up metrics, the limiter and the fan-out.
func newScale(c *config, log *slog.Logger, db *sqlstore.DB) (*scale, error) {
	m := metrics.New()
	m.DBStats(db.Stats)
	m.OutboxDepth(db.OutboxDepth)
	sc := &scale{metrics: m}
	if c.RedisURL == "" {
		sc.limiter = limit.New()
		sc.hub = &fanout.Local{}
		return sc, nil
	}
	opt, err := limit.RedisOptions(c.RedisURL)
	if err != nil {
		return nil, err
	}
	// go-redis logs through a process-wide logger: this one.
	redis.SetLogger(limit.RedisLogger(log))
	client := redis.NewClient(opt)
	sc.closers = append(sc.closers, func() { client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), limit.RedisTimeout*4)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		// Not fatal: limits hold per instance and the fan-out reconnects.
		log.Warn("Redis is not reachable at start; rate limits hold per instance until it is", "err", err)
	}
	rl := limit.NewRedis(client, limit.RedisConfig{
		Prefix:     c.RedisPrefix,
		OnError:    m.LimiterError,
		OnDecision: m.LimiterDecision,
		Logger:     log,
	})
	m.Gauge("latch_limiter_fallback", "1 while Redis is unreachable and rate limits are held per instance (in process), else 0.", func() float64 {
		if rl.Fallback() {
			return 1
		}
		return 0
	})
	sc.limiter = rl
	hub := fanout.NewRedis(client, fanout.RedisConfig{
		Channel: c.RedisPrefix + "revocations",
		Logger:  log,
		OnError: m.FanoutError,
	})
	sc.hub = hub
	// Closed first: it publishes what is queued on the client.
	sc.closers = append([]func(){func() { hub.Close() }}, sc.closers...)
	log.Info("shared rate limits and revocation fan-out on Redis", "prefix", c.RedisPrefix)
	return sc, nil
}

// watchHasher exports the hashing queue's depth.
func (sc *scale) watchHasher(h *password.Hasher) {
	sc.metrics.Gauge("latch_hash_queue_depth", "Password hashes running or waiting for a slot.", func() float64 {
		return float64(h.QueueDepth())
	})
}

// onEvent returns the auth.Deps.OnEvent hook: metrics, the fan-out, then
// the other hooks.
func (sc *scale) onEvent(others ...func(context.Context, auth.Event)) func(context.Context, auth.Event) {
	publish := fanout.OnEvent(sc.hub)
	return func(ctx context.Context, e auth.Event) {
		sc.metrics.OnEvent(ctx, e)
		publish(ctx, e)
		for _, f := range others {
			if f != nil {
				f(ctx, e)
			}
		}
	}
}

// sender counts deliveries of s.
func (sc *scale) sender(s mail.Sender) mail.Sender { return countingSender{s, sc.metrics} }

type countingSender struct {
	mail.Sender
	m *metrics.Metrics
}

func (s countingSender) Send(ctx context.Context, msg auth.Message) error {
	err := s.Sender.Send(ctx, msg)
	s.m.MailDelivery(err)
	return err
}

// serveMetrics serves GET /metrics on a listener of its own at addr, never
// on the public API listener: metrics are for the operator's scraper. An
// empty addr serves nothing. It returns the address listened on (addr may
// have port 0) and a function that stops the listener.
func (sc *scale) serveMetrics(addr string, log *slog.Logger) (string, func(), error) {
	if addr == "" {
		return "", func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("LATCH_METRICS_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", sc.metrics.Handler())
	mountProfiling(mux)
	srv := newHTTPServer(mux, log)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Error("metrics listener stopped", "err", err)
		}
	}()
	return ln.Addr().String(), func() { srv.Close(); <-done }, nil
}

// close releases Redis.
func (sc *scale) close() {
	for _, f := range sc.closers {
		f()
	}
}
