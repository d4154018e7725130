package auth

import (
	"context"
	"errors"

	"github.com/latchauth/latch/internal/token"
)

// Signup creates an account. With confirmation required (the default) it
// answers the same whether or not the address already has an account: a new
// account gets a confirmation mail, an existing one a "someone tried to sign
// up" mail (or, when still unconfirmed, a fresh confirmation link that
// activates this signup's password). A redirect_to in ctx
// (ContextWithRedirect) must pass RedirectAllowed and rides in the links.
func (s *Service) Signup(ctx context.Context, email, password string) (*SignupResult, error) {
	if _, err := s.checkRedirect(ctx); err != nil {
		return nil, err
	}
	if err := s.limitIP(ctx, "signup", s.cfg.SignupPerIP); err != nil {
		return nil, err
	}
	addr, err := s.parseEmail(email)
	if err != nil {
		return nil, err
	}
	if err := s.checkPassword(password, addr.Mail); err != nil {
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
		Email:        addr.Mail,
		EmailNorm:    addr.Key,
		PasswordHash: hash,
		Roles:        []string{"user"},
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	var (
		taken   bool
		refresh string
		sess    *Session
		ev      Event
	)
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		taken, refresh, sess = false, "", nil
		ev = Event{Type: EventSignup, UserID: u.ID}
		existing, err := tx.UserByEmail(ctx, u.EmailNorm)
		switch {
		case err == nil:
			taken = true
			if !s.cfg.RequireConfirmation {
				return nil
			}
			return s.mailExistingOwner(ctx, tx, existing, hash)
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
		if err := s.publish(ctx, tx, u, &ev); err != nil {
			return err
		}
		if s.cfg.RequireConfirmation {
			return s.mailConfirmation(ctx, tx, u)
		}
		sess, refresh, err = s.newSession(ctx, tx, u, ClientFromContext(ctx).OAuthClient)
		return err
	})
	if err != nil {
		return nil, err
	}
	if s.cfg.RequireConfirmation {
		s.mailQueued()
		if !taken {
			s.emit(ctx, ev)
		}
		return &SignupResult{ConfirmationSent: true}, nil
	}
	if taken {
		return nil, Errorf(CodeEmailTaken, "an account with this email already exists")
	}
	s.emit(ctx, ev)
	p, err := s.pair(u, sess.ID, refresh)
	if err != nil {
		return nil, err
	}
	return &SignupResult{Tokens: p}, nil
}

// mailExistingOwner tells the owner of an address that someone tried to
// sign up with it (within the notice cap). An unconfirmed account instead
// takes hash, the password of this latest signup, and gets a new
// confirmation link (within the resend cap) that activates it: nobody has
// proved the address yet, so the signup whose link is clicked in the
// mailbox decides the password, and an earlier squatter's password does not
// survive the owner's own signup and confirmation.
func (s *Service) mailExistingOwner(ctx context.Context, tx Tx, u *User, hash string) error {
	if !u.EmailConfirmed {
		u.PasswordHash = hash
		u.UpdatedAt = s.now()
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		ok, err := s.underResendCap(ctx, tx, u)
		if err != nil || !ok {
			return err
		}
		return s.mailConfirmation(ctx, tx, u)
	}
	return s.notify(ctx, tx, u, MailDuplicateSignup, u.Email, MailData{Link: withRedirect(ctx, s.cfg.PublicURL+"/forgot-password")})
}

// mailConfirmation queues a confirmation mail to u with a new link (older
// links of u stop working), carrying the redirect_to of ctx.
func (s *Service) mailConfirmation(ctx context.Context, tx Tx, u *User) error {
	tok, err := s.newOneTimeToken(ctx, tx, u, KindConfirm, s.cfg.ConfirmTTL, "")
	if err != nil {
		return err
	}
	return s.enqueue(ctx, tx, MailConfirm, u.Email, MailData{Link: withRedirect(ctx, s.link("/confirm", tok)), ExpiresIn: s.cfg.ConfirmTTL})
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

// Confirm redeems a confirmation token. A new account's link logs the user
// in. An email change's link changes the address and answers a nil pair:
// whoever clicks it proves only that they read the new mailbox, not that
// they hold the account, so it starts no session.
func (s *Service) Confirm(ctx context.Context, tok string) (*TokenPair, error) {
	u, sess, refresh, err := s.confirm(ctx, tok, true)
	if err != nil {
		return nil, err
	}
	if sess == nil {
		return nil, nil
	}
	return s.pair(u, sess.ID, refresh)
}

// ConfirmLink redeems a confirmation token like Confirm but starts no
// session: the browser page confirms, the user logs in in their app.
func (s *Service) ConfirmLink(ctx context.Context, tok string) (*User, error) {
	u, _, _, err := s.confirm(ctx, tok, false)
	return u, err
}

func (s *Service) confirm(ctx context.Context, tok string, login bool) (*User, *Session, string, error) {
	if err := s.limitIP(ctx, "confirm", s.cfg.MailPerIP); err != nil {
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
		ev      Event
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
		now := s.now()
		u.EmailConfirmed = true
		u.UpdatedAt = now
		if t.Kind == KindEmailChange {
			// The address was checked when the change was asked for; it
			// fails here only if LATCH_UNICODE_EMAIL was turned off since.
			addr, err := s.parseEmail(t.NewEmail)
			if err != nil {
				return errBadLink()
			}
			oldAddr = u.Email
			u.Email, u.EmailNorm = addr.Mail, addr.Key
		}
		if t.Kind == KindConfirm && t.PasswordHash != "" && t.PasswordHash != u.PasswordHash {
			// The link activates the password of the signup that sent
			// it; like any password change, that ends what the other
			// password was handed.
			u.PasswordHash = t.PasswordHash
			if _, err := s.cutOff(ctx, tx, u, now); err != nil {
				return err
			}
		} else if err := voidLinks(ctx, tx, u.ID, now); err != nil {
			return err
		}
		if err := tx.UpdateUser(ctx, u); err != nil {
			if errors.Is(err, ErrConflict) {
				return Errorf(CodeEmailTaken, "this address is already in use by another account")
			}
			return err
		}
		if oldAddr != "" {
			if err := s.notify(ctx, tx, u, MailEmailChanged, oldAddr, MailData{NewEmail: u.Email}); err != nil {
				return err
			}
		}
		if login && t.Kind == KindConfirm {
			if sess, refresh, err = s.newSession(ctx, tx, u, ClientFromContext(ctx).OAuthClient); err != nil {
				return err
			}
		}
		ev = Event{Type: EventConfirm, UserID: u.ID}
		if sess != nil {
			ev.SessionID = sess.ID
		}
		if oldAddr != "" {
			ev.Type = EventEmailChanged
		}
		return s.publish(ctx, tx, u, &ev)
	})
	if err != nil {
		return nil, nil, "", err
	}
	if oldAddr != "" {
		s.mailQueued()
	}
	s.emit(ctx, ev)
	return u, sess, refresh, nil
}

func errBadLink() error {
	return Errorf(CodeInvalidToken, "this link is invalid, expired or already used; ask for a new one")
}

// ResendConfirmation mails a new confirmation link to an unconfirmed
// account. It answers the same for every address; the work happens off the
// request path. A redirect_to in ctx rides in the link, as for Signup.
func (s *Service) ResendConfirmation(ctx context.Context, email string) error {
	rt, err := s.checkRedirect(ctx)
	if err != nil {
		return err
	}
	if err := s.limitIP(ctx, "resend", s.cfg.MailPerIP); err != nil {
		return err
	}
	addr, err := s.parseEmail(email)
	if err != nil {
		return nil // no account has that spelling: the same answer as any other
	}
	norm := addr.Key
	return s.background(ctx, "resend", func(ctx context.Context) error {
		ctx = ContextWithRedirect(ctx, rt)
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
			queued = true
			return s.mailConfirmation(ctx, tx, u)
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
//
// code is a current second-factor code, needed when the account has one.
func (s *Service) ChangeEmail(ctx context.Context, p *Principal, newEmail, password, code string) error {
	u, err := s.stepUp(ctx, p, password, code)
	if err != nil {
		return err
	}
	addr, err := s.parseEmail(newEmail)
	if err != nil {
		return err
	}
	norm := addr.Key
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
		tok, err := s.newOneTimeToken(ctx, tx, u, KindEmailChange, s.cfg.ConfirmTTL, addr.Mail)
		if err != nil {
			return err
		}
		queued = true
		return s.enqueue(ctx, tx, MailEmailChange, addr.Mail, MailData{Link: s.link("/confirm", tok), NewEmail: addr.Mail, ExpiresIn: s.cfg.ConfirmTTL})
	})
	if err != nil {
		return err
	}
	if queued {
		s.mailQueued()
	}
	s.emit(ctx, Event{Type: EventEmailChangeRequested, UserID: u.ID, SessionID: p.SessionID})
	return nil
}

// DeleteAccount deletes the caller's account after checking the password:
// every session and token ends and the address is free again.
//
// code is a current second-factor code, needed when the account has one.
func (s *Service) DeleteAccount(ctx context.Context, p *Principal, password, code string) error {
	u, err := s.stepUp(ctx, p, password, code)
	if err != nil {
		return err
	}
	ev := Event{Type: EventAccountDeleted, UserID: u.ID}
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		if err := tx.DeleteUser(ctx, u.ID); err != nil {
			return err
		}
		// The webhook says whose address it was; the audit row, kept
		// after the account, does not.
		gone := Event{Type: ev.Type, UserID: u.ID, Details: map[string]string{"email": u.Email}, auditedElsewhere: true}
		if err := s.publish(ctx, tx, nil, &gone); err != nil {
			return err
		}
		ev.At, ev.queued, ev.deliveries = gone.At, gone.queued, gone.deliveries
		if err := s.appendAudit(ctx, tx, &ev); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, MailAccountDeleted, u.Email, MailData{})
	})
	if err != nil {
		return err
	}
	s.mailQueued()
	s.emit(ctx, ev)
	return nil
}

// verifyPrincipalPassword re-reads the caller and checks their password.
// It is the one place that re-checks a logged-in user's password (password
// change, email change, account deletion, any step-up), and it shares
// login's per-account throttle: someone holding a stolen access token
// must not get unlimited guesses here while login allows only a few. It
// does not clear the throttle: stepUp does, once the second factor (if
// any) was right too.
func (s *Service) verifyPrincipalPassword(ctx context.Context, p *Principal, password string) (*User, error) {
	u, err := s.deps.Store.UserByID(ctx, p.User.ID)
	if notFound(err) {
		return nil, errInvalidBearer("the account no longer exists")
	}
	if err != nil {
		return nil, err
	}
	if err := s.passwordAttempt(ctx, u.EmailNorm, u.ID); err != nil {
		return nil, err
	}
	ok, _, err := s.deps.Hasher.Verify(ctx, password, u.PasswordHash)
	if err != nil {
		return nil, s.hashErr(err)
	}
	if !ok {
		return nil, Errorf(CodeInvalidCredentials, "the password is wrong")
	}
	return u, nil
}
