package auth

import (
	"container/list"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// sessionCache keeps the sessions and users Authenticate reads, so that a
// bearer check in the steady state costs no database read.
//
// It stays true by forgetting. Every security event forgets its user (and,
// when the event may revoke, every cached session of that user) before the
// request that caused it answers (Service.emit); notices of other instances
// do the same through Service.Invalidate (the fan-out). Reads that began
// before a forget never insert what they read (the generation check), so a
// commit racing a cache fill cannot leave a stale entry behind.
//
// Two backstops: an entry older than maxAge is read again, which bounds how
// long a notice lost on its way (Redis pub/sub is best effort) or a change
// that publishes none to other instances (an email change, an account
// enabled again) goes unseen there; and a cached session that looks ended
// by idleness is read again before it is refused, since a refresh through
// another instance moves LastUsedAt without telling this one. The cache
// never makes a session live longer: a revoked or expired session is
// refused from the cache (neither comes back), an idle one only after a
// fresh read.
type sessionCache struct {
	max    int
	maxAge time.Duration
	now    func() time.Time

	mu       sync.Mutex
	gen      uint64    // bumped by every forget
	lru      list.List // of *cacheEntry, most recently used at the front
	sessions map[string]*list.Element
	users    map[string]*list.Element
	byUser   map[string]map[string]struct{} // user id -> ids of its cached sessions

	hits, misses, evictions atomic.Uint64
}

// cacheEntry is a session or a user, as read at at.
type cacheEntry struct {
	sess *Session // exactly one of sess and user is set
	user *User
	at   time.Time
}

// CacheStats describes the session cache of Authenticate.
type CacheStats struct {
	Entries   int    // sessions and users held now
	Max       int    // the bound on Entries (0: the cache is off)
	Hits      uint64 // lookups answered from memory
	Misses    uint64 // lookups that read the store (absent or too old)
	Evictions uint64 // entries dropped to stay within Max
}

func newSessionCache(max int, maxAge time.Duration, now func() time.Time) *sessionCache {
	if max <= 0 {
		return nil
	}
	return &sessionCache{
		max:      max,
		maxAge:   maxAge,
		now:      now,
		sessions: make(map[string]*list.Element),
		users:    make(map[string]*list.Element),
		byUser:   make(map[string]map[string]struct{}),
	}
}

// generation is read before a store read whose result goes into the cache.
func (c *sessionCache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// lookup returns the fresh entry in m under id, marking it recently used.
func (c *sessionCache) lookup(m map[string]*list.Element, id string) *cacheEntry {
	el, ok := m[id]
	if !ok {
		return nil
	}
	e := el.Value.(*cacheEntry)
	if d := c.now().Sub(e.at); d < 0 || d >= c.maxAge {
		return nil
	}
	c.lru.MoveToFront(el)
	return e
}

// session returns the cached session id. The caller must not modify it.
func (c *sessionCache) session(id string) (*Session, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	e := c.lookup(c.sessions, id)
	c.mu.Unlock()
	if e == nil {
		c.misses.Add(1)
		return nil, false
	}
	c.hits.Add(1)
	return e.sess, true
}

// user returns a copy of the cached user id.
func (c *sessionCache) user(id string) (*User, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	e := c.lookup(c.users, id)
	c.mu.Unlock()
	if e == nil {
		c.misses.Add(1)
		return nil, false
	}
	c.hits.Add(1)
	return cloneUser(e.user), true
}

// putSession caches sess, read from the store after generation returned
// gen, unless something was forgotten since.
func (c *sessionCache) putSession(gen uint64, at time.Time, sess *Session) {
	if c == nil {
		return
	}
	cp := *sess
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	c.removeLocked(c.sessions[cp.ID])
	c.sessions[cp.ID] = c.lru.PushFront(&cacheEntry{sess: &cp, at: at})
	ids := c.byUser[cp.UserID]
	if ids == nil {
		ids = make(map[string]struct{})
		c.byUser[cp.UserID] = ids
	}
	ids[cp.ID] = struct{}{}
	c.trimLocked()
}

// putUser caches u like putSession.
func (c *sessionCache) putUser(gen uint64, at time.Time, u *User) {
	if c == nil {
		return
	}
	cp := cloneUser(u)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	c.removeLocked(c.users[cp.ID])
	c.users[cp.ID] = c.lru.PushFront(&cacheEntry{user: cp, at: at})
	c.trimLocked()
}

// trimLocked drops the least recently used entries beyond max.
func (c *sessionCache) trimLocked() {
	for c.lru.Len() > c.max {
		c.removeLocked(c.lru.Back())
		c.evictions.Add(1)
	}
}

// removeLocked drops the entry el (nil: nothing).
func (c *sessionCache) removeLocked(el *list.Element) {
	if el == nil {
		return
	}
	e := c.lru.Remove(el).(*cacheEntry)
	if e.user != nil {
		delete(c.users, e.user.ID)
		return
	}
	delete(c.sessions, e.sess.ID)
	if ids := c.byUser[e.sess.UserID]; ids != nil {
		delete(ids, e.sess.ID)
		if len(ids) == 0 {
			delete(c.byUser, e.sess.UserID)
		}
	}
}

// forget drops the user userID (with every cached session of the user
// when sessions is set) and the session sessionID; either may be "". With
// both "" it drops everything.
func (c *sessionCache) forget(userID, sessionID string, sessions bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if userID == "" && sessionID == "" {
		c.lru.Init()
		clear(c.sessions)
		clear(c.users)
		clear(c.byUser)
		return
	}
	if userID != "" {
		c.removeLocked(c.users[userID])
		if sessions {
			for id := range c.byUser[userID] {
				c.removeLocked(c.sessions[id])
			}
		}
	}
	if sessionID != "" {
		c.removeLocked(c.sessions[sessionID])
	}
}

func (c *sessionCache) stats() CacheStats {
	if c == nil {
		return CacheStats{}
	}
	c.mu.Lock()
	n := c.lru.Len()
	c.mu.Unlock()
	return CacheStats{Entries: n, Max: c.max, Hits: c.hits.Load(), Misses: c.misses.Load(), Evictions: c.evictions.Load()}
}

func cloneUser(u *User) *User {
	cp := *u
	cp.Roles = slices.Clone(u.Roles)
	return &cp
}

// forgetFor keeps the cache true after event e (emitted after its change
// was committed): the user is forgotten after any event of theirs (an email
// change, a role change, enabled again...), the user's sessions too after
// an event that may revoke. A revoking event naming nobody forgets
// everything.
func (s *Service) forgetFor(e Event) {
	revokes := Revokes(e.Type)
	switch {
	case e.UserID != "" || e.SessionID != "":
		s.cache.forget(e.UserID, e.SessionID, revokes)
	case revokes:
		s.cache.forget("", "", true)
	}
}

// Invalidate drops what Authenticate keeps in memory about the user userID
// (the user and every session of theirs) and the session sessionID, so
// that the next request reads them again; with both "" it drops
// everything. Call it for revocations made by another instance (the
// fan-out); those made through this Service are seen without it.
func (s *Service) Invalidate(userID, sessionID string) {
	s.cache.forget(userID, sessionID, true)
}

// SessionCacheStats reports on the cache of Authenticate (see
// Config.SessionCache).
func (s *Service) SessionCacheStats() CacheStats { return s.cache.stats() }

// bearerSession returns the session id for a bearer check: from the cache
// when it holds a fresh copy, else from the store (and then cached). A
// cached copy that looks ended only by idleness is read again.
func (s *Service) bearerSession(ctx context.Context, id string) (*Session, error) {
	if sess, ok := s.cache.session(id); ok {
		now := s.now()
		if sess.Active(now, s.cfg.SessionIdle) || !sess.RevokedAt.IsZero() || !now.Before(sess.ExpiresAt) {
			return sess, nil
		}
	}
	gen := s.cache.generation()
	at := s.now()
	sess, err := s.deps.Store.SessionByID(ctx, id)
	if err != nil {
		return nil, err
	}
	s.cache.putSession(gen, at, sess)
	return sess, nil
}

// bearerUser returns the user id for a bearer check, like bearerSession.
// The caller owns the copy it gets.
func (s *Service) bearerUser(ctx context.Context, id string) (*User, error) {
	if u, ok := s.cache.user(id); ok {
		return u, nil
	}
	gen := s.cache.generation()
	at := s.now()
	u, err := s.deps.Store.UserByID(ctx, id)
	if err != nil {
		return nil, err
	}
	s.cache.putUser(gen, at, u)
	return u, nil
}
