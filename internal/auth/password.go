package auth

import (
	"context"

	"github.com/latchauth/latch/internal/emailaddr"
)

// ForgotPassword mails a reset link when the address has an account, and
// (Config.MailUnknownAccounts) a "no account for this address" note when it
// has none. It answers the same, in the same time, whether or not it has:
// the lookup and the mail happen off the request path.
func (s *Service) ForgotPassword(ctx context.Context, email string) error {
	if err := s.limitIP(ctx, "forgot", s.cfg.MailPerIP); err != nil {
		return err
	}
	addr, err := s.parseEmail(email)
	if err != nil {
		return nil // no account has that spelling, and it is no address to mail
	}
	norm := addr.Key
	return s.background(ctx, "forgot", func(ctx context.Context) error {
		queued, unknown := false, false
		var userID string
		err := s.deps.Store.Tx(ctx, func(tx Tx) error {
			queued, unknown = false, false
			u, err := tx.UserByEmail(ctx, norm)
			if notFound(err) {
				unknown = true
				return nil
			}
			if err != nil {
				return err
			}
			n, err := tx.CountOneTimeTokens(ctx, u.ID, KindReset, s.now().Add(-s.cfg.ForgotCap.Per))
			if err != nil || n >= s.cfg.ForgotCap.N {
				return err
			}
			tok, err := s.newOneTimeToken(ctx, tx, u, KindReset, s.cfg.ResetTTL, "")
			if err != nil {
				return err
			}
			queued, userID = true, u.ID
			return s.enqueue(ctx, tx, MailReset, u.Email, MailData{Link: s.link("/reset-password", tok), ExpiresIn: s.cfg.ResetTTL})
		})
		if queued && err == nil {
			s.mailQueued()
			s.emit(ctx, Event{Type: EventResetRequested, UserID: userID})
		}
		if unknown && err == nil && s.cfg.MailUnknownAccounts {
			return s.mailUnknownAccount(ctx, addr)
		}
		return err
	})
}

// mailUnknownAccount tells an address without an account that someone asked
// to reset its password, at most ForgotCap times per address. There is no
// user row to count tokens on, so the Limiter keeps that count (shared
// across instances only with a shared limiter). A limiter that is down
// means no mail: it is a courtesy, and a mailbox must not be flooded.
func (s *Service) mailUnknownAccount(ctx context.Context, addr emailaddr.Address) error {
	ok, _, err := s.deps.Limiter.Allow(ctx, "forgot:unknown:"+addr.Key, s.cfg.ForgotCap)
	if err != nil {
		s.log.Warn("rate limiter unavailable; no mail for an unknown address", "err", err)
		return nil
	}
	if !ok {
		return nil
	}
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		return s.enqueue(ctx, tx, MailUnknownAccount, addr.Mail, MailData{Link: s.cfg.PublicURL + "/forgot-password"})
	})
	if err == nil {
		s.mailQueued()
	}
	return err
}

// ResetPassword redeems a reset token: the password changes, every earlier
// session ends, the owner is notified, and (LoginAfterReset) a new session
// starts. A policy error leaves the token usable.
func (s *Service) ResetPassword(ctx context.Context, tok, password string) (*TokenPair, error) {
	return s.resetPassword(ctx, tok, password, s.cfg.LoginAfterReset)
}

// ResetPasswordLink redeems a reset token like ResetPassword but never
// starts a session: the browser page resets, the user logs in in their app.
func (s *Service) ResetPasswordLink(ctx context.Context, tok, password string) error {
	_, err := s.resetPassword(ctx, tok, password, false)
	return err
}

func (s *Service) resetPassword(ctx context.Context, tok, password string, login bool) (*TokenPair, error) {
	if err := s.limitIP(ctx, "reset", s.cfg.MailPerIP); err != nil {
		return nil, err
	}
	t, u, err := s.usableLink(ctx, tok, KindReset)
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, Errorf(CodeAccountDisabled, "this account is disabled")
	}
	hash, err := s.hashNewPassword(ctx, password, u.Email)
	if err != nil {
		return nil, err
	}
	var (
		sess    *Session
		refresh string
	)
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		sess, refresh = nil, ""
		now := s.now()
		won, err := tx.ConsumeOneTimeToken(ctx, t.Hash, KindReset, now)
		if err != nil {
			return err
		}
		if !won {
			return errBadLink()
		}
		// The link reached the mailbox: that proves the address too.
		fresh, err := s.setPassword(ctx, tx, u.ID, hash, true, MailPasswordReset)
		if err != nil {
			return err
		}
		u = fresh
		if !login {
			return nil
		}
		sess, refresh, err = s.newSession(ctx, tx, fresh, ClientFromContext(ctx).OAuthClient)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.mailQueued()
	if s.cfg.RateLimits {
		_ = s.deps.Limiter.LoginSucceeded(ctx, "login:account:"+u.EmailNorm)
	}
	s.emit(ctx, Event{Type: EventResetCompleted, UserID: u.ID})
	if sess == nil {
		return nil, nil
	}
	return s.pair(u, sess.ID, refresh)
}

// ChangePassword changes the caller's password after checking the current
// one. Every other session ends; the caller's own goes on as a new session
// with a new pair (its old refresh token stops working). The owner is
// notified.
func (s *Service) ChangePassword(ctx context.Context, p *Principal, current, next string) (*TokenPair, error) {
	u, err := s.verifyPrincipalPassword(ctx, p, current)
	if err != nil {
		return nil, err
	}
	hash, err := s.hashNewPassword(ctx, next, u.Email)
	if err != nil {
		return nil, err
	}
	var (
		sess    *Session
		refresh string
	)
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		fresh, err := s.setPassword(ctx, tx, u.ID, hash, false, MailPasswordChanged)
		if err != nil {
			return err
		}
		u = fresh
		// The caller's session goes on: it stays bound to its OAuth
		// client, so a password change cannot move a client's session out
		// of that client's hands.
		var own OAuthClient
		if old, err := tx.SessionByID(ctx, p.SessionID); err == nil {
			own = old.client()
		} else if !notFound(err) {
			return err
		}
		sess, refresh, err = s.newSession(ctx, tx, fresh, own)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.mailQueued()
	s.emit(ctx, Event{Type: EventPasswordChanged, UserID: u.ID, SessionID: sess.ID})
	return s.pair(u, sess.ID, refresh)
}

// setPassword stores a new password hash for userID inside tx: it cuts
// everything earlier off (every session, access token and emailed link)
// and queues the notification mail of kind (within the notice cap).
// confirm also marks the address confirmed (a reset link reached the
// mailbox).
func (s *Service) setPassword(ctx context.Context, tx Tx, userID, hash string, confirm bool, kind string) (*User, error) {
	now := s.now()
	u, err := tx.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	u.PasswordHash = hash
	if confirm {
		u.EmailConfirmed = true
	}
	if _, err := s.cutOff(ctx, tx, u, now); err != nil {
		return nil, err
	}
	u.UpdatedAt = now
	if err := tx.UpdateUser(ctx, u); err != nil {
		return nil, err
	}
	if err := s.notify(ctx, tx, u, kind, u.Email, MailData{}); err != nil {
		return nil, err
	}
	return u, nil
}
