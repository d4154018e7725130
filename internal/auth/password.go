package auth

import (
	"time"

	"context"

	"github.com/latchauth/latch/internal/emailaddr"
)

// ForgotPassword mails a reset link when the address has an account, and
// (Config.MailUnknownAccounts) a "no account for this address" note when it
// has none. It answers the same, in the same time, whether or not it has:
// the lookup and the mail happen off the request path. A redirect_to in
// ctx rides in the link, as for Signup.
func (s *Service) ForgotPassword(ctx context.Context, email string) error {
	rt, err := s.checkRedirect(ctx)
	if err != nil {
		return err
	}
	if err := s.limitIP(ctx, "forgot", s.cfg.MailPerIP); err != nil {
		return err
	}
	addr, err := s.parseEmail(email)
	if err != nil {
		return nil // no account has that spelling, and it is no address to mail
	}
	norm := addr.Key
	return s.background(ctx, "forgot", func(ctx context.Context) error {
		ctx = ContextWithRedirect(ctx, rt)
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
			return s.enqueue(ctx, tx, MailReset, u.Email, MailData{Link: withRedirect(ctx, s.link("/reset-password", tok)), ExpiresIn: s.cfg.ResetTTL})
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
		return s.enqueue(ctx, tx, MailUnknownAccount, addr.Mail, MailData{Link: withRedirect(ctx, s.cfg.PublicURL+"/forgot-password")})
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
		sess     *Session
		refresh  string
		mfaToken string
		methods  []string
		ev       Event
	)
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		sess, refresh, mfaToken = nil, "", ""
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
		ev = Event{Type: EventResetCompleted, UserID: u.ID}
		if err := s.publish(ctx, tx, u, &ev); err != nil {
			return err
		}
		if !login {
			return nil
		}
		// A reset proves the mailbox, not the second factor: an account
		// with one gets an mfa_token for the new password instead.
		factors, err := activeFactors(ctx, tx, fresh.ID)
		if err != nil {
			return err
		}
		if len(factors) > 0 {
			if methods, err = methodsOf(ctx, tx, fresh.ID, factors); err != nil {
				return err
			}
			mfaToken, err = s.newMFAChallenge(ctx, tx, fresh, ClientFromContext(ctx).OAuthClient)
			return err
		}
		sess, refresh, err = s.newSession(ctx, tx, fresh, ClientFromContext(ctx).OAuthClient)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.mailQueued()
	// The throttle stays for an account whose second factor is still to
	// come: a reset must not buy more guesses at the code.
	if s.cfg.RateLimits && mfaToken == "" {
		_ = s.deps.Limiter.LoginSucceeded(ctx, "login:account:"+u.EmailNorm)
	}
	s.emit(ctx, ev)
	if mfaToken != "" {
		return nil, mfaRequired(mfaToken, methods)
	}
	if sess == nil {
		return nil, nil
	}
	return s.pair(u, sess.ID, refresh)
}

// ChangePassword changes the caller's password after checking the current
// one. Every other session ends; the caller's own goes on as a new session
// with a new pair (its old refresh token stops working). The owner is
// notified.
//
// code is a current second-factor code, needed when the account has one.
func (s *Service) ChangePassword(ctx context.Context, p *Principal, current, next, code string) (*TokenPair, error) {
	u, err := s.stepUp(ctx, p, current, code)
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
		ev      Event
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
		// So does how it was authenticated.
		var (
			own OAuthClient
			amr []string
		)
		if old, err := tx.SessionByID(ctx, p.SessionID); err == nil {
			own, amr = old.client(), old.AMR
		} else if !notFound(err) {
			return err
		}
		if sess, refresh, err = s.newSessionAMR(ctx, tx, fresh, own, amr); err != nil {
			return err
		}
		ev = Event{Type: EventPasswordChanged, UserID: u.ID, SessionID: sess.ID}
		return s.publish(ctx, tx, u, &ev)
	})
	if err != nil {
		return nil, err
	}
	s.mailQueued()
	s.emit(ctx, ev)
	return s.pairUntil(u, sess.ID, sess.AMR, refresh, time.Time{})
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
