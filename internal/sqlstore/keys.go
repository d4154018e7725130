package sqlstore

import (
	"context"
	"time"
)

// RetireSigningKey sets retired_at and expires_at on the key kid, only if it
// is not retired yet. It reports whether it did: of many concurrent callers,
// exactly one gets true (a missing key reports false).
func (t *tx) RetireSigningKey(ctx context.Context, kid string, retiredAt, expiresAt time.Time) (bool, error) {
	n, err := t.execCount(ctx, "retire signing key", `UPDATE signing_keys
		SET retired_at = $2, expires_at = $3
		WHERE kid = $1 AND retired_at IS NULL`,
		kid, timeArg(retiredAt), timeArg(expiresAt))
	return n == 1, err
}
