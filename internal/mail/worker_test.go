package mail_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/mail"
	"github.com/latchauth/latch/internal/mail/smtptest"
)

// memOutbox is an in-memory auth.Outbox with the semantics the SQL store
// has: claims lease messages, failures bump attempts and release the lease.
type memOutbox struct {
	mu      sync.Mutex
	nextID  int64
	rows    map[int64]*memRow
	sent    []int64 // ids passed to MailSent, in order
	dropped []int64 // ids passed to MailAbandoned, in order
}

type memRow struct {
	m           auth.OutboxMessage
	leasedUntil time.Time
}

func newMemOutbox() *memOutbox { return &memOutbox{rows: map[int64]*memRow{}} }

func (o *memOutbox) enqueue(now time.Time, kind string, m auth.Message) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.nextID++
	o.rows[o.nextID] = &memRow{m: auth.OutboxMessage{
		ID: o.nextID, Kind: kind, Message: m, CreatedAt: now, NextAttemptAt: now,
	}}
	return o.nextID
}

func (o *memOutbox) ClaimMail(ctx context.Context, now time.Time, n int, lease time.Duration) ([]*auth.OutboxMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	ids := make([]int64, 0, len(o.rows))
	for id := range o.rows {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []*auth.OutboxMessage
	for _, id := range ids {
		r := o.rows[id]
		if len(out) == n {
			break
		}
		if r.m.NextAttemptAt.After(now) || r.leasedUntil.After(now) {
			continue
		}
		r.leasedUntil = now.Add(lease)
		m := r.m
		out = append(out, &m)
	}
	return out, nil
}

func (o *memOutbox) MailSent(ctx context.Context, id int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.rows[id]; !ok {
		return auth.ErrNotFound
	}
	delete(o.rows, id)
	o.sent = append(o.sent, id)
	return nil
}

func (o *memOutbox) MailFailed(ctx context.Context, id int64, next time.Time, errText string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, ok := o.rows[id]
	if !ok {
		return auth.ErrNotFound
	}
	r.m.Attempts++
	r.m.NextAttemptAt = next
	r.m.LastError = errText
	r.leasedUntil = time.Time{}
	return nil
}

func (o *memOutbox) MailAbandoned(ctx context.Context, id int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.rows[id]; !ok {
		return auth.ErrNotFound
	}
	delete(o.rows, id)
	o.dropped = append(o.dropped, id)
	return nil
}

func (o *memOutbox) OutboxDepth(ctx context.Context) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.rows), nil
}

func (o *memOutbox) get(id int64) (auth.OutboxMessage, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, ok := o.rows[id]
	if !ok {
		return auth.OutboxMessage{}, false
	}
	return r.m, true
}

func (o *memOutbox) sentIDs() []int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.sent)
}

func newClock() *authtest.Clock {
	return authtest.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
}

// logBuf is a concurrency-safe buffer for a JSON log handler.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// records decodes every log record written so far.
func (l *logBuf) records(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(l.b.Bytes()))
	for dec.More() {
		var r map[string]any
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("decode log: %v", err)
		}
		out = append(out, r)
	}
	return out
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger(buf *logBuf) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func message(i int) auth.Message {
	return auth.Message{
		To:      fmt.Sprintf("user%d@example.org", i),
		Subject: fmt.Sprintf("Message %d", i),
		Text:    fmt.Sprintf("Open https://auth.example.com/reset?token=SECRET-TOKEN-%d\n", i),
	}
}

// recipients lists the envelope recipients of what srv received, sorted.
func recipients(srv *smtptest.Server) []string {
	var out []string
	for _, m := range srv.Messages() {
		out = append(out, m.To...)
	}
	sort.Strings(out)
	return out
}

func TestWorkerSMTPOutage(t *testing.T) {
	srv := smtptest.Start(t)
	sender := newSender(t, srv.URL())
	clk := newClock()
	ob := newMemOutbox()
	var logs logBuf
	w := mail.NewWorker(ob, sender, mail.WorkerConfig{Now: clk.Now, Logger: newLogger(&logs)})
	ctx := context.Background()

	var ids []int64
	for i := range 3 {
		ids = append(ids, ob.enqueue(clk.Now(), auth.MailReset, message(i)))
	}

	srv.Stop()
	// Two failed passes: backoff about 5s, then about 10s.
	for attempt, base := range []time.Duration{5 * time.Second, 10 * time.Second} {
		start := clk.Now()
		sent, err := w.RunOnce(ctx)
		if sent != 0 || err != nil {
			t.Fatalf("pass %d with the server down: sent %d, err %v; want 0, nil", attempt+1, sent, err)
		}
		for _, id := range ids {
			m, ok := ob.get(id)
			if !ok {
				t.Fatalf("message %d left the outbox while the server was down", id)
			}
			if m.Attempts != attempt+1 {
				t.Errorf("message %d: attempts = %d, want %d", id, m.Attempts, attempt+1)
			}
			lo, hi := start.Add(base*8/10), start.Add(base*12/10)
			if m.NextAttemptAt.Before(lo) || m.NextAttemptAt.After(hi) {
				t.Errorf("message %d: next attempt %v after the failure, want %v to %v", id,
					m.NextAttemptAt.Sub(start), base*8/10, base*12/10)
			}
			if m.LastError == "" {
				t.Errorf("message %d: no error recorded", id)
			}
		}
		// Not due yet: a pass now does nothing.
		if sent, err := w.RunOnce(ctx); sent != 0 || err != nil {
			t.Fatalf("pass before the backoff ended: sent %d, err %v; want 0, nil", sent, err)
		}
		clk.Advance(base * 12 / 10)
	}

	var warns int
	for _, r := range logs.records(t) {
		if r["level"] != "WARN" {
			continue
		}
		warns++
		for _, k := range []string{"kind", "outbox_id", "to", "attempts", "next_attempt", "error"} {
			if _, ok := r[k]; !ok {
				t.Errorf("WARN record %v lacks %q", r, k)
			}
		}
	}
	if warns != 6 {
		t.Errorf("got %d WARN records, want 6 (3 messages x 2 attempts)\n%s", warns, logs.String())
	}

	srv.Restart(t)
	sent, err := w.RunOnce(ctx)
	if sent != 3 || err != nil {
		t.Fatalf("pass after the restart: sent %d, err %v; want 3, nil", sent, err)
	}
	if n, _ := ob.OutboxDepth(ctx); n != 0 {
		t.Errorf("outbox depth after delivery = %d, want 0", n)
	}
	// Nothing more to send, and nothing is sent twice.
	if sent, err := w.RunOnce(ctx); sent != 0 || err != nil {
		t.Errorf("pass after delivery: sent %d, err %v; want 0, nil", sent, err)
	}
	clk.Advance(time.Hour)
	if sent, err := w.RunOnce(ctx); sent != 0 || err != nil {
		t.Errorf("pass an hour later: sent %d, err %v; want 0, nil", sent, err)
	}
	want := []string{"user0@example.org", "user1@example.org", "user2@example.org"}
	if got := recipients(srv); !slices.Equal(got, want) {
		t.Errorf("server received mail for %q, want %q", got, want)
	}

	// Logs: INFO per message with kind, id and recipient, the queue depth,
	// and never a token or a body.
	var infos, depth int
	for _, r := range logs.records(t) {
		if r["level"] == "INFO" && r["outbox_id"] != nil {
			infos++
			if r["kind"] != auth.MailReset || !strings.HasPrefix(fmt.Sprint(r["to"]), "user") {
				t.Errorf("INFO record %v: want kind %q and the recipient", r, auth.MailReset)
			}
		}
		if r["level"] == "INFO" && r["depth"] != nil {
			depth++
		}
	}
	if infos != 3 || depth != 1 {
		t.Errorf("got %d per-message INFO records and %d depth records, want 3 and 1\n%s", infos, depth, logs.String())
	}
	if strings.Contains(logs.String(), "SECRET-TOKEN") {
		t.Errorf("the log holds a token:\n%s", logs.String())
	}
}

func TestWorkerBackoffCap(t *testing.T) {
	srv := smtptest.Start(t)
	sender := newSender(t, srv.URL())
	srv.Stop()
	clk := newClock()
	ob := newMemOutbox()
	tests := []struct {
		attempts   int
		maxBackoff time.Duration
		want       time.Duration
	}{
		{attempts: 0, want: 5 * time.Second},
		{attempts: 3, want: 40 * time.Second},
		{attempts: 10, want: time.Hour},  // 5s*2^10 > 1h
		{attempts: 200, want: time.Hour}, // no overflow
		{attempts: 4, maxBackoff: time.Minute, want: time.Minute},
	}
	for _, tt := range tests {
		id := ob.enqueue(clk.Now(), auth.MailConfirm, message(tt.attempts))
		ob.mu.Lock()
		ob.rows[id].m.Attempts = tt.attempts
		ob.mu.Unlock()
		w := mail.NewWorker(ob, sender, mail.WorkerConfig{Now: clk.Now, MaxBackoff: tt.maxBackoff,
			MaxAttempts: -1, Logger: slog.New(slog.DiscardHandler)})
		if _, err := w.RunOnce(context.Background()); err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
		m, _ := ob.get(id)
		got := m.NextAttemptAt.Sub(clk.Now())
		if got < tt.want*8/10 || got > tt.want*12/10 {
			t.Errorf("after failure %d (max %v): backoff %v, want %v +-20%%", tt.attempts+1, tt.maxBackoff, got, tt.want)
		}
		if m.Attempts != tt.attempts+1 {
			t.Errorf("attempts = %d, want %d", m.Attempts, tt.attempts+1)
		}
	}
}

// advancingSender moves the clock forward by each send's duration, as a
// slow SMTP server would.
type advancingSender struct {
	mail.Sender
	clk  *authtest.Clock
	step time.Duration
}

func (s advancingSender) Send(ctx context.Context, m auth.Message) error {
	s.clk.Advance(s.step)
	return s.Sender.Send(ctx, m)
}

func TestWorkerStopsBeforeLeaseEnds(t *testing.T) {
	srv := smtptest.Start(t)
	clk := newClock()
	ob := newMemOutbox()
	for i := range 3 {
		ob.enqueue(clk.Now(), auth.MailConfirm, message(i))
	}
	slow := advancingSender{Sender: newSender(t, srv.URL()), clk: clk, step: 50 * time.Second}
	cfg := mail.WorkerConfig{Now: clk.Now, Lease: 2 * time.Minute, Logger: slog.New(slog.DiscardHandler)}
	w1 := mail.NewWorker(ob, slow, cfg)
	w2 := mail.NewWorker(ob, newSender(t, srv.URL()), cfg)

	// Sends take 50s of the 2m lease: after two, a third could outlive it.
	if sent, err := w1.RunOnce(context.Background()); sent != 2 || err != nil {
		t.Fatalf("first pass: sent %d, err %v; want 2, nil", sent, err)
	}
	// The third message is still leased: another worker leaves it alone.
	if sent, err := w2.RunOnce(context.Background()); sent != 0 || err != nil {
		t.Fatalf("second worker during the lease: sent %d, err %v; want 0, nil", sent, err)
	}
	clk.Advance(20 * time.Second) // lease over
	if sent, err := w2.RunOnce(context.Background()); sent != 1 || err != nil {
		t.Fatalf("second worker after the lease: sent %d, err %v; want 1, nil", sent, err)
	}
	want := []string{"user0@example.org", "user1@example.org", "user2@example.org"}
	if got := recipients(srv); !slices.Equal(got, want) {
		t.Errorf("server received mail for %q, want %q", got, want)
	}
}

func TestWorkersShareOutbox(t *testing.T) {
	srv := smtptest.Start(t)
	clk := newClock()
	ob := newMemOutbox()
	const n = 12
	var want []string
	for i := range n {
		ob.enqueue(clk.Now(), auth.MailConfirm, message(i))
		want = append(want, message(i).To)
	}
	sort.Strings(want)
	cfg := mail.WorkerConfig{Now: clk.Now, Batch: 2, Logger: slog.New(slog.DiscardHandler)}
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		w := mail.NewWorker(ob, newSender(t, srv.URL()), cfg)
		wg.Go(func() {
			for {
				sent, err := w.RunOnce(context.Background())
				if err != nil {
					errs <- err
					return
				}
				if sent == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("RunOnce: %v", err)
	}
	if got := recipients(srv); !slices.Equal(got, want) {
		t.Errorf("server received mail for %q, want each of %q once", got, want)
	}
	if ids := ob.sentIDs(); len(ids) != n {
		t.Errorf("MailSent called %d times, want %d", len(ids), n)
	}
}

func TestWorkerRunNotify(t *testing.T) {
	srv := smtptest.Start(t)
	clk := newClock()
	ob := newMemOutbox()
	// A poll interval far beyond the test: only Notify can wake the worker.
	w := mail.NewWorker(ob, newSender(t, srv.URL()), mail.WorkerConfig{
		Now: clk.Now, Batch: 2, Poll: time.Hour, Logger: slog.New(slog.DiscardHandler),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	// Run's first pass finds nothing; then it waits.
	for i := range 5 {
		ob.enqueue(clk.Now(), auth.MailConfirm, message(i))
	}
	w.Notify()
	w.Notify() // never blocks
	// 5 messages in batches of 2: full batches are followed at once by
	// another pass, without waiting for the poll interval.
	srv.WaitFor(t, 5, 10*time.Second)

	ob.enqueue(clk.Now(), auth.MailConfirm, message(5))
	w.Notify()
	srv.WaitFor(t, 6, 10*time.Second)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if got := len(srv.Messages()); got != 6 {
		t.Errorf("server got %d messages, want 6", got)
	}
}

// cancelingSender cancels the worker's context during its first send.
type cancelingSender struct {
	mail.Sender
	once   *sync.Once
	cancel context.CancelFunc
}

func (s cancelingSender) Send(ctx context.Context, m auth.Message) error {
	s.once.Do(s.cancel)
	return s.Sender.Send(ctx, m)
}

func TestWorkerRunFinishesBatchOnCancel(t *testing.T) {
	srv := smtptest.Start(t)
	clk := newClock()
	ob := newMemOutbox()
	for i := range 3 {
		ob.enqueue(clk.Now(), auth.MailConfirm, message(i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := cancelingSender{Sender: newSender(t, srv.URL()), once: new(sync.Once), cancel: cancel}
	w := mail.NewWorker(ob, s, mail.WorkerConfig{Now: clk.Now, Logger: slog.New(slog.DiscardHandler)})
	if err := w.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := len(srv.Messages()); got != 3 {
		t.Errorf("server got %d messages after shutdown mid-batch, want 3", got)
	}
	if n, _ := ob.OutboxDepth(context.Background()); n != 0 {
		t.Errorf("outbox depth = %d, want 0", n)
	}
}

// brokenOutbox is an outbox whose database is down.
type brokenOutbox struct{ *memOutbox }

func (brokenOutbox) ClaimMail(context.Context, time.Time, int, time.Duration) ([]*auth.OutboxMessage, error) {
	return nil, auth.ErrStoreDown
}

func TestWorkerStoreDown(t *testing.T) {
	srv := smtptest.Start(t)
	w := mail.NewWorker(brokenOutbox{newMemOutbox()}, newSender(t, srv.URL()), mail.WorkerConfig{Logger: slog.New(slog.DiscardHandler)})
	sent, err := w.RunOnce(context.Background())
	if sent != 0 || !errors.Is(err, auth.ErrStoreDown) {
		t.Errorf("RunOnce = %d, %v; want 0 and an error wrapping %v", sent, err, auth.ErrStoreDown)
	}
}
