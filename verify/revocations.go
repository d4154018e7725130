package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// revocations is what the Verifier knows from latch's revocation feed.
type revocations struct {
	mu       sync.RWMutex
	sessions map[string]time.Time // sid -> until
	users    map[string]userCutoff
	synced   chan struct{} // closed after the first answer
	isSynced bool
}

type userCutoff struct {
	notBefore time.Time // tokens issued (iat) before it are void
	until     time.Time
}

func newRevocations() *revocations {
	return &revocations{
		sessions: map[string]time.Time{},
		users:    map[string]userCutoff{},
		synced:   make(chan struct{}),
	}
}

// check refuses a token of an ended session or issued before its user's
// cut-off.
func (r *revocations) check(c *Claims) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if c.SessionID != "" {
		if _, ok := r.sessions[c.SessionID]; ok {
			return fmt.Errorf("%w: %w: the session has ended", ErrInvalid, ErrRevoked)
		}
	}
	if u, ok := r.users[c.Subject]; ok {
		if c.IssuedAt.IsZero() || c.IssuedAt.Before(u.notBefore) {
			return fmt.Errorf("%w: %w: the user's tokens were revoked", ErrInvalid, ErrRevoked)
		}
	}
	return nil
}

// merge adds a feed answer and forgets entries no token can outlive any
// more (until + leeway before now).
func (r *revocations) merge(a *feedAnswer, now time.Time, leeway time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range a.Sessions {
		if s.Until.After(r.sessions[s.SID]) {
			r.sessions[s.SID] = s.Until
		}
	}
	for _, u := range a.Users {
		cur := r.users[u.Sub]
		if u.NotBefore.After(cur.notBefore) {
			cur.notBefore = u.NotBefore
		}
		if u.Until.After(cur.until) {
			cur.until = u.Until
		}
		r.users[u.Sub] = cur
	}
	for sid, until := range r.sessions {
		if until.Add(leeway).Before(now) {
			delete(r.sessions, sid)
		}
	}
	for sub, u := range r.users {
		if u.until.Add(leeway).Before(now) {
			delete(r.users, sub)
		}
	}
	if !r.isSynced {
		r.isSynced = true
		close(r.synced)
	}
}

// feedAnswer is the JSON of GET /v1/revocations.
type feedAnswer struct {
	Sessions []struct {
		SID   string    `json:"sid"`
		Until time.Time `json:"until"`
	} `json:"sessions"`
	Users []struct {
		Sub       string    `json:"sub"`
		NotBefore time.Time `json:"not_before"`
		Until     time.Time `json:"until"`
	} `json:"users"`
	Cursor      string `json:"cursor"`
	PollAfterMS int64  `json:"poll_after_ms"`
}

// maxFeedSize bounds one feed answer.
const maxFeedSize = 32 << 20

// parseFeed decodes and checks a feed answer.
func parseFeed(b []byte) (*feedAnswer, error) {
	var a feedAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("verify: revocation feed: %w", err)
	}
	if a.Cursor == "" {
		return nil, errors.New("verify: revocation feed: no cursor")
	}
	for _, s := range a.Sessions {
		if s.SID == "" || s.Until.IsZero() {
			return nil, errors.New("verify: revocation feed: session entry without sid or until")
		}
	}
	for _, u := range a.Users {
		if u.Sub == "" || u.Until.IsZero() || u.NotBefore.IsZero() {
			return nil, errors.New("verify: revocation feed: user entry without sub, not_before or until")
		}
	}
	if a.PollAfterMS < 0 || a.PollAfterMS > int64(time.Hour/time.Millisecond) {
		return nil, errors.New("verify: revocation feed: poll_after_ms out of range")
	}
	return &a, nil
}

// errBadCursor is latch refusing the cursor (another version, say).
var errBadCursor = errors.New("verify: revocation feed refused the cursor")

// feedWait is how long the Verifier asks latch to hold a poll open.
const feedWait = 25 * time.Second

// follow polls the revocation feed until ctx ends: a long poll that latch
// answers as soon as something is revoked, then the next one at once.
// Failures back off from 250ms to 5s; what is known stays in force.
func (v *Verifier) follow(ctx context.Context) {
	cursor := ""
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		a, err := v.poll(ctx, cursor)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, errBadCursor) {
				cursor = "" // start over with a full answer
			}
			backoff = min(max(2*backoff, 250*time.Millisecond), 5*time.Second)
			v.log.Warn("verify: revocation feed", "url", v.cfg.RevocationsURL, "err", err, "retry_in", backoff)
			if !sleep(ctx, backoff) {
				return
			}
			continue
		}
		backoff = 0
		v.rev.merge(a, v.cfg.Now(), v.cfg.Leeway)
		cursor = a.Cursor
		if a.PollAfterMS > 0 && !sleep(ctx, time.Duration(a.PollAfterMS)*time.Millisecond) {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// poll makes one request to the feed.
func (v *Verifier) poll(ctx context.Context, cursor string) (*feedAnswer, error) {
	u, err := url.Parse(v.cfg.RevocationsURL)
	if err != nil {
		return nil, fmt.Errorf("verify: revocation feed URL: %w", err)
	}
	q := u.Query()
	if cursor != "" {
		q.Set("since", cursor)
		q.Set("wait", "25")
	}
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, feedWait+15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if v.cfg.RevocationsKey != "" {
		req.Header.Set("Authorization", "Bearer "+v.cfg.RevocationsKey)
	}
	resp, err := v.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxFeedSize+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusBadRequest && cursor != "" {
		return nil, errBadCursor
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("verify: revocation feed answered %d", resp.StatusCode)
	}
	if len(b) > maxFeedSize {
		return nil, errors.New("verify: revocation feed answer too large")
	}
	return parseFeed(b)
}
