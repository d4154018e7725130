package auth

import (
	"context"
	"slices"

	"github.com/latchauth/latch/internal/token"
)

// Links: the browser pages check an emailed link before showing
// its form, so that an expired or used link says so at once instead of
// after the user typed a new password.

// CheckConfirmLink reports whether tok is a usable confirmation link - a new
// account's (KindConfirm) or an email change's (KindEmailChange), which it
// returns - without using it. A bad, used or expired link, or one of a
// deleted account, is the same invalid_token error Confirm answers.
func (s *Service) CheckConfirmLink(ctx context.Context, tok string) (TokenKind, error) {
	t, _, err := s.usableLink(ctx, tok, KindConfirm, KindEmailChange)
	if err != nil {
		return "", err
	}
	return t.Kind, nil
}

// CheckResetLink reports whether tok is a usable password reset link,
// without using it (see CheckConfirmLink).
func (s *Service) CheckResetLink(ctx context.Context, tok string) error {
	_, _, err := s.usableLink(ctx, tok, KindReset)
	return err
}

// usableLink reads the unused, unexpired one-time token tok of one of kinds
// and its user, without using it. Anything else is errBadLink.
func (s *Service) usableLink(ctx context.Context, tok string, kinds ...TokenKind) (*OneTimeToken, *User, error) {
	h, ok := token.HashOpaque(tok)
	if !ok {
		return nil, nil, errBadLink()
	}
	t, err := s.deps.Store.OneTimeTokenByHash(ctx, h)
	if notFound(err) {
		return nil, nil, errBadLink()
	}
	if err != nil {
		return nil, nil, err
	}
	if !slices.Contains(kinds, t.Kind) || !t.UsedAt.IsZero() || !s.now().Before(t.ExpiresAt) {
		return nil, nil, errBadLink()
	}
	u, err := s.deps.Store.UserByID(ctx, t.UserID)
	if notFound(err) {
		return nil, nil, errBadLink()
	}
	if err != nil {
		return nil, nil, err
	}
	return t, u, nil
}
