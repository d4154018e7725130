// Package limit implements latch's rate limits in process: a GCRA limiter
// for per-IP and per-email rates, and login throttling with growing delays
// per account. It is the default when no shared (Redis) limiter is
// configured, and the shared limiter's fallback while Redis is
// unreachable; limits then hold per instance.
package limit

import (
	"context"
	"sync"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// Login throttling: the first FreeFailures consecutive failures of an
// account cost nothing; each later one doubles the wait before the next
// attempt (1 s, 2 s, 4 s, ... up to MaxDelay); after MaxFailures the account
// waits LockDelay between attempts, so that no more than MaxFailures
// failures happen in a row within any reasonable period (NIST SP 800-63B).
const (
	FreeFailures = 5
	MaxFailures  = 100
	MaxDelay     = 15 * time.Minute
	LockDelay    = 24 * time.Hour
)

// Memory is an in-process auth.Limiter. The zero value is not usable; use New.
type Memory struct {
	now func() time.Time

	mu      sync.Mutex
	tat     map[string]time.Time // GCRA theoretical arrival time per key
	logins  map[string]*loginState
	lastGC  time.Time
	gcEvery time.Duration
}

type loginState struct {
	failures    int
	nextAllowed time.Time
	touched     time.Time
}

var _ auth.Limiter = (*Memory)(nil)

// New returns an in-process limiter using the wall clock.
func New() *Memory { return NewWithClock(time.Now) }

// NewWithClock returns an in-process limiter reading time from now.
func NewWithClock(now func() time.Time) *Memory {
	return &Memory{
		now:     now,
		tat:     make(map[string]time.Time),
		logins:  make(map[string]*loginState),
		gcEvery: time.Minute,
	}
}

// Allow implements GCRA: rate.N events per rate.Per with a burst of rate.N.
func (m *Memory) Allow(_ context.Context, key string, rate auth.Rate) (bool, time.Duration, error) {
	if rate.N <= 0 || rate.Per <= 0 {
		return true, 0, nil
	}
	now := m.now()
	interval := rate.Per / time.Duration(rate.N)
	burst := rate.Per - interval // tolerance: N events at once

	m.mu.Lock()
	defer m.mu.Unlock()
	m.gc(now)
	tat, ok := m.tat[key]
	if !ok || tat.Before(now) {
		tat = now
	}
	allowAt := tat.Add(-burst)
	if now.Before(allowAt) {
		return false, allowAt.Sub(now), nil
	}
	m.tat[key] = tat.Add(interval)
	return true, 0, nil
}

// Peek reports whether Allow would allow one more event, counting nothing.
func (m *Memory) Peek(_ context.Context, key string, rate auth.Rate) (bool, time.Duration, error) {
	if rate.N <= 0 || rate.Per <= 0 {
		return true, 0, nil
	}
	now := m.now()
	burst := rate.Per - rate.Per/time.Duration(rate.N)

	m.mu.Lock()
	defer m.mu.Unlock()
	tat, ok := m.tat[key]
	if !ok || tat.Before(now) {
		return true, 0, nil
	}
	if allowAt := tat.Add(-burst); now.Before(allowAt) {
		return false, allowAt.Sub(now), nil
	}
	return true, 0, nil
}

// LoginAttempt counts an attempt as a failure before the password is
// checked, so that parallel attempts cannot slip past the throttle;
// LoginSucceeded clears it.
func (m *Memory) LoginAttempt(_ context.Context, key string) (bool, time.Duration, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gc(now)
	st := m.logins[key]
	if st == nil {
		st = &loginState{}
		m.logins[key] = st
	}
	if now.Before(st.nextAllowed) {
		return false, st.nextAllowed.Sub(now), nil
	}
	st.failures++
	st.touched = now
	st.nextAllowed = now.Add(Delay(st.failures))
	return true, 0, nil
}

// LoginSucceeded clears the account's failures.
func (m *Memory) LoginSucceeded(_ context.Context, key string) error {
	m.mu.Lock()
	delete(m.logins, key)
	m.mu.Unlock()
	return nil
}

// Delay is the wait imposed after the n-th consecutive failure.
func Delay(n int) time.Duration {
	switch {
	case n < FreeFailures:
		return 0
	case n >= MaxFailures:
		return LockDelay
	}
	shift := n - FreeFailures
	if shift > 20 {
		return MaxDelay
	}
	d := time.Second << shift
	if d > MaxDelay {
		d = MaxDelay
	}
	return d
}

// gc drops state that can no longer matter; m.mu is held.
func (m *Memory) gc(now time.Time) {
	if now.Sub(m.lastGC) < m.gcEvery {
		return
	}
	m.lastGC = now
	for k, tat := range m.tat {
		if tat.Before(now) {
			delete(m.tat, k)
		}
	}
	for k, st := range m.logins {
		// Failures are forgotten a day after the last one once no wait is
		// pending.
		if now.After(st.nextAllowed) && now.Sub(st.touched) > LockDelay {
			delete(m.logins, k)
		}
	}
}
