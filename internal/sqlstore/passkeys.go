package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// Passkeys: WebAuthn challenges (migration 0010) and the writes on passkey
// rows of mfa_factors. A challenge's single use and a sign counter's
// advance are each one conditional UPDATE: of concurrent callers, the one
// whose statement changed the row wins.

// PasskeyChallengeByHash returns the challenge with hash, or
// auth.ErrNotFound.
func (db *DB) PasskeyChallengeByHash(ctx context.Context, hash []byte) (*auth.PasskeyChallenge, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	return db.reader().PasskeyChallengeByHash(ctx, hash)
}

// PasskeyChallengeByHash returns the challenge with hash, or
// auth.ErrNotFound.
func (r reader) PasskeyChallengeByHash(ctx context.Context, hash []byte) (*auth.PasskeyChallenge, error) {
	var (
		c                      auth.PasskeyChallenge
		userID                 sql.NullString
		created, expires, used sql.NullInt64
	)
	err := r.q.QueryRowContext(ctx, r.db.q(`SELECT hash, purpose, user_id, session_id, mfa_token_hash,
		state, created_at, expires_at, used_at FROM passkey_challenges WHERE hash = $1`), hash).
		Scan(&c.Hash, &c.Purpose, &userID, &c.SessionID, &c.MFATokenHash, &c.State, &created, &expires, &used)
	if err != nil {
		return nil, r.db.mapErr("passkey challenge by hash", err)
	}
	c.UserID = userID.String
	c.CreatedAt, c.ExpiresAt, c.UsedAt = timeCol(created), timeCol(expires), timeCol(used)
	return &c, nil
}

func (t *tx) CreatePasskeyChallenge(ctx context.Context, c *auth.PasskeyChallenge) error {
	var userID any
	if c.UserID != "" {
		userID = c.UserID
	}
	_, err := t.exec(ctx, "create passkey challenge", `INSERT INTO passkey_challenges (hash, purpose,
		user_id, session_id, mfa_token_hash, state, created_at, expires_at, used_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		c.Hash, c.Purpose, userID, c.SessionID, bytesArg(c.MFATokenHash), c.State,
		timeArg(c.CreatedAt), timeArg(c.ExpiresAt), timeArg(c.UsedAt))
	return err
}

func (t *tx) ConsumePasskeyChallenge(ctx context.Context, hash []byte, at time.Time) (bool, error) {
	n, err := t.execCount(ctx, "consume passkey challenge", `UPDATE passkey_challenges SET used_at = $2
		WHERE hash = $1 AND used_at IS NULL AND expires_at > $2`, hash, at.UnixMicro())
	return n == 1, err
}

func (t *tx) UsePasskey(ctx context.Context, id string, n int64, at time.Time) (bool, error) {
	c, err := t.execCount(ctx, "use passkey", `UPDATE mfa_factors SET last_step = $2, last_used_at = $3
		WHERE id = $1 AND kind = 'passkey' AND confirmed_at IS NOT NULL
		AND (last_step < $2 OR (last_step <= 0 AND $2 = 0))`, id, n, at.UnixMicro())
	return c == 1, err
}

func (t *tx) RenameFactor(ctx context.Context, userID, id, name string) (bool, error) {
	n, err := t.execCount(ctx, "rename factor", `UPDATE mfa_factors SET name = $3
		WHERE user_id = $1 AND id = $2`, userID, id, name)
	return n == 1, err
}

func (t *tx) DeleteFactor(ctx context.Context, userID, id string, kind auth.FactorKind) (bool, error) {
	n, err := t.execCount(ctx, "delete factor", `DELETE FROM mfa_factors
		WHERE user_id = $1 AND id = $2 AND kind = $3`, userID, id, string(kind))
	return n == 1, err
}
