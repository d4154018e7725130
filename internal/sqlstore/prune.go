package sqlstore

import (
	"context"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// Prune deletes one-time tokens that expired or were used before before,
// sessions that were revoked or expired before before (their refresh tokens
// go with them, ON DELETE CASCADE), notices recorded before before, and
// mfa_tokens that expired or were used before before.
func (t *tx) Prune(ctx context.Context, before time.Time) (int64, error) {
	b := timeArg(before)
	tokens, err := t.execCount(ctx, "prune one-time tokens", `DELETE FROM one_time_tokens
		WHERE expires_at < $1 OR (used_at IS NOT NULL AND used_at < $1)`, b)
	if err != nil {
		return 0, err
	}
	sessions, err := t.execCount(ctx, "prune sessions", `DELETE FROM sessions
		WHERE expires_at < $1 OR (revoked_at IS NOT NULL AND revoked_at < $1)`, b)
	if err != nil {
		return 0, err
	}
	notices, err := t.execCount(ctx, "prune notices", `DELETE FROM notices WHERE sent_at < $1`, b)
	if err != nil {
		return 0, err
	}
	challenges, err := t.execCount(ctx, "prune mfa challenges", `DELETE FROM mfa_challenges
		WHERE expires_at < $1 OR (used_at IS NOT NULL AND used_at < $1)`, b)
	if err != nil {
		return 0, err
	}
	return tokens + sessions + notices + challenges, nil
}

// PruneUnconfirmed deletes the unconfirmed accounts created before
// createdBefore that were sent a confirmation link and have no session
// live at now; their tokens, sessions and notices go with them (ON DELETE
// CASCADE).
func (t *tx) PruneUnconfirmed(ctx context.Context, createdBefore, now time.Time) (int64, error) {
	return t.execCount(ctx, "prune unconfirmed users", `DELETE FROM users
		WHERE NOT email_confirmed AND created_at < $1
		AND EXISTS (SELECT 1 FROM one_time_tokens o WHERE o.user_id = users.id AND o.kind = $3)
		AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = users.id
			AND s.revoked_at IS NULL AND s.expires_at > $2)`,
		timeArg(createdBefore), now.UnixMicro(), string(auth.KindConfirm))
}
