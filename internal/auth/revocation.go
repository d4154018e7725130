package auth

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// UserCutoff is a user-wide cut-off as the revocation feed reads it: either
// the user's TokensValidAfter (set by force logout, role change, disable,
// password reset or change) or the user's deletion.
type UserCutoff struct {
	UserID string
	// At is the cut-off (TokensValidAfter) or the time of the deletion.
	At time.Time
	// Deleted reports a deleted account: every token it ever had is void.
	Deleted bool
}

// RevokedSession is an entry of the revocation feed: every access token of
// the session is void; none of them lives past Until.
type RevokedSession struct {
	SessionID string
	RevokedAt time.Time
	Until     time.Time
}

// RevokedUser is an entry of the revocation feed: access tokens of the user
// issued (iat) before NotBefore are void; none of them lives past Until.
type RevokedUser struct {
	UserID    string
	NotBefore time.Time // whole seconds, like iat
	At        time.Time // when the cut-off was set or the account deleted
	Until     time.Time
}

// Revocations is one answer of the revocation feed.
type Revocations struct {
	Sessions []RevokedSession
	Users    []RevokedUser
	// Cursor is what the follower passes to the next Poll.
	Cursor string
	// PollAfter is how long the follower should wait before the next Poll
	// (zero: at once, the next Poll waits on the server).
	PollAfter time.Duration
}

// RevocationConfig configures a RevocationFeed. Zero values take the
// defaults noted beside each field.
type RevocationConfig struct {
	// Store is read for revoked sessions and user cut-offs; required.
	Store Reader
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

// RevocationFeed serves GET /v1/revocations: the sessions ended and user
// cut-offs set within the last access token lifetime, so that services
// verifying tokens locally (package verify) refuse a revoked token within
// a second. Polls with a cursor wait (long-poll) until something changes.
//
// Changed wakes waiting polls; call it after a revocation was committed,
// in this process (OnEvent does it for security events) or in another
// instance (a fan-out). Without it, waiting polls still see changes within
// PollInterval.
type RevocationFeed struct {
	cfg RevocationConfig
	log *slog.Logger

	kick chan struct{} // buffered 1: wakes the reader
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	waiters int
	seq     uint64        // states published so far
	state   *feedState    // last state read by the background reader
	changed chan struct{} // closed and replaced when state changes
	closed  bool
	once    sync.Once
}

// feedState is the feed's content at one instant.
type feedState struct {
	readAt   time.Time
	seq      uint64 // order of publication (0: not published)
	sessions []RevokedSession
	users    []RevokedUser
	sum      uint64 // fingerprint of everything, to notice changes
}

// NewRevocationFeed returns a feed reading cfg.Store. Close stops it.
func NewRevocationFeed(cfg RevocationConfig) *RevocationFeed {
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = 15 * time.Minute
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
	f := &RevocationFeed{
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
func (f *RevocationFeed) Changed() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// OnEvent is a Deps.OnEvent hook: it calls Changed for events that may have
// revoked tokens.
func (f *RevocationFeed) OnEvent(_ context.Context, e Event) {
	if Revokes(e.Type) {
		f.Changed()
	}
}

// Close stops the background reader and answers every waiting poll at once.
// Later polls answer at once too.
func (f *RevocationFeed) Close() {
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
// PollInterval.
func (f *RevocationFeed) run() {
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

// publish makes st the current state, waking waiters if it differs.
func (f *RevocationFeed) publish(st *feedState) {
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

// read loads the feed's content from the store.
func (f *RevocationFeed) read(ctx context.Context) (*feedState, error) {
	now := f.cfg.Now().UTC()
	since := now.Add(-f.cfg.AccessTTL)
	sess, err := f.cfg.Store.RevokedSessionsSince(ctx, since)
	if err != nil {
		return nil, err
	}
	cuts, err := f.cfg.Store.UserCutoffsSince(ctx, since)
	if err != nil {
		return nil, err
	}
	st := &feedState{readAt: now}
	for _, s := range sess {
		if s.RevokedAt.IsZero() {
			continue
		}
		st.sessions = append(st.sessions, RevokedSession{
			SessionID: s.ID, RevokedAt: s.RevokedAt.UTC(), Until: s.RevokedAt.Add(f.cfg.AccessTTL).UTC(),
		})
	}
	for _, c := range cuts {
		// Mirror Authenticate: a token is void when its iat (whole seconds)
		// is before the cut-off truncated to the second, so that the token
		// of the session that set it (password change) stays good. A
		// deletion voids every token, those of its own second included.
		nb := c.At.Truncate(time.Second)
		if c.Deleted && !nb.Equal(c.At) {
			nb = nb.Add(time.Second)
		}
		st.users = append(st.users, RevokedUser{
			UserID: c.UserID, NotBefore: nb.UTC(), At: c.At.UTC(), Until: c.At.Add(f.cfg.AccessTTL).UTC(),
		})
	}
	slices.SortFunc(st.sessions, func(a, b RevokedSession) int {
		if c := a.RevokedAt.Compare(b.RevokedAt); c != 0 {
			return c
		}
		return strings.Compare(a.SessionID, b.SessionID)
	})
	slices.SortFunc(st.users, func(a, b RevokedUser) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.UserID, b.UserID)
	})
	st.sum = fingerprint(st.sessions, st.users)
	return st, nil
}

// delta returns the entries of st at or after from (all when from is zero).
func (st *feedState) delta(from time.Time) ([]RevokedSession, []RevokedUser) {
	i, _ := slices.BinarySearchFunc(st.sessions, from, func(e RevokedSession, t time.Time) int { return e.RevokedAt.Compare(t) })
	j, _ := slices.BinarySearchFunc(st.users, from, func(e RevokedUser, t time.Time) int { return e.At.Compare(t) })
	return st.sessions[i:], st.users[j:]
}

// fingerprint hashes entries in order (FNV-1a, 64 bits).
func fingerprint(sess []RevokedSession, users []RevokedUser) uint64 {
	h := fnv.New64a()
	var b [8]byte
	put := func(kind byte, id string, at, nb time.Time) {
		h.Write([]byte{kind})
		h.Write([]byte(id))
		h.Write([]byte{0})
		binary.BigEndian.PutUint64(b[:], uint64(at.UnixMicro()))
		h.Write(b[:])
		binary.BigEndian.PutUint64(b[:], uint64(nb.Unix()))
		h.Write(b[:])
	}
	for _, s := range sess {
		put('s', s.SessionID, s.RevokedAt, time.Time{})
	}
	for _, u := range users {
		put('u', u.UserID, u.At, u.NotBefore)
	}
	return h.Sum64()
}

// feedCursor is a position in the feed: the instant of the read that answered
// and the fingerprint of what that answer held from at-Overlap on.
type feedCursor struct {
	at  time.Time
	sum uint64
}

// maxFeedCursorLen bounds a cursor's text.
const maxFeedCursorLen = 64

// errBadFeedCursor is the answer to a malformed cursor.
var errBadFeedCursor = Errorf(CodeInvalidRequest, "since is not a cursor of this feed")

func (c feedCursor) String() string {
	return "1." + strconv.FormatInt(c.at.UnixMicro(), 10) + "." + strconv.FormatUint(c.sum, 16)
}

// parseFeedCursor reads a cursor made by feedCursor.String.
func parseFeedCursor(s string) (feedCursor, error) {
	if len(s) > maxFeedCursorLen {
		return feedCursor{}, errBadFeedCursor
	}
	ver, rest, ok := strings.Cut(s, ".")
	if !ok || ver != "1" {
		return feedCursor{}, errBadFeedCursor
	}
	atS, sumS, ok := strings.Cut(rest, ".")
	if !ok || !feedDecimal(atS) || !feedHex(sumS) {
		return feedCursor{}, errBadFeedCursor
	}
	at, err := strconv.ParseInt(atS, 10, 64)
	if err != nil || at <= 0 {
		return feedCursor{}, errBadFeedCursor
	}
	sum, err := strconv.ParseUint(sumS, 16, 64)
	if err != nil {
		return feedCursor{}, errBadFeedCursor
	}
	return feedCursor{at: time.UnixMicro(at).UTC(), sum: sum}, nil
}

func feedDecimal(s string) bool {
	if s == "" || len(s) > 19 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func feedHex(s string) bool {
	if s == "" || len(s) > 16 || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Poll answers the feed. Without a cursor (since == "") it answers every
// entry at once. With one it answers the entries from the cursor's instant
// minus Overlap on, waiting up to wait (at most MaxWait) until they differ
// from what the cursor's answer held. A malformed cursor is an
// invalid_request error; a store failure is returned as is.
func (f *RevocationFeed) Poll(ctx context.Context, since string, wait time.Duration) (*Revocations, error) {
	var (
		cur    feedCursor
		hasCur = since != ""
	)
	if hasCur {
		var err error
		if cur, err = parseFeedCursor(since); err != nil {
			return nil, err
		}
	}
	wait = min(max(wait, 0), f.cfg.MaxWait)

	st, err := f.read(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: revocation feed: %w", err)
	}
	if !hasCur {
		return f.answer(st, time.Time{}, 0), nil
	}
	from := cur.at.Add(-f.cfg.Overlap)
	if wait == 0 || f.deltaSum(st, from) != cur.sum {
		return f.answer(st, from, 0), nil
	}

	f.mu.Lock()
	if f.closed || f.waiters >= f.cfg.MaxWaiters {
		f.mu.Unlock()
		return f.answer(st, from, f.cfg.PollInterval), nil
	}
	f.waiters++
	ch := f.changed
	seen := f.seq
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.waiters--
		f.mu.Unlock()
	}()
	f.Changed() // make sure the reader has a state to compare with

	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			return f.answer(st, from, 0), nil
		case <-ch:
		}
		f.mu.Lock()
		latest, closed := f.state, f.closed
		ch = f.changed
		f.mu.Unlock()
		if closed {
			return f.answer(st, from, f.cfg.PollInterval), nil
		}
		if latest != nil && latest.seq > seen {
			// Read after this poll began: at least as new as its own read.
			st = latest
		}
		if f.deltaSum(st, from) != cur.sum {
			return f.answer(st, from, 0), nil
		}
	}
}

func (f *RevocationFeed) deltaSum(st *feedState, from time.Time) uint64 {
	s, u := st.delta(from)
	return fingerprint(s, u)
}

// answer builds the answer of st from from on, with a cursor for the next
// poll.
func (f *RevocationFeed) answer(st *feedState, from time.Time, pollAfter time.Duration) *Revocations {
	var s []RevokedSession
	var u []RevokedUser
	if from.IsZero() {
		s, u = st.sessions, st.users
	} else {
		s, u = st.delta(from)
	}
	next := feedCursor{at: st.readAt}
	next.sum = f.deltaSum(st, next.at.Add(-f.cfg.Overlap))
	return &Revocations{
		Sessions:  slices.Clone(s),
		Users:     slices.Clone(u),
		Cursor:    next.String(),
		PollAfter: pollAfter,
	}
}
