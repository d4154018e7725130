package revfeed

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"slices"
	"strings"
	"time"
)

// snapshot is the feed's content at one instant, entries in time order.
type snapshot struct {
	readAt   time.Time
	seq      uint64 // order of publication (0: not published)
	sessions []Session
	users    []User
	sum      uint64 // fingerprint of everything, to notice changes
}

// read loads the feed's content from the store: what was revoked within
// the last access token lifetime (older entries void nothing still alive).
func (f *Feed) read(ctx context.Context) (*snapshot, error) {
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
	st := &snapshot{readAt: now}
	for _, s := range sess {
		if s.RevokedAt.IsZero() {
			continue
		}
		st.sessions = append(st.sessions, Session{
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
		st.users = append(st.users, User{
			UserID: c.UserID, NotBefore: nb.UTC(), At: c.At.UTC(), Until: c.At.Add(f.cfg.AccessTTL).UTC(),
		})
	}
	// Time order lets delta cut by binary search; the id breaks ties so that
	// equal content always fingerprints alike.
	slices.SortFunc(st.sessions, func(a, b Session) int {
		if c := a.RevokedAt.Compare(b.RevokedAt); c != 0 {
			return c
		}
		return strings.Compare(a.SessionID, b.SessionID)
	})
	slices.SortFunc(st.users, func(a, b User) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.UserID, b.UserID)
	})
	st.sum = fingerprint(st.sessions, st.users)
	return st, nil
}

// delta returns the entries of st at or after from (all when from is zero).
func (st *snapshot) delta(from time.Time) ([]Session, []User) {
	i, _ := slices.BinarySearchFunc(st.sessions, from, func(e Session, t time.Time) int { return e.RevokedAt.Compare(t) })
	j, _ := slices.BinarySearchFunc(st.users, from, func(e User, t time.Time) int { return e.At.Compare(t) })
	return st.sessions[i:], st.users[j:]
}

// sumFrom is the fingerprint of st's entries at or after from: what a
// cursor remembers of the answer it came with.
func (st *snapshot) sumFrom(from time.Time) uint64 {
	s, u := st.delta(from)
	return fingerprint(s, u)
}

// fingerprint hashes entries in order (FNV-1a, 64 bits). It tells a poll
// whether the store's content differs from what its follower has, without
// keeping per-follower state on the server.
func fingerprint(sess []Session, users []User) uint64 {
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
