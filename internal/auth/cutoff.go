package auth

import (
	"context"
	"time"
)

// Cut-offs: the events after which nothing handed out before may still be
// used. An emailed link is as good as a session (a reset or email-change
// link takes the account; a confirmation link logs in), so the links die
// with the sessions.

// cutOff ends everything userID was handed out before now, inside tx: every
// session ends, access tokens issued before now are refused (u's
// TokensValidAfter, which the caller writes with UpdateUser) and every
// pending emailed link (confirmation, email change, reset) stops working.
// Every such event goes through here - a password change or reset, logout
// everywhere, an admin's force logout, disable or role change - so that
// none of them forgets the links. It returns the ids of the sessions it
// ended.
func (s *Service) cutOff(ctx context.Context, tx Tx, u *User, now time.Time) ([]string, error) {
	ended, err := tx.RevokeUserSessions(ctx, u.ID, "", now)
	if err != nil {
		return nil, err
	}
	u.TokensValidAfter = now
	if err := voidLinks(ctx, tx, u.ID, now); err != nil {
		return nil, err
	}
	return ended, nil
}

// voidLinks makes every pending emailed link of userID unusable: on a
// cut-off, when the address changes (a link may have been asked for while
// someone else held the account), and when a confirmation is used (the
// other links were sent for signups that lost).
func voidLinks(ctx context.Context, tx Tx, userID string, now time.Time) error {
	return tx.VoidOneTimeTokens(ctx, userID, AllKinds, now)
}

// notify queues the notice mail of kind (someone tried to sign up with
// your address, your password changed, ...) to address to of u, unless u
// already got NoticeCap.N notices of that kind within NoticeCap.Per: a
// notice is a courtesy, and whoever can trigger one (a signup with
// someone's address) must not flood the mailbox with them. The count is
// taken under u's row lock, so concurrent requests do not overshoot it.
func (s *Service) notify(ctx context.Context, tx Tx, u *User, kind, to string, d MailData) error {
	now := s.now()
	n, err := tx.CountNotices(ctx, u.ID, kind, now.Add(-s.cfg.NoticeCap.Per))
	if err != nil {
		return err
	}
	if n >= s.cfg.NoticeCap.N {
		s.log.Info("notice mail over the per-account cap; not sent", "kind", kind, "user_id", u.ID)
		return nil
	}
	if err := tx.RecordNotice(ctx, u.ID, kind, now); err != nil {
		return err
	}
	return s.enqueue(ctx, tx, kind, to, d)
}
