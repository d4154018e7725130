// Package webhook delivers latch's webhook events: the transactions that
// change users queue deliveries (auth.Tx.EnqueueWebhook), and a Worker
// claims them with a lease, signs them per Standard Webhooks
// (github.com/standard-webhooks/standard-webhooks) and POSTs them,
// retrying with exponential backoff and jitter until each delivery's
// retry window ends. Delivery is at least once: the webhook-id stays the
// same on every attempt, so receivers drop what they already had.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/netguard"
	"github.com/latchauth/latch/internal/poll"
)

// Queue is what the worker needs of the store.
type Queue interface {
	WebhookByID(ctx context.Context, id string) (*auth.WebhookEndpoint, error)
	ClaimWebhookDeliveries(ctx context.Context, now time.Time, n int, lease time.Duration) ([]*auth.WebhookDelivery, error)
	RecordWebhookAttempt(ctx context.Context, id int64, attempt int, a auth.WebhookAttempt) (bool, error)
}

// Results of an attempt, the values of Config.Observe's result.
const (
	ResultDelivered = "delivered" // a 2xx answered
	ResultRetry     = "retry"     // no 2xx; tried again later
	ResultFailed    = "failed"    // no 2xx and the retry window is over
)

// Config configures a Worker. Zero values take the documented defaults.
type Config struct {
	// Secret is LATCH_SECRET, which sealed the endpoints' signing secrets.
	Secret []byte
	// AllowPrivate lets deliveries reach loopback, private and link-local
	// addresses (LATCH_WEBHOOK_ALLOW_PRIVATE); off, the dialer refuses
	// them whatever a name resolves to.
	AllowPrivate bool
	// Timeout is how long a receiver has to answer, connection included.
	// Default 10s.
	Timeout time.Duration
	// Batch is how many deliveries one pass claims and sends at once.
	// Default 16.
	Batch int
	// Poll is how long Run waits between passes when nothing woke it.
	// Default 1s.
	Poll time.Duration
	// Lease is how long a claimed delivery stays invisible to other
	// workers; at least 3*Timeout. Default 1m.
	Lease time.Duration
	// BaseBackoff and MaxBackoff shape the wait after the n-th failed
	// attempt: min(MaxBackoff, BaseBackoff * 2^(n-1)), times a random
	// factor in [0.5, 1.5). Defaults 5s and 1h.
	BaseBackoff, MaxBackoff time.Duration
	// Now is the clock of claims, signatures and backoff. Default time.Now.
	Now func() time.Time
	// Logger receives delivery logs. Default slog.Default().
	Logger *slog.Logger
	// Observe, when set, is told each attempt's result and latency.
	Observe func(result string, latency time.Duration)
}

// Defaults.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultBatch       = 16
	DefaultPoll        = time.Second
	DefaultLease       = time.Minute
	DefaultBaseBackoff = 5 * time.Second
	DefaultMaxBackoff  = time.Hour
	// MaxResponseBody is how much of a receiver's answer is read.
	MaxResponseBody = 64 << 10
	// maxErrorBody is how much of it is kept with a failed attempt.
	maxErrorBody = 200
)

// Worker delivers queued webhook events. Several workers, in one process
// or several, may share a queue.
type Worker struct {
	q      Queue
	cfg    Config
	log    *slog.Logger
	client *http.Client
	wake   chan struct{}
	jitter func() float64
}

// NewWorker returns a worker delivering q's deliveries.
func NewWorker(q Queue, cfg Config) *Worker {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Timeout, DefaultTimeout)
	def(&cfg.Poll, DefaultPoll)
	def(&cfg.Lease, DefaultLease)
	def(&cfg.BaseBackoff, DefaultBaseBackoff)
	def(&cfg.MaxBackoff, DefaultMaxBackoff)
	cfg.Lease = max(cfg.Lease, 3*cfg.Timeout)
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Worker{
		q:      q,
		cfg:    cfg,
		log:    cfg.Logger,
		client: newClient(cfg.Timeout, cfg.AllowPrivate),
		wake:   make(chan struct{}, 1),
		jitter: func() float64 { return 0.5 + rand.Float64() },
	}
}

// newClient is the HTTP client of deliveries: no proxy (a proxy would dial
// for us, past the address check), every connection checked by
// netguard.Control after resolution, no redirect followed, bounded
// headers and time.
func newClient(timeout time.Duration, allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: timeout, Control: netguard.Control(allowPrivate)}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            d.DialContext,
			ForceAttemptHTTP2:      true,
			TLSHandshakeTimeout:    timeout,
			ResponseHeaderTimeout:  timeout,
			MaxResponseHeaderBytes: MaxResponseBody,
			MaxIdleConns:           16,
			IdleConnTimeout:        90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       timeout,
	}
}

// Notify wakes Run for a pass now; it never blocks.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx is done, then returns nil. Attempts under way
// when ctx ends are abandoned unrecorded: their lease runs out and another
// pass sends them again, under the same webhook-id.
func (w *Worker) Run(ctx context.Context) error {
	poll.Run(ctx, w.wake, w.cfg.Poll, func(ctx context.Context) (bool, error) {
		n, err := w.RunOnce(ctx)
		return n == w.cfg.Batch, err
	}, func(err error) { w.log.Warn("webhook: pass failed", "error", err) })
	return nil
}

// RunOnce claims up to Batch due deliveries, sends them at once and
// records each outcome. It reports how many it claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	ds, err := w.q.ClaimWebhookDeliveries(ctx, w.cfg.Now(), w.cfg.Batch, w.cfg.Lease)
	if err != nil {
		return 0, fmt.Errorf("webhook: claim deliveries: %w", err)
	}
	if len(ds) == 0 {
		return 0, nil
	}
	eps := map[string]*endpoint{}
	for _, d := range ds {
		if _, ok := eps[d.EndpointID]; !ok {
			eps[d.EndpointID] = w.endpoint(ctx, d.EndpointID)
		}
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, d := range ds {
		wg.Go(func() {
			if err := w.deliver(ctx, eps[d.EndpointID], d); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return len(ds), errors.Join(errs...)
}

// endpoint is a receiver ready to sign for.
type endpoint struct {
	e   *auth.WebhookEndpoint
	wh  *standardwebhooks.Webhook
	err error // why it cannot be sent to
}

func (w *Worker) endpoint(ctx context.Context, id string) *endpoint {
	e, err := w.q.WebhookByID(ctx, id)
	if err != nil {
		return &endpoint{err: fmt.Errorf("read endpoint: %w", err)}
	}
	secret, err := auth.OpenWebhookSecret(w.cfg.Secret, e)
	if err != nil {
		return &endpoint{e: e, err: errors.New("the signing secret does not open with LATCH_SECRET")}
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return &endpoint{e: e, err: err}
	}
	return &endpoint{e: e, wh: wh}
}

// deliver makes one attempt and records it; the error is a store error.
func (w *Worker) deliver(ctx context.Context, ep *endpoint, d *auth.WebhookDelivery) error {
	if ep.err != nil && ep.e == nil {
		// Deleted meanwhile (its deliveries went with it) or the store
		// failed: the lease ends and a later pass knows better.
		return fmt.Errorf("webhook: delivery %d: %w", d.ID, ep.err)
	}
	at := w.cfg.Now()
	status, latency, sendErr := 0, time.Duration(0), ep.err
	if sendErr == nil {
		status, latency, sendErr = w.send(ctx, ep, d, at)
	}
	if ctx.Err() != nil {
		// Stopping: the attempt is abandoned, not failed; the lease
		// brings it back.
		return nil
	}
	a := auth.WebhookAttempt{At: at, Status: status, Latency: latency}
	result := ResultDelivered
	if sendErr == nil {
		a.State = auth.DeliveryDelivered
		w.log.Info("webhook: delivered", "webhook_id", d.EndpointID, "delivery_id", d.ID, "message_id", d.MessageID,
			"type", d.Type, "status", status, "attempt", d.Attempts, "latency", latency)
	} else {
		a.Error = sendErr.Error()
		now := w.cfg.Now()
		next := now.Add(w.backoff(d.Attempts))
		if !now.Before(d.RetryUntil) {
			a.State, result = auth.DeliveryFailed, ResultFailed
			w.log.Error("webhook: delivery failed, giving up", "webhook_id", d.EndpointID, "delivery_id", d.ID,
				"message_id", d.MessageID, "type", d.Type, "attempts", d.Attempts, "error", sendErr)
		} else {
			a.State, a.Next, result = auth.DeliveryPending, minTime(next, d.RetryUntil), ResultRetry
			w.log.Warn("webhook: delivery failed", "webhook_id", d.EndpointID, "delivery_id", d.ID,
				"message_id", d.MessageID, "type", d.Type, "attempt", d.Attempts, "next_attempt", a.Next, "error", sendErr)
		}
	}
	if w.cfg.Observe != nil {
		w.cfg.Observe(result, latency)
	}
	ok, err := w.q.RecordWebhookAttempt(context.WithoutCancel(ctx), d.ID, d.Attempts, a)
	if err != nil {
		return fmt.Errorf("webhook: record attempt of delivery %d: %w", d.ID, err)
	}
	if !ok {
		w.log.Warn("webhook: the lease ran out before the attempt was recorded; it is sent again",
			"delivery_id", d.ID, "message_id", d.MessageID)
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// errStatus is a receiver's answer that is not a 2xx.
type errStatus struct {
	status int
	body   string
}

func (e *errStatus) Error() string {
	msg := "HTTP " + strconv.Itoa(e.status)
	if e.status >= 300 && e.status < 400 {
		msg += " (redirects are not followed)"
	}
	if e.body != "" {
		msg += ": " + e.body
	}
	return msg
}

// send POSTs d to ep, signed at at.
func (w *Worker) send(ctx context.Context, ep *endpoint, d *auth.WebhookDelivery, at time.Time) (int, time.Duration, error) {
	sig, err := ep.wh.Sign(d.MessageID, at, d.Payload)
	if err != nil {
		return 0, 0, err
	}
	rctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, ep.e.URL, strings.NewReader(string(d.Payload)))
	if err != nil {
		return 0, 0, fmt.Errorf("bad URL: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "latch-webhooks")
	req.Header.Set(standardwebhooks.HeaderWebhookID, d.MessageID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(at.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	start := time.Now()
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, time.Since(start), sendError(err, w.cfg.Timeout)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody))
	latency := time.Since(start)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, latency, nil
	}
	return resp.StatusCode, latency, &errStatus{status: resp.StatusCode, body: clipBody(body)}
}

// sendError says why a request got no answer, without the URL (the
// admin knows it; it may carry a token in its query).
func sendError(err error, timeout time.Duration) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			err = inner
		}
	}
	switch {
	case errors.Is(err, netguard.ErrBlocked):
		return errors.New("refused: the receiver's address is not public (LATCH_WEBHOOK_ALLOW_PRIVATE allows it)")
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Errorf("no answer within %s", timeout)
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// clipBody keeps the start of a receiver's answer, as valid UTF-8 on one
// line.
func clipBody(b []byte) string {
	if len(b) > maxErrorBody {
		b = b[:maxErrorBody]
	}
	return strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "")), " ")
}

// backoff is the wait after the attempts-th failed attempt.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.cfg.MaxBackoff
	if attempts < 1 {
		attempts = 1
	}
	if attempts-1 < 30 {
		d = min(d, w.cfg.BaseBackoff<<(attempts-1))
	}
	return time.Duration(float64(d) * w.jitter())
}
