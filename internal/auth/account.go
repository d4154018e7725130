package auth

import (
	"context"
	"errors"

	"github.com/latchauth/latch/internal/token"
)

// Signup creates an account. With confirmation required (the default) it
// answers the same whether or not the address already has an account: a new
// account gets a confirmation mail, an existing one a "someone tried to sign
// up" mail (or, when still unconfirmed, a fresh confirmation link).
func (s *Service) Signup(ctx context.Context, c ClientInfo, email, password string) (*SignupResult, error) {
	if err := s.limitIP(ctx, "signup", c, s.cfg.SignupPerIP); err != nil {
		return nil, err
	}
	if err := validEmail(email); err != nil {
		return nil, err
	}
	if err := s.checkPassword(password, email); err != nil {
		return nil, err
	}
	// Hash before looking the address up so that both paths cost the same.
	hash, err := s.deps.Hasher.Hash(ctx, password)
	if err != nil {
		return nil, s.hashErr(err)
	}
	now := s.now()
	u := &User{
		ID:           newUUID(),
		Email:        trimmed(email),
		EmailNorm:    NormalizeEmail(email),
		PasswordHash: hash,
		Roles:        []string{"user"},
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	var (
		taken   bool
		refresh string
		sess    *Session
	)
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		taken, refresh, sess = false, "", nil
		existing, err := tx.UserByEmail(ctx, u.EmailNorm)
		switch {
		case err == nil:
			taken = true
			if !s.cfg.RequireConfirmation {
				return nil
			}
			return s.mailExistingOwner(ctx, tx, existing)
		case !notFound(err):
			return err
		}
		if err := tx.CreateUser(ctx, u); err != nil {
			if errors.Is(err, ErrConflict) {
				taken = true
				return nil
			}
			return err
		}
		if s.cfg.RequireConfirmation {
			tok, err := s.newOneTimeToken(ctx, tx, u, KindConfirm, s.cfg.ConfirmTTL, "")
			if err != nil {
				return err
			}
			return s.enqueue(ctx, tx, MailConfirm, u.Email, MailData{Link: s.link("/confirm", tok), ExpiresIn: s.cfg.ConfirmTTL})
		}
		sess, refresh, err = s.newSession(ctx, tx, u, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	if s.cfg.RequireConfirmation {
		s.mailQueued()
		if !taken {
			s.emit(ctx, Event{Type: EventSignup, UserID: u.ID, IP: c.IP, UserAgent: c.UserAgent})
		}
		return &SignupResult{ConfirmationSent: true}, nil
	}
	if taken {
		return nil, Errorf(CodeEmailTaken, "an account with this email already exists")
	}
	s.emit(ctx, Event{Type: EventSignup, UserID: u.ID, IP: c.IP, UserAgent: c.UserAgent})
	p, err := s.pair(u, sess.ID, refresh)
	if err != nil {
		return nil, err
	}
	return &SignupResult{Tokens: p}, nil
}

// mailExistingOwner tells the owner of an address that someone tried to
// sign up with it; an unconfirmed owner gets a new confirmation link
// instead, within the resend cap.
func (s *Service) mailExistingOwner(ctx context.Context, tx Tx, u *User) error {
	if !u.EmailConfirmed {
		ok, err := s.underResendCap(ctx, tx, u)
		if err != nil || !ok {
			return err
		}
		tok, err := s.newOneTimeToken(ctx, tx, u, KindConfirm, s.cfg.ConfirmTTL, "")
		if err != nil {
			return err
		}
		return s.enqueue(ctx, tx, MailConfirm, u.Email, MailData{Link: s.link("/confirm", tok), ExpiresIn: s.cfg.ConfirmTTL})
	}
	return s.enqueue(ctx, tx, MailDuplicateSignup, u.Email, MailData{Link: s.cfg.PublicURL + "/forgot-password"})
}

// underResendCap reports whether u may get another confirmation mail: the
// signup mail plus ResendCap.N resends within ResendCap.Per.
func (s *Service) underResendCap(ctx context.Context, tx Reader, u *User) (bool, error) {
	n, err := tx.CountOneTimeTokens(ctx, u.ID, KindConfirm, s.now().Add(-s.cfg.ResendCap.Per))
	if err != nil {
		return false, err
	}
	return n < s.cfg.ResendCap.N+1, nil
}

// Confirm redeems a confirmation token (a new account's, or an email
// change's) and logs the user in.
func (s *Service) Confirm(ctx context.Context, c ClientInfo, tok string) (*TokenPair, error) {
	u, sess, refresh, err := s.confirm(ctx, c, tok, true)
	if err != nil {
		return nil, err
	}
	return s.pair(u, sess.ID, refresh)
}

// ConfirmLink redeems a confirmation token like Confirm but starts no
// session: the browser page confirms, the user logs in in their app.
func (s *Service) ConfirmLink(ctx context.Context, c ClientInfo, tok string) (*User, error) {
	u, _, _, err := s.confirm(ctx, c, tok, false)
	return u, err
}

func (s *Service) confirm(ctx context.Context, c ClientInfo, tok string, login bool) (*User, *Session, string, error) {
	if err := s.limitIP(ctx, "confirm", c, s.cfg.MailPerIP); err != nil {
		return nil, nil, "", err
	}
	h, ok := token.HashOpaque(tok)
	if !ok {
		return nil, nil, "", errBadLink()
	}
	var (
		u       *User
		sess    *Session
		refresh string
		oldAddr string
	)
	err := s.deps.Store.Tx(ctx, func(tx Tx) error {
		oldAddr, sess, refresh = "", nil, ""
		t, err := tx.OneTimeTokenByHash(ctx, h)
		if notFound(err) {
			return errBadLink()
		}
		if err != nil {
			return err
		}
		if t.Kind != KindConfirm && t.Kind != KindEmailChange {
			return errBadLink()
		}
		if u, err = tx.UserByID(ctx, t.UserID); err != nil {
			if notFound(err) {
				return errBadLink()
			}
			return err
		}
		if u.Disabled {
			return Errorf(CodeAccountDisabled, "this account is disabled")
		}
		won, err := tx.ConsumeOneTimeToken(ctx, h, t.Kind, s.now())
		if err != nil {
			return err
		}
		if !won {
			return errBadLink()
		}
		u.EmailConfirmed = true
		u.UpdatedAt = s.now()
		if t.Kind == KindEmailChange {
			oldAddr = u.Email
			u.Email = t.NewEmail
			u.EmailNorm = NormalizeEmail(t.NewEmail)
		}
		if err := tx.UpdateUser(ctx, u); err != nil {
			if errors.Is(err, ErrConflict) {
				return Errorf(CodeEmailTaken, "this address is already in use by another account")
			}
			return err
		}
		if oldAddr != "" {
			if err := s.enqueue(ctx, tx, MailEmailChanged, oldAddr, MailData{NewEmail: u.Email}); err != nil {
				return err
			}
		}
		if !login {
			return nil
		}
		sess, refresh, err = s.newSession(ctx, tx, u, c)
		return err
	})
	if err != nil {
		return nil, nil, "", err
	}
	ev := Event{Type: EventConfirm, UserID: u.ID, IP: c.IP, UserAgent: c.UserAgent}
	if sess != nil {
		ev.SessionID = sess.ID
	}
	if oldAddr != "" {
		s.mailQueued()
		ev.Type = EventEmailChanged
	}
	s.emit(ctx, ev)
	return u, sess, refresh, nil
}

func errBadLink() error {
	return Errorf(CodeInvalidToken, "this link is invalid, expired or already used; ask for a new one")
}

// ResendConfirmation mails a new confirmation link to an unconfirmed
// account. It answers the same for every address; the work happens off the
// request path.
func (s *Service) ResendConfirmation(ctx context.Context, c ClientInfo, email string) error {
	if err := s.limitIP(ctx, "resend", c, s.cfg.MailPerIP); err != nil {
		return err
	}
	norm := NormalizeEmail(email)
	return s.background(ctx, "resend", func(ctx context.Context) error {
		queued := false
		err := s.deps.Store.Tx(ctx, func(tx Tx) error {
			queued = false
			u, err := tx.UserByEmail(ctx, norm)
			if notFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			if u.EmailConfirmed || u.Disabled {
				return nil
			}
			ok, err := s.underResendCap(ctx, tx, u)
			if err != nil || !ok {
				return err
			}
			tok, err := s.newOneTimeToken(ctx, tx, u, KindConfirm, s.cfg.ConfirmTTL, "")
			if err != nil {
				return err
			}
			queued = true
			return s.enqueue(ctx, tx, MailConfirm, u.Email, MailData{Link: s.link("/confirm", tok), ExpiresIn: s.cfg.ConfirmTTL})
		})
		if queued && err == nil {
			s.mailQueued()
		}
		return err
	})
}

// ChangeEmail starts an email change: a confirmation link goes to the new
// address, and the change happens when it is confirmed. A taken address
// answers the same and changes nothing.
func (s *Service) ChangeEmail(ctx context.Context, c ClientInfo, p *Principal, newEmail, password string) error {
	u, err := s.verifyPrincipalPassword(ctx, c, p, password)
	if err != nil {
		return err
	}
	if err := validEmail(newEmail); err != nil {
		return err
	}
	norm := NormalizeEmail(newEmail)
	queued := false
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		queued = false
		if norm == u.EmailNorm {
			return nil
		}
		_, err := tx.UserByEmail(ctx, norm)
		if err == nil {
			return nil // taken: same answer, nothing changes
		}
		if !notFound(err) {
			return err
		}
		tok, err := s.newOneTimeToken(ctx, tx, u, KindEmailChange, s.cfg.ConfirmTTL, trimmed(newEmail))
		if err != nil {
			return err
		}
		queued = true
		return s.enqueue(ctx, tx, MailEmailChange, trimmed(newEmail), MailData{Link: s.link("/confirm", tok), NewEmail: trimmed(newEmail), ExpiresIn: s.cfg.ConfirmTTL})
	})
	if err != nil {
		return err
	}
	if queued {
		s.mailQueued()
	}
	s.emit(ctx, Event{Type: EventEmailChangeRequested, UserID: u.ID, SessionID: p.SessionID, IP: c.IP, UserAgent: c.UserAgent})
	return nil
}

// DeleteAccount deletes the caller's account after checking the password:
// every session and token ends and the address is free again.
func (s *Service) DeleteAccount(ctx context.Context, c ClientInfo, p *Principal, password string) error {
	u, err := s.verifyPrincipalPassword(ctx, c, p, password)
	if err != nil {
		return err
	}
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		if err := tx.DeleteUser(ctx, u.ID); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, MailAccountDeleted, u.Email, MailData{})
	})
	if err != nil {
		return err
	}
	s.mailQueued()
	s.emit(ctx, Event{Type: EventAccountDeleted, UserID: u.ID, IP: c.IP, UserAgent: c.UserAgent})
	return nil
}

// verifyPrincipalPassword re-reads the caller and checks their password.
// It is the one place that re-checks a logged-in user's password (password
// change, email change, account deletion, any step-up), and it shares
// login's per-account throttle: someone holding a stolen access token
// must not get unlimited guesses here while login allows only a few.
func (s *Service) verifyPrincipalPassword(ctx context.Context, c ClientInfo, p *Principal, password string) (*User, error) {
	u, err := s.deps.Store.UserByID(ctx, p.User.ID)
	if notFound(err) {
		return nil, errInvalidBearer("the account no longer exists")
	}
	if err != nil {
		return nil, err
	}
	if err := s.passwordAttempt(ctx, c, u.EmailNorm, u.ID); err != nil {
		return nil, err
	}
	ok, _, err := s.deps.Hasher.Verify(ctx, password, u.PasswordHash)
	if err != nil {
		return nil, s.hashErr(err)
	}
	if !ok {
		return nil, Errorf(CodeInvalidCredentials, "the password is wrong")
	}
	s.passwordSucceeded(ctx, u.EmailNorm)
	return u, nil
}
