package auth

import (
	"context"
)

// Admin event types of account changes made for a user.
const (
	// EventConfirmationSent: an admin had the confirmation mail sent again.
	EventConfirmationSent = "confirmation_sent"
)

// AdminSetEmail changes a user's address at once (an admin vouches for
// it; no confirmation link): AdminUpdateUser with only Email.
func (s *Service) AdminSetEmail(ctx context.Context, actor, id, email string) (*User, error) {
	return s.AdminUpdateUser(ctx, actor, id, UserPatch{Email: &email})
}

func errEmailTaken() error {
	return Errorf(CodeEmailTaken, "this address is already in use by another account")
}

// AdminSetPassword sets a user's password (policy-checked):
// AdminUpdateUser with only Password.
func (s *Service) AdminSetPassword(ctx context.Context, actor, id, password string) (*User, error) {
	return s.AdminUpdateUser(ctx, actor, id, UserPatch{Password: &password})
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
