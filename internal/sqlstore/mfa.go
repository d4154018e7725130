package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// Second factors, on the tables of migration 0006. Each single-use thing
// (a TOTP time step, a recovery code, an mfa_token) is decided by one
// conditional UPDATE: of concurrent callers, the one whose statement
// changed the row wins.

// Factors lists userID's factors, oldest first.
func (db *DB) Factors(ctx context.Context, userID string) ([]*auth.Factor, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	return db.reader().Factors(ctx, userID)
}

// RecoveryCodesLeft counts userID's unused recovery codes.
func (db *DB) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	return db.reader().RecoveryCodesLeft(ctx, userID)
}

// MFAChallengeByHash returns the challenge with hash, or auth.ErrNotFound.
func (db *DB) MFAChallengeByHash(ctx context.Context, hash []byte) (*auth.MFAChallenge, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	return db.reader().MFAChallengeByHash(ctx, hash)
}

const factorCols = `id, user_id, kind, name, secret_sealed, credential_id, last_step,
	created_at, confirmed_at, last_used_at, transports, aaguid, passkey_flags`

// Bits of mfa_factors.passkey_flags.
const (
	flagUserVerified   = 1 << 0
	flagBackupEligible = 1 << 1
	flagBackupState    = 1 << 2
)

func packFlags(f *auth.Factor) int64 {
	var n int64
	if f.UserVerified {
		n |= flagUserVerified
	}
	if f.BackupEligible {
		n |= flagBackupEligible
	}
	if f.BackupState {
		n |= flagBackupState
	}
	return n
}

// Factors lists userID's factors, oldest first.
func (r reader) Factors(ctx context.Context, userID string) ([]*auth.Factor, error) {
	const op = "factors"
	rows, err := r.q.QueryContext(ctx, r.db.q(`SELECT `+factorCols+` FROM mfa_factors
		WHERE user_id = $1 ORDER BY created_at, id`), userID)
	if err != nil {
		return nil, r.db.mapErr(op, err)
	}
	defer rows.Close()
	var out []*auth.Factor
	for rows.Next() {
		var (
			f                          auth.Factor
			kind, transports           string
			created, confirmed, usedAt sql.NullInt64
			flags                      int64
		)
		if err := rows.Scan(&f.ID, &f.UserID, &kind, &f.Name, &f.SecretSealed, &f.CredentialID,
			&f.LastStep, &created, &confirmed, &usedAt, &transports, &f.AAGUID, &flags); err != nil {
			return nil, r.db.mapErr(op, err)
		}
		f.Kind = auth.FactorKind(kind)
		f.Transports = strings.Fields(transports)
		f.UserVerified, f.BackupEligible, f.BackupState = flags&flagUserVerified != 0, flags&flagBackupEligible != 0, flags&flagBackupState != 0
		f.CreatedAt, f.ConfirmedAt, f.LastUsedAt = timeCol(created), timeCol(confirmed), timeCol(usedAt)
		out = append(out, &f)
	}
	if err := rows.Err(); err != nil {
		return nil, r.db.mapErr(op, err)
	}
	return out, nil
}

// RecoveryCodesLeft counts userID's unused recovery codes.
func (r reader) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	var n int
	err := r.q.QueryRowContext(ctx, r.db.q(`SELECT COUNT(*) FROM mfa_recovery_codes
		WHERE user_id = $1 AND used_at IS NULL`), userID).Scan(&n)
	if err != nil {
		return 0, r.db.mapErr("recovery codes left", err)
	}
	return n, nil
}

// MFAChallengeByHash returns the challenge with hash, or auth.ErrNotFound.
func (r reader) MFAChallengeByHash(ctx context.Context, hash []byte) (*auth.MFAChallenge, error) {
	var (
		c                      auth.MFAChallenge
		created, expires, used sql.NullInt64
	)
	err := r.q.QueryRowContext(ctx, r.db.q(`SELECT hash, user_id, password_binding, client_id,
		client_confidential, created_at, expires_at, used_at FROM mfa_challenges WHERE hash = $1`), hash).
		Scan(&c.Hash, &c.UserID, &c.PasswordBinding, &c.ClientID, &c.ClientConfidential, &created, &expires, &used)
	if err != nil {
		return nil, r.db.mapErr("mfa challenge by hash", err)
	}
	c.CreatedAt, c.ExpiresAt, c.UsedAt = timeCol(created), timeCol(expires), timeCol(used)
	return &c, nil
}

func (t *tx) CreateFactor(ctx context.Context, f *auth.Factor) error {
	// Recoverable: a conflict (a second TOTP factor) is an answer, and the
	// transaction goes on to report it.
	_, err := t.execRecoverable(ctx, "create factor", `INSERT INTO mfa_factors (`+factorCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		f.ID, f.UserID, string(f.Kind), f.Name, bytesArg(f.SecretSealed), bytesArg(f.CredentialID),
		f.LastStep, timeArg(f.CreatedAt), timeArg(f.ConfirmedAt), timeArg(f.LastUsedAt),
		strings.Join(f.Transports, " "), bytesArg(f.AAGUID), packFlags(f))
	return err
}

func (t *tx) ConfirmFactor(ctx context.Context, id string, step int64, at time.Time) (bool, error) {
	n, err := t.execCount(ctx, "confirm factor", `UPDATE mfa_factors
		SET confirmed_at = $3, last_step = $2, last_used_at = $3
		WHERE id = $1 AND confirmed_at IS NULL AND last_step < $2`, id, step, at.UnixMicro())
	return n == 1, err
}

func (t *tx) AdvanceFactor(ctx context.Context, id string, step int64, at time.Time) (bool, error) {
	n, err := t.execCount(ctx, "advance factor", `UPDATE mfa_factors
		SET last_step = $2, last_used_at = $3
		WHERE id = $1 AND confirmed_at IS NOT NULL AND last_step < $2`, id, step, at.UnixMicro())
	return n == 1, err
}

func (t *tx) DeleteFactors(ctx context.Context, userID string, kind auth.FactorKind) (int64, error) {
	if kind == "" {
		return t.execCount(ctx, "delete factors", `DELETE FROM mfa_factors WHERE user_id = $1`, userID)
	}
	return t.execCount(ctx, "delete factors", `DELETE FROM mfa_factors WHERE user_id = $1 AND kind = $2`,
		userID, string(kind))
}

func (t *tx) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, at time.Time) error {
	if _, err := t.exec(ctx, "delete recovery codes", `DELETE FROM mfa_recovery_codes WHERE user_id = $1`, userID); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := t.exec(ctx, "create recovery code", `INSERT INTO mfa_recovery_codes
			(user_id, hash, created_at) VALUES ($1, $2, $3)`, userID, h, at.UnixMicro()); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) UseRecoveryCode(ctx context.Context, userID string, hash []byte, at time.Time) (bool, error) {
	n, err := t.execCount(ctx, "use recovery code", `UPDATE mfa_recovery_codes SET used_at = $3
		WHERE user_id = $1 AND hash = $2 AND used_at IS NULL`, userID, hash, at.UnixMicro())
	return n == 1, err
}

func (t *tx) CreateMFAChallenge(ctx context.Context, c *auth.MFAChallenge) error {
	_, err := t.exec(ctx, "create mfa challenge", `INSERT INTO mfa_challenges (hash, user_id,
		password_binding, client_id, client_confidential, created_at, expires_at, used_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		c.Hash, c.UserID, c.PasswordBinding, c.ClientID, c.ClientConfidential,
		timeArg(c.CreatedAt), timeArg(c.ExpiresAt), timeArg(c.UsedAt))
	return err
}

func (t *tx) ConsumeMFAChallenge(ctx context.Context, hash []byte, at time.Time) (bool, error) {
	n, err := t.execCount(ctx, "consume mfa challenge", `UPDATE mfa_challenges SET used_at = $2
		WHERE hash = $1 AND used_at IS NULL AND expires_at > $2`, hash, at.UnixMicro())
	return n == 1, err
}
