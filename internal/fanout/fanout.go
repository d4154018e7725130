// Package fanout tells every latch instance about revocations made by any
// of them, so that caches and long-polls (the revocation feed of package
// revfeed) react at once instead of at their next poll.
//
// A Hub is both a Publisher and a Subscriber. Local delivers within the
// process (one instance); Redis relays through Redis pub/sub to every
// instance sharing the Redis. Delivery is best effort: a notice published
// while Redis is down is lost, so subscribers must also poll the database
// (the revocation feed does, every PollInterval). Notices carry no secret.
package fanout

import (
	"context"
	"sync"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// Notice says that something was revoked.
type Notice struct {
	// Type is the security event that revoked (auth.EventLogout, ...).
	Type      string    `json:"type"`
	UserID    string    `json:"user_id,omitempty"`
	SessionID string    `json:"session_id,omitempty"`
	At        time.Time `json:"at"`
	// Origin is the id of the instance that published it.
	Origin string `json:"origin,omitempty"`
}

// Publisher announces revocations.
type Publisher interface {
	// Publish announces n to every instance, this one included. It does
	// not wait for remote delivery and never blocks for long.
	Publish(ctx context.Context, n Notice) error
}

// Subscriber delivers announced revocations.
type Subscriber interface {
	// Subscribe calls fn with every notice published from now on, by any
	// instance, until cancel is called. fn must not block for long.
	Subscribe(fn func(Notice)) (cancel func())
}

// Hub is a Publisher and a Subscriber.
type Hub interface {
	Publisher
	Subscriber
}

// OnEvent returns an auth.Deps.OnEvent hook that publishes to p every
// event that may have revoked tokens (auth.Revokes).
func OnEvent(p Publisher) func(context.Context, auth.Event) {
	return func(ctx context.Context, e auth.Event) {
		if !auth.Revokes(e.Type) {
			return
		}
		_ = p.Publish(ctx, Notice{Type: e.Type, UserID: e.UserID, SessionID: e.SessionID, At: e.At})
	}
}

// subscribers is a set of callbacks.
type subscribers struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(Notice)
}

func (s *subscribers) add(fn func(Notice)) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fns == nil {
		s.fns = make(map[int]func(Notice))
	}
	id := s.next
	s.next++
	s.fns[id] = fn
	return func() {
		s.mu.Lock()
		delete(s.fns, id)
		s.mu.Unlock()
	}
}

func (s *subscribers) deliver(n Notice) {
	s.mu.Lock()
	fns := make([]func(Notice), 0, len(s.fns))
	for _, fn := range s.fns {
		fns = append(fns, fn)
	}
	s.mu.Unlock()
	for _, fn := range fns {
		fn(n)
	}
}

// Local is a Hub within one process. The zero value is ready to use.
type Local struct {
	subs subscribers
}

var _ Hub = (*Local)(nil)

// Publish delivers n to the process's subscribers.
func (l *Local) Publish(_ context.Context, n Notice) error {
	l.subs.deliver(n)
	return nil
}

// Subscribe calls fn with every notice published from now on.
func (l *Local) Subscribe(fn func(Notice)) func() { return l.subs.add(fn) }
