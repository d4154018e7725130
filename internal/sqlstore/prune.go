package sqlstore

import (
	"context"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// Prune deletes one-time tokens that expired or were used before before,
// sessions that were revoked or expired before before (their refresh tokens
// go with them, ON DELETE CASCADE), notices recorded before before, and
// mfa_tokens that expired or were used before before, and webhook
// deliveries done (delivered or failed) before before.
func (t *tx) Prune(ctx context.Context, before time.Time) (int64, error) {
	b := timeArg(before)
	var total int64
	for _, p := range prunes {
		n, err := t.execCount(ctx, "prune "+p.what, p.query, b)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// prunes are Prune's statements: each deletes what ended before $1.
var prunes = []struct{ what, query string }{
	{"one-time tokens", `DELETE FROM one_time_tokens
		WHERE expires_at < $1 OR (used_at IS NOT NULL AND used_at < $1)`},
	{"sessions", `DELETE FROM sessions
		WHERE expires_at < $1 OR (revoked_at IS NOT NULL AND revoked_at < $1)`},
	{"notices", `DELETE FROM notices WHERE sent_at < $1`},
	{"mfa challenges", `DELETE FROM mfa_challenges
		WHERE expires_at < $1 OR (used_at IS NOT NULL AND used_at < $1)`},
	{"passkey challenges", `DELETE FROM passkey_challenges
		WHERE expires_at < $1 OR (used_at IS NOT NULL AND used_at < $1)`},
	{"auth codes", `DELETE FROM oauth_codes
		WHERE expires_at < $1 OR (used_at IS NOT NULL AND used_at < $1)`},
	{"browser sessions", `DELETE FROM browser_sessions
		WHERE expires_at < $1 OR (revoked_at IS NOT NULL AND revoked_at < $1)`},
	// Webhook deliveries delivered or given up on: their history is kept
	// as long as the rest.
	{"webhook deliveries", `DELETE FROM webhook_deliveries
		WHERE state <> 'pending' AND done_at < $1`},
}

// PruneUnconfirmed examines the next limit accounts, in id order after
// after, that hold a confirmation link, and deletes those unconfirmed,
// created before createdBefore and without a session live at now; their
// tokens, sessions and notices go with them (ON DELETE CASCADE). Both
// statements walk the one_time_tokens_kind_user index over at most limit
// accounts, so a batch costs the same on a table of any size.
func (t *tx) PruneUnconfirmed(ctx context.Context, createdBefore, now time.Time, after string, limit int) (int64, string, error) {
	kind := string(auth.KindConfirm)
	ids, err := queryRows(ctx, t.reader, "prune unconfirmed users", `SELECT DISTINCT user_id FROM one_time_tokens
		WHERE kind = $1 AND user_id > $2 ORDER BY user_id LIMIT $3`, scanString, kind, after, limit)
	if err != nil || len(ids) == 0 {
		return 0, "", err
	}
	last := ids[len(ids)-1]
	n, err := t.execCount(ctx, "prune unconfirmed users", `DELETE FROM users
		WHERE id IN (SELECT user_id FROM one_time_tokens WHERE kind = $3 AND user_id > $4 AND user_id <= $5)
		AND NOT email_confirmed AND created_at < $1
		AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = users.id
			AND s.revoked_at IS NULL AND s.expires_at > $2)`,
		timeArg(createdBefore), now.UnixMicro(), kind, after, last)
	if err != nil {
		return 0, "", err
	}
	if len(ids) < limit {
		last = ""
	}
	return n, last, nil
}
