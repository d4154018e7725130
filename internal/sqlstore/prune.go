package sqlstore

import (
	"context"
	"time"
)

// Prune deletes one-time tokens that expired or were used before before,
// and sessions that were revoked or expired before before; their refresh
// tokens go with them (ON DELETE CASCADE).
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
	return tokens + sessions, nil
}
