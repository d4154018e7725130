package auth

import (
	"context"
	"errors"
)

// Admin event types of account changes made for a user.
const (
	// EventConfirmationSent: an admin had the confirmation mail sent again.
	EventConfirmationSent = "confirmation_sent"
)

// AdminSetEmail changes a user's address at once (an admin vouches for
// it; no confirmation link). The old address is told, every pending link
// of the account stops working, and the change is audited as
// email_changed with the actor. A taken address is CodeEmailTaken.
func (s *Service) AdminSetEmail(ctx context.Context, actor, id, email string) (*User, error) {
	addr, err := s.parseEmail(email)
	if err != nil {
		return nil, err
	}
	norm := addr.Key
	var (
		u       *User
		changed bool
	)
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		changed = false
		var err error
		if u, err = userByID(ctx, tx, id); err != nil {
			return err
		}
		if u.Email == addr.Mail {
			return nil
		}
		if other, err := tx.UserByEmail(ctx, norm); err == nil && other.ID != u.ID {
			return errEmailTaken()
		} else if err != nil && !notFound(err) {
			return err
		}
		old := u.Email
		now := s.now()
		u.Email, u.EmailNorm, u.UpdatedAt = addr.Mail, norm, now
		if err := tx.UpdateUser(ctx, u); err != nil {
			if errors.Is(err, ErrConflict) {
				return errEmailTaken()
			}
			return err
		}
		// A link mailed to the old address must not act on the account
		// any more.
		if err := voidLinks(ctx, tx, u.ID, now); err != nil {
			return err
		}
		changed = true
		return s.notify(ctx, tx, u, MailEmailChanged, old, MailData{NewEmail: u.Email})
	})
	if err != nil {
		return nil, err
	}
	if changed {
		s.mailQueued()
		s.emit(ctx, Event{Type: EventEmailChanged, UserID: u.ID, Actor: actor})
	}
	return u, nil
}

func errEmailTaken() error {
	return Errorf(CodeEmailTaken, "this address is already in use by another account")
}

// AdminCheckPassword checks a password an admin wants to set for the user
// against the policy, without setting it.
func (s *Service) AdminCheckPassword(ctx context.Context, id, password string) error {
	u, err := s.AdminUser(ctx, id)
	if err != nil {
		return err
	}
	return s.checkPassword(password, u.Email)
}

// AdminSetPassword sets a user's password (policy-checked). Every session
// ends and its access tokens are refused, every pending emailed link stops working,
// and the user is told by mail; audited as password_changed with the
// actor.
func (s *Service) AdminSetPassword(ctx context.Context, actor, id, password string) (*User, error) {
	if err := s.AdminCheckPassword(ctx, id, password); err != nil {
		return nil, err
	}
	hash, err := s.deps.Hasher.Hash(ctx, password)
	if err != nil {
		return nil, s.hashErr(err)
	}
	var u *User
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		var err error
		u, err = s.setPassword(ctx, tx, id, hash, false, MailPasswordChanged)
		if notFound(err) {
			return errNoUser()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	s.mailQueued()
	s.emit(ctx, Event{Type: EventPasswordChanged, UserID: u.ID, Actor: actor})
	return u, nil
}

// AdminSendReset mails the user a password reset link, as a forgotten
// password request would (without its per-address cap: an admin asked).
// A disabled account is CodeAccountDisabled.
func (s *Service) AdminSendReset(ctx context.Context, actor, id string) error {
	var u *User
	err := s.deps.Store.Tx(ctx, func(tx Tx) error {
		var err error
		if u, err = s.adminMailTarget(ctx, tx, id); err != nil {
			return err
		}
		tok, err := s.newOneTimeToken(ctx, tx, u, KindReset, s.cfg.ResetTTL, "")
		if err != nil {
			return err
		}
		return s.enqueue(ctx, tx, MailReset, u.Email, MailData{Link: s.link("/reset-password", tok), ExpiresIn: s.cfg.ResetTTL})
	})
	if err != nil {
		return err
	}
	s.mailQueued()
	s.emit(ctx, Event{Type: EventResetRequested, UserID: u.ID, Actor: actor})
	return nil
}

// AdminResendConfirmation mails an unconfirmed user a new confirmation
// link (older ones stop working). An address already confirmed is
// CodeInvalidRequest; a disabled account CodeAccountDisabled.
func (s *Service) AdminResendConfirmation(ctx context.Context, actor, id string) error {
	var u *User
	err := s.deps.Store.Tx(ctx, func(tx Tx) error {
		var err error
		if u, err = s.adminMailTarget(ctx, tx, id); err != nil {
			return err
		}
		if u.EmailConfirmed {
			return Errorf(CodeInvalidRequest, "the address is already confirmed")
		}
		return s.mailConfirmation(ctx, tx, u)
	})
	if err != nil {
		return err
	}
	s.mailQueued()
	s.emit(ctx, Event{Type: EventConfirmationSent, UserID: u.ID, Actor: actor})
	return nil
}

// adminMailTarget reads the user an admin has mailed: it must exist and
// be enabled.
func (s *Service) adminMailTarget(ctx context.Context, tx Tx, id string) (*User, error) {
	u, err := userByID(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, Errorf(CodeAccountDisabled, "the account is disabled; enable it first")
	}
	return u, nil
}
