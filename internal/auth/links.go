package auth

import (
	"context"

	"github.com/latchauth/latch/internal/token"
)

// Links (issue 3): the browser pages check an emailed link before showing
// its form, so that an expired or used link says so at once instead of
// after the user typed a new password.

// CheckConfirmLink reports whether tok is a usable confirmation link - a new
// account's (KindConfirm) or an email change's (KindEmailChange), which it
// returns - without using it. A bad, used or expired link, or one of a
// deleted account, is the same invalid_token error Confirm answers.
func (s *Service) CheckConfirmLink(ctx context.Context, tok string) (TokenKind, error) {
	t, err := s.usableLink(ctx, tok)
	if err != nil {
		return "", err
	}
	if t.Kind != KindConfirm && t.Kind != KindEmailChange {
		return "", errBadLink()
	}
	return t.Kind, nil
}

// CheckResetLink reports whether tok is a usable password reset link,
// without using it (see CheckConfirmLink).
func (s *Service) CheckResetLink(ctx context.Context, tok string) error {
	t, err := s.usableLink(ctx, tok)
	if err != nil {
		return err
	}
	if t.Kind != KindReset {
		return errBadLink()
	}
	return nil
}

func (s *Service) usableLink(ctx context.Context, tok string) (*OneTimeToken, error) {
	h, ok := token.HashOpaque(tok)
	if !ok {
		return nil, errBadLink()
	}
	t, err := s.deps.Store.OneTimeTokenByHash(ctx, h)
	if notFound(err) {
		return nil, errBadLink()
	}
	if err != nil {
		return nil, err
	}
	if !t.UsedAt.IsZero() || !s.now().Before(t.ExpiresAt) {
		return nil, errBadLink()
	}
	if _, err := s.deps.Store.UserByID(ctx, t.UserID); err != nil {
		if notFound(err) {
			return nil, errBadLink()
		}
		return nil, err
	}
	return t, nil
}
