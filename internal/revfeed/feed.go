// Package revfeed serves the revocation feed (GET /v1/revocations): the
// sessions ended and user cut-offs set within the last access token
// lifetime, so that services verifying tokens locally (package verify)
// refuse a revoked token within a second. Polls with a cursor wait
// (long-poll) until something changes.
//
// Which events revoke and what the store records are the domain's
// (auth.Revokes, auth.UserCutoff); this package only reads and serves them.
package revfeed

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// Store is what the feed reads: the revocation records of package auth.
type Store interface {
	RevokedSessionsSince(ctx context.Context, since time.Time) ([]*auth.Session, error)
	UserCutoffsSince(ctx context.Context, since time.Time) ([]auth.UserCutoff, error)
}

// Session is an entry of the feed: every access token of the session is
// void; none of them lives past Until.
type Session struct {
	SessionID string
	RevokedAt time.Time
	Until     time.Time
}

// User is an entry of the feed: access tokens of the user issued (iat)
// before NotBefore are void; none of them lives past Until.
type User struct {
	UserID    string
	NotBefore time.Time // whole seconds, like iat
	At        time.Time // when the cut-off was set or the account deleted
	Until     time.Time
}

// Answer is one answer of the feed.
type Answer struct {
	Sessions []Session
	Users    []User
	// Cursor is what the follower passes to the next Poll.
	Cursor string
	// PollAfter is how long the follower should wait before the next Poll
	// (zero: at once, the next Poll waits on the server).
	PollAfter time.Duration
}

// Config configures a Feed. Zero values take the defaults noted beside
// each field.
type Config struct {
	// Store is read for revoked sessions and user cut-offs; required.
	Store Store
	// AccessTTL is the access token lifetime (default 15m): entries stay in
	// the feed that long, since no token they void lives longer.
	AccessTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// PollInterval is how often the store is re-read while followers wait
	// (default 500ms). Revocations committed by this process wake them at
	// once (Changed); this catches those of other instances sharing the
	// database.
	PollInterval time.Duration
	// Overlap is how far before a cursor the next answer reaches back
	// (default 30s), so that a revocation whose transaction committed after
	// a later one is still delivered. Followers merge entries idempotently.
	Overlap time.Duration
	// MaxWait bounds the long-poll (default 25s).
	MaxWait time.Duration
	// MaxWaiters bounds the long-polls held at once (default 1024); past it
	// Poll answers at once with PollAfter set to PollInterval.
	MaxWaiters int
	// Logger receives store errors of the background reader (default
	// discard).
	Logger *slog.Logger
}

// Feed serves the revocation feed.
//
// Changed wakes waiting polls; call it after a revocation was committed,
// in this process (OnEvent does it for security events) or in another
// instance (a fan-out). Without it, waiting polls still see changes within
// PollInterval.
type Feed struct {
	cfg Config
	log *slog.Logger

	kick chan struct{} // buffered 1: wakes the reader
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	waiters int
	seq     uint64        // states published so far
	state   *snapshot     // last state read by the background reader
	changed chan struct{} // closed and replaced when state changes
	closed  bool
	once    sync.Once
}

// New returns a feed reading cfg.Store. Close stops it.
func New(cfg Config) *Feed {
	if cfg.AccessTTL <= 0 {
		// The feed must cover the lifetime auth gives access tokens.
		cfg.AccessTTL = auth.Config{}.WithDefaults().AccessTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 500 * time.Millisecond
	}
	if cfg.Overlap <= 0 {
		cfg.Overlap = 30 * time.Second
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 25 * time.Second
	}
	if cfg.MaxWaiters <= 0 {
		cfg.MaxWaiters = 1024
	}
	f := &Feed{
		cfg:     cfg,
		log:     cfg.Logger,
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	go f.run()
	return f
}

// Changed tells the feed that a revocation was committed: waiting polls
// re-read the store at once. It never blocks.
func (f *Feed) Changed() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// OnEvent is an auth.Deps.OnEvent hook: it calls Changed for events that
// may have revoked tokens.
func (f *Feed) OnEvent(_ context.Context, e auth.Event) {
	if auth.Revokes(e.Type) {
		f.Changed()
	}
}

// Close stops the background reader and answers every waiting poll at once.
// Later polls answer at once too.
func (f *Feed) Close() {
	f.once.Do(func() {
		close(f.stop)
		<-f.done
		f.mu.Lock()
		f.closed = true
		close(f.changed)
		f.mu.Unlock()
	})
}

// run re-reads the store while polls wait: at once when kicked, else every
// PollInterval. Nobody waiting, nothing read: an idle feed costs no query.
func (f *Feed) run() {
	defer close(f.done)
	t := time.NewTicker(f.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-f.kick:
		case <-t.C:
		}
		f.mu.Lock()
		n := f.waiters
		f.mu.Unlock()
		if n == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := f.read(ctx)
		cancel()
		if err != nil {
			f.log.Warn("revocation feed: reading the store", "err", err)
			continue
		}
		f.publish(st)
	}
}

// publish makes st the current state. Every state gets the next sequence
// number, so that a waiting poll can tell a state read after it began from
// an older one; waiters are woken only when the content differs.
func (f *Feed) publish(st *snapshot) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.seq++
	st.seq = f.seq
	if f.state != nil && f.state.sum == st.sum {
		f.state = st
		return
	}
	f.state = st
	close(f.changed)
	f.changed = make(chan struct{})
}
