package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/latchauth/latch/internal/token"
)

// newID returns a random identifier (128 bits, URL-safe).
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// newSession creates a session of the caller (its IP and user agent from
// ctx) through the OAuth client via, and its first refresh token, inside tx
// and returns the refresh token's plaintext.
func (s *Service) newSession(ctx context.Context, tx Tx, u *User, via OAuthClient) (*Session, string, error) {
	return s.newSessionAMR(ctx, tx, u, via, nil)
}

// newSessionAMR is newSession for a session authenticated by amr (nil: a
// password alone).
func (s *Service) newSessionAMR(ctx context.Context, tx Tx, u *User, via OAuthClient, amr []string) (*Session, string, error) {
	c := ClientFromContext(ctx)
	now := s.now()
	sess := &Session{
		ID:         newID(),
		UserID:     u.ID,
		CreatedAt:  now,
		LastUsedAt: now,
		ExpiresAt:  now.Add(s.cfg.SessionMax),
		IP:         c.IP,
		UserAgent:  c.UserAgent,
		// The session stays bound to the client it was started through.
		ClientID:           via.ID,
		ClientConfidential: via.Confidential,
		AMR:                amr,
	}
	if err := tx.CreateSession(ctx, sess); err != nil {
		return nil, "", err
	}
	rt, err := token.NewOpaque()
	if err != nil {
		return nil, "", err
	}
	h, _ := token.HashOpaque(rt)
	err = tx.CreateRefreshToken(ctx, &RefreshToken{Hash: h, SessionID: sess.ID, UserID: u.ID, CreatedAt: now})
	if err != nil {
		return nil, "", err
	}
	return sess, rt, nil
}

// pair signs an access token for u in session sid and builds the answer.
func (s *Service) pair(u *User, sid, refresh string) (*TokenPair, error) {
	return s.pairUntil(u, sid, nil, refresh, time.Time{})
}

// pairUntil is pair for a session that ends at end (zero: not before the
// access token would): the access token never outlives its session, so
// its exp, and expires_in, are the earlier of the usual lifetime and end.
//
// amr is how the session was authenticated (nil: a password alone); the
// token carries it and the acr it amounts to.
func (s *Service) pairUntil(u *User, sid string, amr []string, refresh string, end time.Time) (*TokenPair, error) {
	now := s.now()
	if len(amr) == 0 {
		amr = amrPassword
	}
	exp := now.Add(s.cfg.AccessTTL)
	if !end.IsZero() && end.Before(exp) {
		// exp is whole seconds in the token: round down, never past end.
		exp = end.Truncate(time.Second)
	}
	ring := s.ring()
	c := &token.Claims{
		Issuer:        s.iss,
		Subject:       u.ID,
		Audience:      []string{s.cfg.Audience},
		IssuedAt:      now,
		NotBefore:     now,
		ExpiresAt:     exp,
		ID:            newID(),
		SessionID:     sid,
		Roles:         rolesOf(u),
		Email:         u.Email,
		EmailVerified: u.EmailConfirmed,
		AMR:           amr,
		ACR:           acrOf(amr),
		AppMetadata:   MetadataJSON(u.AppMetadata),
	}
	at, err := token.Sign(ring.current, c)
	if err != nil {
		return nil, fmt.Errorf("auth: signing access token: %w", err)
	}
	return &TokenPair{
		AccessToken:  at,
		TokenType:    "Bearer",
		ExpiresIn:    max(0, int(exp.Sub(now)/time.Second)),
		RefreshToken: refresh,
		User:         u,
	}, nil
}

func rolesOf(u *User) []string {
	if len(u.Roles) == 0 {
		return []string{}
	}
	return u.Roles
}

// newOneTimeToken voids older tokens of kind for u, stores a new one and
// returns its plaintext. A confirmation link carries u's password hash:
// for an unconfirmed account that is the password of its latest signup,
// which confirming the link activates.
func (s *Service) newOneTimeToken(ctx context.Context, tx Tx, u *User, kind TokenKind, ttl time.Duration, newEmail string) (string, error) {
	now := s.now()
	if err := tx.VoidOneTimeTokens(ctx, u.ID, kind, now); err != nil {
		return "", err
	}
	plain, err := token.NewOpaque()
	if err != nil {
		return "", err
	}
	h, _ := token.HashOpaque(plain)
	t := &OneTimeToken{Hash: h, Kind: kind, UserID: u.ID, NewEmail: newEmail, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if kind == KindConfirm {
		t.PasswordHash = u.PasswordHash
	}
	if err := tx.CreateOneTimeToken(ctx, t); err != nil {
		return "", err
	}
	return plain, nil
}

// enqueue composes a mail and writes it to the outbox in tx.
func (s *Service) enqueue(ctx context.Context, tx Tx, kind, to string, d MailData) error {
	d.To = to
	d.PublicURL = s.cfg.PublicURL
	d.Product = s.cfg.Product
	m, err := s.deps.Composer.Compose(kind, d)
	if err != nil {
		return fmt.Errorf("auth: composing %s mail: %w", kind, err)
	}
	m.To = to
	return tx.EnqueueMail(ctx, &OutboxMessage{Kind: kind, Message: m, CreatedAt: s.now(), NextAttemptAt: s.now()})
}

// mailQueued wakes the outbox worker after a transaction that enqueued mail
// committed.
func (s *Service) mailQueued() {
	if s.deps.MailNotify != nil {
		s.deps.MailNotify()
	}
}

func (s *Service) link(path, tok string) string {
	return s.cfg.PublicURL + path + "?token=" + tok
}

// limitIP applies a per-IP rate to the caller of ctx when rate limits are
// on. It is where every per-IP limit key is made (an IPv6 client counts as
// its /64).
func (s *Service) limitIP(ctx context.Context, what string, r Rate) error {
	ip := ClientFromContext(ctx).IP
	if !s.cfg.RateLimits || ip == "" {
		return nil
	}
	return s.allow(ctx, ipLimitKey(what, ip), r)
}

// ipLimitKey is the limiter key of ip for the per-IP limit named what.
func ipLimitKey(what, ip string) string {
	return what + ":ip:" + clientLimitKey(ip)
}

func (s *Service) allow(ctx context.Context, key string, r Rate) error {
	ok, wait, err := s.deps.Limiter.Allow(ctx, key, r)
	if err != nil {
		// A limiter that is down fails open: availability over limits.
		s.log.Warn("rate limiter unavailable; allowing", "err", err)
		return nil
	}
	if !ok {
		return &Error{Code: CodeRateLimited, Message: "too many requests; try again later", RetryAfter: wait}
	}
	return nil
}

// isBusy reports whether err means the Hasher's queue is full: err, or an
// error it wraps, has a Busy method that says so (password.ErrBusy does).
func isBusy(err error) bool {
	var b interface{ Busy() bool }
	return errors.As(err, &b) && b.Busy()
}

// hashErr maps a hashing failure: a full queue is 503, the rest internal.
func (s *Service) hashErr(err error) error {
	if isBusy(err) {
		return &Error{Code: CodeUnavailable, Message: "the server is busy; try again shortly", RetryAfter: time.Second, Cause: err}
	}
	return err
}

// admitHash refuses a request that would hash a password (503 with a
// Retry-After) when the Hasher reports, through an optional Saturated
// method, that every slot and queue place is taken: under overload the
// excess is refused before its database lookup, not after it. It depends
// on nothing about the account, so every address is refused alike.
func (s *Service) admitHash() error {
	if h, ok := s.deps.Hasher.(interface{ Saturated() bool }); ok && h.Saturated() {
		return &Error{Code: CodeUnavailable, Message: "the server is busy; try again shortly", RetryAfter: time.Second}
	}
	return nil
}

// checkPassword applies the password policy.
func (s *Service) checkPassword(pw, email string) error {
	if err := s.deps.Policy.Check(pw, email); err != nil {
		return &Error{Code: CodeWeakPassword, Message: err.Error()}
	}
	return nil
}

// hashNewPassword checks a password chosen for the account with email
// against the policy and hashes it (CodeUnavailable while the hasher is
// saturated).
func (s *Service) hashNewPassword(ctx context.Context, pw, email string) (string, error) {
	if err := s.checkPassword(pw, email); err != nil {
		return "", err
	}
	hash, err := s.deps.Hasher.Hash(ctx, pw)
	if err != nil {
		return "", s.hashErr(err)
	}
	return hash, nil
}

// errInvalidBearer is the answer for a bad access or refresh token.
func errInvalidBearer(msg string) error { return Errorf(CodeInvalidBearer, "%s", msg) }

// notFound reports whether err is the store's not-found.
func notFound(err error) bool { return errors.Is(err, ErrNotFound) }

// newUUID returns a random (version 4) UUID, the form of user ids.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
