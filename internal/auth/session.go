package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"slices"
	"time"

	"github.com/latchauth/latch/internal/token"
)

// Login checks an email and password and starts a session. An unknown email
// and a wrong password answer alike and cost the same hashing time.
func (s *Service) Login(ctx context.Context, email, password string) (*TokenPair, error) {
	u, factors, newHash, err := s.checkLogin(ctx, email, password)
	if err != nil {
		return nil, err
	}
	if len(factors) > 0 {
		return nil, s.requireSecondFactor(ctx, u, factors, newHash)
	}
	var (
		sess    *Session
		refresh string
		ev      Event
	)
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		if err := s.upgradeHash(ctx, tx, u, newHash); err != nil {
			return err
		}
		var err error
		if sess, refresh, err = s.newSession(ctx, tx, u, ClientFromContext(ctx).OAuthClient); err != nil {
			return err
		}
		ev = Event{Type: EventLogin, UserID: u.ID, SessionID: sess.ID}
		return s.publish(ctx, tx, u, &ev)
	})
	if err != nil {
		return nil, err
	}
	s.emit(ctx, ev)
	return s.pair(u, sess.ID, refresh)
}

// checkLogin is the password check of a login (Login, BrowserLogin): the
// limits, the password, the account's state. It returns the user, their
// active second factors (a login must then ask for one) and, when the
// stored hash is old, a new hash of the password for upgradeHash.
func (s *Service) checkLogin(ctx context.Context, email, password string) (*User, []*Factor, string, error) {
	if err := s.limitIP(ctx, "login", s.cfg.LoginPerIP); err != nil {
		return nil, nil, "", err
	}
	addr, err := s.parseEmail(email)
	if err != nil {
		// No account has a spelling latch does not accept: answer as for
		// an unknown address, in the same time.
		if err := s.deps.Hasher.VerifyDummy(ctx, password); err != nil && isBusy(err) {
			return nil, nil, "", s.hashErr(err)
		}
		s.emit(ctx, Event{Type: EventLoginFailed, Details: map[string]string{"reason": "invalid_email"}})
		return nil, nil, "", errBadCredentials()
	}
	norm := addr.Key
	if err := s.passwordAttempt(ctx, norm, ""); err != nil {
		return nil, nil, "", err
	}
	if err := s.admitHash(); err != nil {
		return nil, nil, "", err
	}
	u, anyFactor, err := s.deps.Store.LoginUser(ctx, norm)
	if notFound(err) {
		if err := s.deps.Hasher.VerifyDummy(ctx, password); err != nil && isBusy(err) {
			return nil, nil, "", s.hashErr(err)
		}
		s.emit(ctx, Event{Type: EventLoginFailed, Details: map[string]string{"reason": "unknown_email"}})
		return nil, nil, "", errBadCredentials()
	}
	if err != nil {
		return nil, nil, "", err
	}
	ok, rehash, err := s.deps.Hasher.Verify(ctx, password, u.PasswordHash)
	if err != nil {
		return nil, nil, "", s.hashErr(err)
	}
	if !ok {
		s.emit(ctx, Event{Type: EventLoginFailed, UserID: u.ID, Details: map[string]string{"reason": "wrong_password"}})
		return nil, nil, "", errBadCredentials()
	}
	// With a second factor the throttle is cleared only once the code is
	// right too: the password alone must not buy more guesses at it.
	var factors []*Factor
	if anyFactor {
		if factors, err = activeFactors(ctx, s.deps.Store, u.ID); err != nil {
			return nil, nil, "", err
		}
	}
	if len(factors) == 0 {
		s.passwordSucceeded(ctx, norm)
	}
	if u.Disabled {
		return nil, nil, "", Errorf(CodeAccountDisabled, "this account is disabled")
	}
	if s.cfg.RequireConfirmation && !u.EmailConfirmed {
		return nil, nil, "", Errorf(CodeEmailNotConfirmed, "confirm your email address first; we can send the link again")
	}
	var newHash string
	if rehash {
		// Upgrade old (bcrypt or weaker argon2id) hashes on a successful
		// login; a failure here must not fail the login.
		if h, err := s.deps.Hasher.Hash(ctx, password); err == nil {
			newHash = h
		}
	}
	return u, factors, newHash, nil
}

// upgradeHash replaces u's password hash by newHash (when set) inside tx,
// unless the password changed since u was read.
func (s *Service) upgradeHash(ctx context.Context, tx Tx, u *User, newHash string) error {
	if newHash == "" {
		return nil
	}
	fresh, err := tx.UserByID(ctx, u.ID)
	if err != nil {
		return err
	}
	if fresh.PasswordHash != u.PasswordHash {
		return nil
	}
	fresh.PasswordHash = newHash
	fresh.UpdatedAt = s.now()
	return tx.UpdateUser(ctx, fresh)
}

// passwordAttempt counts one password check against the account throttle
// of the normalised address norm before the password is looked at. Every
// check of an account's password shares it (login and the re-checks of a
// logged-in user), so no route is a guessing oracle the others do not
// count. userID, when known, goes into the throttled event.
func (s *Service) passwordAttempt(ctx context.Context, norm, userID string) error {
	if !s.cfg.RateLimits {
		return nil
	}
	ok, wait, err := s.deps.Limiter.LoginAttempt(ctx, loginThrottleKey(norm))
	if err != nil {
		s.log.Warn("rate limiter unavailable; allowing", "err", err)
		return nil
	}
	if !ok {
		s.emit(ctx, Event{Type: EventLoginThrottled, UserID: userID})
		return &Error{Code: CodeRateLimited, Message: "too many failed password attempts for this account; try again later", RetryAfter: wait}
	}
	return nil
}

// passwordSucceeded clears the account throttle after the right password.
func (s *Service) passwordSucceeded(ctx context.Context, norm string) {
	if !s.cfg.RateLimits {
		return
	}
	if err := s.deps.Limiter.LoginSucceeded(ctx, loginThrottleKey(norm)); err != nil {
		s.log.Warn("rate limiter unavailable", "err", err)
	}
}

func loginThrottleKey(norm string) string { return "login:account:" + norm }

func errBadCredentials() error {
	return Errorf(CodeInvalidCredentials, "the email or password is wrong")
}

// Refresh rotates a refresh token. A token already rotated is theft and ends
// the session, unless it is presented again within the grace window while its
// successor is unused: then the same successor is answered again.
func (s *Service) Refresh(ctx context.Context, refresh string) (*TokenPair, error) {
	h, ok := token.HashOpaque(refresh)
	if !ok {
		return nil, errInvalidBearer("the refresh token is invalid")
	}
	if p, done, err := s.rotateRefresh(ctx, refresh, h); done {
		return p, err
	}
	// A token already used (a retry within the grace window, or a reuse)
	// or a lost race: judged again, inside one transaction.
	var (
		u     *User
		sid   string
		amr   []string
		end   time.Time
		next  string
		theft *RefreshToken
		ev    Event
	)
	err := s.deps.Store.Tx(ctx, func(tx Tx) error {
		theft, next = nil, ""
		now := s.now()
		rt, err := tx.RefreshTokenByHash(ctx, h)
		if notFound(err) {
			return errInvalidBearer("the refresh token is invalid")
		}
		if err != nil {
			return err
		}
		sess, err := tx.SessionByID(ctx, rt.SessionID)
		if notFound(err) {
			return errInvalidBearer("the refresh token is invalid")
		}
		if err != nil {
			return err
		}
		if err := s.refreshRefusal(ctx, sess, nil, now); err != nil {
			return err
		}
		if u, err = tx.UserByID(ctx, rt.UserID); err != nil {
			if notFound(err) {
				return errInvalidBearer("the refresh token is invalid")
			}
			return err
		}
		if err := s.refreshRefusal(ctx, sess, u, now); err != nil {
			return err
		}
		sid, end, amr = sess.ID, sess.ExpiresAt, sess.AMR
		if rt.UsedAt.IsZero() {
			cand, err := token.NewOpaque()
			if err != nil {
				return err
			}
			nh, _ := token.HashOpaque(cand)
			sealed, err := token.SealSuccessor(refresh, cand)
			if err != nil {
				return err
			}
			won, err := tx.MarkRefreshTokenUsed(ctx, h, now, nh, sealed)
			if err != nil {
				return err
			}
			if won {
				if err := tx.CreateRefreshToken(ctx, &RefreshToken{Hash: nh, SessionID: sess.ID, UserID: u.ID, CreatedAt: now}); err != nil {
					return err
				}
				next = cand
				return tx.TouchSession(ctx, sess.ID, now)
			}
			// Another request rotated it first: judge it as a reuse.
			if rt, err = tx.RefreshTokenByHash(ctx, h); err != nil {
				return err
			}
		}
		if next, err = s.graceSuccessor(ctx, tx, rt, refresh, now); err != nil {
			return err
		}
		if next != "" {
			return tx.TouchSession(ctx, sess.ID, now)
		}
		theft = rt
		if _, err = tx.RevokeSession(ctx, sess.ID, now); err != nil {
			return err
		}
		ev = Event{Type: EventRefreshReuseDetected, UserID: rt.UserID, SessionID: rt.SessionID}
		return s.publish(ctx, tx, u, &ev)
	})
	if err != nil {
		return nil, err
	}
	if theft != nil {
		s.emit(ctx, ev)
		return nil, errInvalidBearer("the refresh token was already used; the session has been ended")
	}
	return s.pairUntil(u, sid, amr, next, end)
}

// rotateRefresh is Refresh's common case, an unused token of a live session,
// in one store call instead of a transaction
// (Store.RotateRefreshTokenIfAllowed): the read of the token, its session
// and user, and the conditional write that only one of concurrent
// rotations wins. done is false when the token was used already, the
// write lost, or the store declined: Refresh then judges it again in a
// transaction (grace window or reuse).
func (s *Service) rotateRefresh(ctx context.Context, refresh string, h []byte) (p *TokenPair, done bool, err error) {
	next, err := token.NewOpaque()
	if err != nil {
		return nil, true, err
	}
	nh, _ := token.HashOpaque(next)
	sealed, err := token.SealSuccessor(refresh, next)
	if err != nil {
		return nil, true, err
	}
	now := s.now()
	st, won, err := s.deps.Store.RotateRefreshTokenIfAllowed(ctx, RefreshRotation{
		Hash: h, At: now, SuccessorHash: nh, SuccessorSealed: sealed,
		Client: ClientFromContext(ctx).OAuthClient, Idle: s.cfg.SessionIdle,
	})
	if notFound(err) {
		return nil, true, errInvalidBearer("the refresh token is invalid")
	}
	if err != nil {
		return nil, true, err
	}
	if err := s.refreshRefusal(ctx, st.Session, st.User, now); err != nil {
		if won {
			// The store's rule let through what the service refuses: a
			// bug (storetest holds the two together). The answer stays
			// the refusal.
			s.log.Error(ErrRotationRefused.Error(), "session_id", st.Session.ID)
		}
		return nil, true, err
	}
	if !won {
		return nil, false, nil
	}
	p, err = s.pairUntil(st.User, st.Session.ID, st.Session.AMR, next, st.Session.ExpiresAt)
	return p, true, err
}

// ErrRotationRefused is logged when the store rotated a refresh token that
// the service then refused (Store.RotateRefreshTokenIfAllowed judged more
// leniently than RefreshRotation.Allows): a bug.
var ErrRotationRefused = errors.New("refresh: the store rotated a token the service refuses")

// refreshRefusal says why sess (and u, when known) may not rotate a refresh
// token for the client of ctx at now, or nil. The client binding is
// checked before anything else:
// a refusal changes nothing, so a token that leaked from its client is no
// use to anyone else, and presenting it elsewhere cannot end the session
// either.
func (s *Service) refreshRefusal(ctx context.Context, sess *Session, u *User, now time.Time) error {
	if !sess.UsableBy(ClientFromContext(ctx).OAuthClient) {
		return errInvalidBearer("the refresh token was issued to another client; refresh it through that client, authenticated")
	}
	if !sess.Active(now, s.cfg.SessionIdle) {
		return errInvalidBearer("the session has ended; log in again")
	}
	if u != nil && u.Disabled {
		return Errorf(CodeAccountDisabled, "this account is disabled")
	}
	return nil
}

// graceSuccessor returns rt's successor when rt was rotated within the grace
// window and the successor is still unused; "" otherwise.
func (s *Service) graceSuccessor(ctx context.Context, tx Tx, rt *RefreshToken, presented string, now time.Time) (string, error) {
	if s.cfg.RefreshGrace <= 0 || now.Sub(rt.UsedAt) > s.cfg.RefreshGrace || len(rt.SuccessorHash) == 0 {
		return "", nil
	}
	succ, err := tx.RefreshTokenByHash(ctx, rt.SuccessorHash)
	if notFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if !succ.UsedAt.IsZero() {
		return "", nil
	}
	next, err := token.OpenSuccessor(presented, rt.SuccessorSealed)
	if err != nil {
		return "", nil
	}
	if nh, ok := token.HashOpaque(next); !ok || subtle.ConstantTimeCompare(nh, rt.SuccessorHash) != 1 {
		return "", nil
	}
	return next, nil
}

// Authenticate checks a bearer access token: signature and claims, then that
// its session is live and its user enabled and not cut off.
func (s *Service) Authenticate(ctx context.Context, bearer string) (*Principal, error) {
	cl, err := s.verifyAccess(bearer)
	if errors.Is(err, token.ErrExpired) {
		return nil, Errorf(CodeTokenExpired, "the access token has expired")
	}
	if err != nil {
		return nil, errInvalidBearer("the access token is invalid")
	}
	if cl.SessionID == "" {
		return nil, errInvalidBearer("the access token is invalid")
	}
	sess, err := s.bearerSession(ctx, cl.SessionID)
	if notFound(err) {
		return nil, errInvalidBearer("the session has ended")
	}
	if err != nil {
		return nil, err
	}
	// The idle lifetime counts as much as revocation and the absolute end:
	// a session nobody refreshed for that long is over, whatever tokens
	// of it are still unexpired.
	if sess.UserID != cl.Subject || !sess.Active(s.now(), s.cfg.SessionIdle) {
		return nil, errInvalidBearer("the session has ended")
	}
	u, err := s.bearerUser(ctx, cl.Subject)
	if notFound(err) {
		return nil, errInvalidBearer("the account no longer exists")
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, errInvalidBearer("the account is disabled")
	}
	if !u.TokensValidAfter.IsZero() && cl.IssuedAt.Before(u.TokensValidAfter.Truncate(time.Second)) {
		return nil, errInvalidBearer("the access token was revoked")
	}
	return &Principal{User: u, SessionID: sess.ID, TokenID: cl.ID, IssuedAt: cl.IssuedAt, Roles: slices.Clone(cl.Roles)}, nil
}

// Logout ends the caller's session and, when a refresh token of the caller
// is given, that token's session too.
func (s *Service) Logout(ctx context.Context, p *Principal, refresh string) error {
	now := s.now()
	ev := Event{Type: EventLogout, UserID: p.User.ID, SessionID: p.SessionID}
	err := s.deps.Store.Tx(ctx, func(tx Tx) error {
		if _, err := tx.RevokeSession(ctx, p.SessionID, now); err != nil {
			return err
		}
		if err := s.publish(ctx, tx, p.User, &ev); err != nil {
			return err
		}
		if refresh == "" {
			return nil
		}
		h, ok := token.HashOpaque(refresh)
		if !ok {
			return nil
		}
		rt, err := tx.RefreshTokenByHash(ctx, h)
		if notFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if rt.UserID == p.User.ID && rt.SessionID != p.SessionID {
			_, err = tx.RevokeSession(ctx, rt.SessionID, now)
		}
		return err
	})
	if err != nil {
		return err
	}
	s.emit(ctx, ev)
	return nil
}

// LogoutAll ends every session of the caller and cuts off every access token
// issued so far.
func (s *Service) LogoutAll(ctx context.Context, p *Principal) error {
	ev := Event{Type: EventLogoutAll, UserID: p.User.ID, SessionID: p.SessionID}
	if err := s.endAllSessions(ctx, p.User.ID, "", &ev); err != nil {
		return err
	}
	s.emit(ctx, ev)
	return nil
}

// endAllSessions revokes every session of userID but except; without an
// exception it is a cut-off (see cutOff): access tokens and emailed links
// die too. ev, the event reporting it, is published in the transaction.
func (s *Service) endAllSessions(ctx context.Context, userID, except string, ev *Event) error {
	now := s.now()
	return s.deps.Store.Tx(ctx, func(tx Tx) error {
		if except != "" {
			if _, err := tx.RevokeUserSessions(ctx, userID, except, now); err != nil {
				return err
			}
			return s.publish(ctx, tx, nil, ev)
		}
		u, err := tx.UserByID(ctx, userID)
		if err != nil {
			return err
		}
		if _, err := s.cutOff(ctx, tx, u, now); err != nil {
			return err
		}
		u.UpdatedAt = now
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		return s.publish(ctx, tx, u, ev)
	})
}

// Sessions lists the caller's live sessions, newest first.
func (s *Service) Sessions(ctx context.Context, p *Principal) ([]*Session, error) {
	return s.liveSessions(ctx, p.User.ID)
}

// liveSessions lists userID's live sessions, newest first. The store leaves
// out revoked and expired ones; idleness is a rule of the service
// (SessionIdle), so it is checked here.
func (s *Service) liveSessions(ctx context.Context, userID string) ([]*Session, error) {
	now := s.now()
	all, err := s.deps.Store.SessionsByUser(ctx, userID, now)
	if err != nil {
		return nil, err
	}
	live := all[:0]
	for _, sess := range all {
		if sess.Active(now, s.cfg.SessionIdle) {
			live = append(live, sess)
		}
	}
	return live, nil
}

// EndSession ends one of the caller's sessions; another user's session, or
// one already ended, is not found.
func (s *Service) EndSession(ctx context.Context, p *Principal, id string) error {
	notFoundErr := Errorf(CodeNotFound, "no such session")
	ev := Event{Type: EventSessionEnded, UserID: p.User.ID, SessionID: id, Details: map[string]string{"by_session": p.SessionID}}
	err := s.deps.Store.Tx(ctx, func(tx Tx) error {
		sess, err := tx.SessionByID(ctx, id)
		if notFound(err) {
			return notFoundErr
		}
		if err != nil {
			return err
		}
		if sess.UserID != p.User.ID || !sess.Active(s.now(), s.cfg.SessionIdle) {
			return notFoundErr
		}
		if _, err = tx.RevokeSession(ctx, id, s.now()); err != nil {
			return err
		}
		return s.publish(ctx, tx, p.User, &ev)
	})
	if err != nil {
		return err
	}
	s.emit(ctx, ev)
	return nil
}
