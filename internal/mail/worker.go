package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/poll"
)

// WorkerConfig configures a Worker. Zero values take the documented
// defaults.
type WorkerConfig struct {
	// Batch is how many messages one pass claims. Default 20.
	Batch int
	// Poll is how long Run waits between passes when the outbox had
	// nothing more to do and nobody called Notify. Default 1s.
	Poll time.Duration
	// Lease is how long a claimed message stays invisible to other
	// workers. Default 2m.
	Lease time.Duration
	// MaxBackoff caps the wait before retrying a failed message; the wait
	// is min(MaxBackoff, 5s * 2^(attempts-1)) with +-20% jitter.
	// Default 1h.
	MaxBackoff time.Duration
	// SendTimeout bounds each delivery. Default 30s; never more than
	// Lease/2, so that a pass stops sending before its lease runs out.
	SendTimeout time.Duration
	// MaxAttempts is how many failed attempts a message gets before the
	// worker gives up on it and drops it (logged at ERROR). Default 30,
	// about 20 hours with the default backoff; negative: never give up.
	// A failure wrapping ErrPermanent gives up at once whatever this says.
	MaxAttempts int
	// Now is the clock used for claims and backoff. Default time.Now.
	Now func() time.Time
	// Logger receives delivery logs. Default slog.Default().
	Logger *slog.Logger
}

// Default worker settings.
const (
	DefaultBatch       = 20
	DefaultPoll        = time.Second
	DefaultLease       = 2 * time.Minute
	DefaultMaxBackoff  = time.Hour
	DefaultSendTimeout = 30 * time.Second
	DefaultMaxAttempts = 30
	// BaseBackoff is the wait after a first failed attempt.
	BaseBackoff = 5 * time.Second
)

// maxErrText bounds the error text stored with a failed message.
const maxErrText = 500

// Worker delivers the messages of an outbox with a Sender. Several workers
// (in one process or several) may share an outbox: each claims its
// messages with a lease.
type Worker struct {
	o    auth.Outbox
	s    Sender
	cfg  WorkerConfig
	log  *slog.Logger
	wake chan struct{}
	// jitter returns a factor in [0.8, 1.2).
	jitter func() float64
}

// NewWorker returns a worker delivering o's messages with s.
func NewWorker(o auth.Outbox, s Sender, cfg WorkerConfig) *Worker {
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = DefaultSendTimeout
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	cfg.SendTimeout = min(cfg.SendTimeout, cfg.Lease/2)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Worker{
		o:      o,
		s:      s,
		cfg:    cfg,
		log:    cfg.Logger,
		wake:   make(chan struct{}, 1),
		jitter: func() float64 { return 0.8 + 0.4*rand.Float64() },
	}
}

// Notify wakes Run for a pass now; it never blocks. The service calls it
// after committing a transaction that enqueued mail.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers messages until ctx is done, then returns nil. A pass in
// progress when ctx ends is finished first (each send bounded by
// SendTimeout). Store errors are logged and retried at the next poll.
func (w *Worker) Run(ctx context.Context) error {
	poll.Run(ctx, w.wake, w.cfg.Poll, func(ctx context.Context) (bool, error) {
		claimed, _, err := w.pass(ctx)
		return claimed == w.cfg.Batch, err
	}, func(err error) { w.log.Warn("mail: outbox pass failed", "error", err) })
	return nil
}

// RunOnce claims up to Batch due messages and tries to deliver each,
// recording successes and failures (with their backoff) in the outbox. It
// reports how many were sent. Once messages are claimed they are all
// attempted even if ctx ends meanwhile, unless the lease is about to run
// out: then the rest are left for after the lease, so that no other worker
// can send them at the same time.
func (w *Worker) RunOnce(ctx context.Context) (sent int, err error) {
	_, sent, err = w.pass(ctx)
	return sent, err
}

func (w *Worker) pass(ctx context.Context) (claimed, sent int, err error) {
	claimedAt := w.cfg.Now()
	msgs, err := w.o.ClaimMail(ctx, claimedAt, w.cfg.Batch, w.cfg.Lease)
	if err != nil {
		return 0, 0, fmt.Errorf("mail: claim outbox messages: %w", err)
	}
	if len(msgs) == 0 {
		return 0, 0, nil
	}
	// The batch in hand is finished even when ctx ends.
	bg := context.WithoutCancel(ctx)
	lastStart := claimedAt.Add(w.cfg.Lease - w.cfg.SendTimeout)
	var errs []error
	for i, m := range msgs {
		if w.cfg.Now().After(lastStart) {
			w.log.Info("mail: lease running out, leaving messages for a later pass",
				"left", len(msgs)-i)
			break
		}
		ok, err := w.deliver(bg, m)
		if ok {
			sent++
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if sent > 0 {
		if depth, err := w.o.OutboxDepth(bg); err != nil {
			w.log.Warn("mail: outbox depth", "error", err)
		} else {
			w.log.Info("mail: outbox pass", "sent", sent, "depth", depth)
		}
	}
	return len(msgs), sent, errors.Join(errs...)
}

// deliver sends one message and records the outcome. It reports whether
// the message was sent; the error is a store error.
func (w *Worker) deliver(ctx context.Context, m *auth.OutboxMessage) (bool, error) {
	sctx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
	sendErr := w.s.Send(sctx, m.Message)
	cancel()
	if sendErr == nil {
		w.log.Info("mail: sent", "kind", m.Kind, "outbox_id", m.ID, "to", m.Message.To)
		if err := w.o.MailSent(ctx, m.ID); err != nil {
			w.log.Error("mail: sent but not marked as sent; it may be sent again",
				"kind", m.Kind, "outbox_id", m.ID, "to", m.Message.To, "error", err)
			return true, fmt.Errorf("mail: mark message %d sent: %w", m.ID, err)
		}
		return true, nil
	}
	attempts := m.Attempts + 1
	permanent := errors.Is(sendErr, ErrPermanent)
	if permanent || (w.cfg.MaxAttempts > 0 && attempts >= w.cfg.MaxAttempts) {
		reason := "too many attempts"
		if permanent {
			reason = "permanent failure"
		}
		w.log.Error("mail: delivery failed, giving up: message dropped",
			"kind", m.Kind, "outbox_id", m.ID, "to", m.Message.To,
			"attempts", attempts, "reason", reason, "error", sendErr)
		if err := w.o.MailAbandoned(ctx, m.ID); err != nil {
			return false, fmt.Errorf("mail: drop message %d: %w", m.ID, err)
		}
		return false, nil
	}
	next := w.cfg.Now().Add(w.backoff(attempts))
	w.log.Warn("mail: delivery failed",
		"kind", m.Kind, "outbox_id", m.ID, "to", m.Message.To,
		"attempts", attempts, "next_attempt", next, "error", sendErr)
	errText := sendErr.Error()
	if len(errText) > maxErrText {
		errText = strings.ToValidUTF8(errText[:maxErrText], "")
	}
	if err := w.o.MailFailed(ctx, m.ID, next, errText); err != nil {
		return false, fmt.Errorf("mail: record failure of message %d: %w", m.ID, err)
	}
	return false, nil
}

// backoff is the wait after the attempts-th failed attempt:
// min(MaxBackoff, 5s * 2^(attempts-1)), give or take 20%.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.cfg.MaxBackoff
	if attempts < 1 {
		attempts = 1
	}
	if attempts-1 < 30 { // beyond, the shift overflows and the cap applies anyway
		d = min(d, BaseBackoff<<(attempts-1))
	}
	return time.Duration(float64(d) * w.jitter())
}
