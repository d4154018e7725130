package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// Signing keys: stored sealed; retiring is a conditional write, so that
// of instances racing to rotate exactly one wins.

// SigningKeys lists every stored signing key, oldest first.
func (r reader) SigningKeys(ctx context.Context) ([]*auth.SigningKey, error) {
	return queryRows(ctx, r, "signing keys", `SELECT kid, alg, private_enc, public_jwk, created_at,
		active_at, retired_at, expires_at FROM signing_keys ORDER BY created_at, kid`, scanSigningKey)
}

func scanSigningKey(s scanner) (*auth.SigningKey, error) {
	var (
		k                                 auth.SigningKey
		jwk                               string
		created, active, retired, expires sql.NullInt64
	)
	if err := s.Scan(&k.KID, &k.Alg, &k.PrivateEnc, &jwk, &created, &active, &retired, &expires); err != nil {
		return nil, err
	}
	k.PublicJWK = []byte(jwk)
	k.CreatedAt, k.ActiveAt, k.RetiredAt, k.ExpiresAt = timeCol(created), timeCol(active), timeCol(retired), timeCol(expires)
	return &k, nil
}

func (t *tx) CreateSigningKey(ctx context.Context, k *auth.SigningKey) error {
	_, err := t.exec(ctx, "create signing key", `INSERT INTO signing_keys (kid, alg, private_enc,
		public_jwk, created_at, active_at, retired_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		k.KID, k.Alg, k.PrivateEnc, string(k.PublicJWK), timeArg(k.CreatedAt), timeArg(k.ActiveAt),
		timeArg(k.RetiredAt), timeArg(k.ExpiresAt))
	return err
}

// UpdateSigningKey writes every field of k except KID and CreatedAt.
func (t *tx) UpdateSigningKey(ctx context.Context, k *auth.SigningKey) error {
	return t.execOne(ctx, "update signing key", `UPDATE signing_keys SET alg = $2, private_enc = $3,
		public_jwk = $4, active_at = $5, retired_at = $6, expires_at = $7 WHERE kid = $1`,
		k.KID, k.Alg, k.PrivateEnc, string(k.PublicJWK), timeArg(k.ActiveAt), timeArg(k.RetiredAt),
		timeArg(k.ExpiresAt))
}

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
