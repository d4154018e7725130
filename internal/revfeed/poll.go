package revfeed

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/cursor"
)

// position is where a follower stands: the instant of the read that
// answered it and the fingerprint of what that answer held from
// at-Overlap on. The server keeps nothing per follower; the cursor
// carries all of it.
type position struct {
	at  time.Time
	sum uint64
}

// errBadCursor is the answer to a malformed cursor.
var errBadCursor = auth.Errorf(auth.CodeInvalidRequest, "since is not a cursor of this feed")

func (p position) String() string {
	return cursor.Encode(cursor.Revocations, cursor.Position{Micros: p.at.UnixMicro(), Num: p.sum})
}

// parsePosition reads a cursor made by position.String.
func parsePosition(s string) (position, error) {
	c, ok := cursor.Decode(cursor.Revocations, s)
	if !ok || c.Micros <= 0 || c.ID != "" {
		return position{}, errBadCursor
	}
	return position{at: time.UnixMicro(c.Micros).UTC(), sum: c.Num}, nil
}

// Poll answers the feed. Without a cursor (since == "") it answers every
// entry at once. With one it answers the entries from the cursor's instant
// minus Overlap on, waiting up to wait (at most MaxWait) until they differ
// from what the cursor's answer held. A malformed cursor is an
// invalid_request error; a store failure is returned as is.
func (f *Feed) Poll(ctx context.Context, since string, wait time.Duration) (*Answer, error) {
	if since == "" {
		// A new follower (or one starting over): everything, at once.
		st, err := f.readNow(ctx)
		if err != nil {
			return nil, err
		}
		return f.answer(st, time.Time{}, 0), nil
	}
	pos, err := parsePosition(since)
	if err != nil {
		return nil, err
	}
	wait = min(max(wait, 0), f.cfg.MaxWait)

	// Answer from Overlap before the follower's position, not from the
	// position itself: a revocation stamped before it may commit after it
	// (a slower transaction), and must still reach the follower.
	from := pos.at.Add(-f.cfg.Overlap)
	st, err := f.readNow(ctx)
	if err != nil {
		return nil, err
	}
	if wait == 0 || st.sumFrom(from) != pos.sum {
		// The follower lacks something (or will not wait): answer now.
		return f.answer(st, from, 0), nil
	}
	// The follower has all of it: hold the poll until that changes.
	return f.waitForChange(ctx, st, from, pos.sum, wait)
}

// readNow reads the store on the poll's own behalf, so that an answer is
// never older than its request.
func (f *Feed) readNow(ctx context.Context) (*snapshot, error) {
	st, err := f.read(ctx)
	if err != nil {
		return nil, fmt.Errorf("revfeed: %w", err)
	}
	return st, nil
}

// waitForChange holds a poll whose follower has all of st from from on
// (fingerprint seen) until the background reader publishes a state that
// differs there, wait passes, or the feed closes.
func (f *Feed) waitForChange(ctx context.Context, st *snapshot, from time.Time, seen uint64, wait time.Duration) (*Answer, error) {
	changed, startSeq, ok := f.enter()
	if !ok {
		// Too many polls held, or closing: ask the follower to come back
		// after PollInterval rather than hold another connection.
		return f.answer(st, from, f.cfg.PollInterval), nil
	}
	defer f.leave()
	// The reader reads only while someone waits; have it read now, so that
	// a change committed since our read is not left to the next tick.
	f.Changed()

	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			return f.answer(st, from, 0), nil
		case <-changed:
		}
		f.mu.Lock()
		latest, closed := f.state, f.closed
		changed = f.changed
		f.mu.Unlock()
		if closed {
			return f.answer(st, from, f.cfg.PollInterval), nil
		}
		// Only a state read after this poll began is at least as new as
		// the poll's own read; an older one would take entries back.
		if latest != nil && latest.seq > startSeq {
			st = latest
		}
		if st.sumFrom(from) != seen {
			return f.answer(st, from, 0), nil
		}
	}
}

// enter counts a waiting poll in, returning the channel closed at the next
// change and the sequence of the states published so far; ok is false
// when the poll may not wait.
func (f *Feed) enter() (changed <-chan struct{}, seq uint64, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.waiters >= f.cfg.MaxWaiters {
		return nil, 0, false
	}
	f.waiters++
	return f.changed, f.seq, true
}

// leave counts a waiting poll out.
func (f *Feed) leave() {
	f.mu.Lock()
	f.waiters--
	f.mu.Unlock()
}

// answer builds the answer of st from from on (everything when from is
// zero), with a cursor for the next poll: the instant of st's read and the
// fingerprint of what the next poll will compare against.
func (f *Feed) answer(st *snapshot, from time.Time, pollAfter time.Duration) *Answer {
	s, u := st.sessions, st.users
	if !from.IsZero() {
		s, u = st.delta(from)
	}
	next := position{at: st.readAt}
	next.sum = st.sumFrom(next.at.Add(-f.cfg.Overlap))
	return &Answer{
		Sessions:  slices.Clone(s),
		Users:     slices.Clone(u),
		Cursor:    next.String(),
		PollAfter: pollAfter,
	}
}
