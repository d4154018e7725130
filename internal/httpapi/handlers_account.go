package httpapi

import (
	"net/http"

	"github.com/latchauth/latch/internal/auth"

	"github.com/latchauth/latch/internal/wire"
)

// handleSignup: 202 confirmation_sent, or 201 and a token answer when
// confirmation is off.
func (s *server) handleSignup() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		q, err := decode[signupRequest](w, r)
		if err != nil {
			return err
		}
		res, err := s.svc.Signup(withRedirect(r, q.RedirectTo), q.Email, q.Password)
		if err != nil {
			return err
		}
		if res.Tokens != nil {
			writeTokens(w, http.StatusCreated, res.Tokens)
			return nil
		}
		encode(w, http.StatusAccepted, statusBody{Status: "confirmation_sent"})
		return nil
	})
}

// handleConfirm confirms an email: a signup's link logs in (token answer),
// an email change's answers 200 email_changed and starts no session.
func (s *server) handleConfirm() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		q, err := decode[tokenRequest](w, r)
		if err != nil {
			return err
		}
		p, err := s.svc.Confirm(r.Context(), q.Token)
		if err != nil {
			return err
		}
		if p == nil {
			encode(w, http.StatusOK, statusBody{Status: "email_changed"})
			return nil
		}
		writeTokens(w, http.StatusOK, p)
		return nil
	})
}

// handleResend answers 202 whether or not a mail was sent.
func (s *server) handleResend() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		q, err := decode[emailRequest](w, r)
		if err != nil {
			return err
		}
		if err := s.svc.ResendConfirmation(withRedirect(r, q.RedirectTo), q.Email); err != nil {
			return err
		}
		encode(w, http.StatusAccepted, statusBody{Status: "accepted"})
		return nil
	})
}

// handleMe answers the caller's user object.
func (s *server) handleMe() authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		encode(w, http.StatusOK, wire.NewUser(p.User))
		return nil
	}
}

// handleDeleteMe deletes the caller's account; it needs the password.
func (s *server) handleDeleteMe() authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		// No body at all is the common mistake: say what is missing
		// rather than that the (absent) body has no JSON type.
		q, err := decodeOptional[passwordRequest](w, r)
		if err != nil {
			return err
		}
		if q.Password == "" {
			return badRequest(`field "password" is required: deleting the account needs {"password": "<current password>"}`)
		}
		if err := s.svc.DeleteAccount(r.Context(), p, q.Password, q.Code); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// handleChangeEmail mails a confirmation link to the new address.
func (s *server) handleChangeEmail() authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		q, err := decode[changeEmailRequest](w, r)
		if err != nil {
			return err
		}
		if err := s.svc.ChangeEmail(r.Context(), p, q.NewEmail, q.Password, q.Code); err != nil {
			return err
		}
		encode(w, http.StatusAccepted, statusBody{Status: "confirmation_sent"})
		return nil
	}
}

// handleForgot answers 202 whether or not the account exists.
func (s *server) handleForgot() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		q, err := decode[emailRequest](w, r)
		if err != nil {
			return err
		}
		if err := s.svc.ForgotPassword(withRedirect(r, q.RedirectTo), q.Email); err != nil {
			return err
		}
		encode(w, http.StatusAccepted, statusBody{Status: "accepted"})
		return nil
	})
}

// handleReset completes a reset: a token answer, or only a status when the
// service does not log in after a reset.
func (s *server) handleReset() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		q, err := decode[resetRequest](w, r)
		if err != nil {
			return err
		}
		p, err := s.svc.ResetPassword(r.Context(), q.Token, q.Password)
		if err != nil {
			return err
		}
		if p == nil {
			encode(w, http.StatusOK, statusBody{Status: "password_reset"})
			return nil
		}
		writeTokens(w, http.StatusOK, p)
		return nil
	})
}

// handleChangePassword answers the caller's session's new token pair.
func (s *server) handleChangePassword() authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		q, err := decode[changePasswordRequest](w, r)
		if err != nil {
			return err
		}
		pair, err := s.svc.ChangePassword(r.Context(), p, q.CurrentPassword, q.NewPassword, q.Code)
		if err != nil {
			return err
		}
		writeTokens(w, http.StatusOK, pair)
		return nil
	}
}
