package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// Revocation feed reads, served by the indexes and the
// user_tombstones table of migration 0003.

// RevokedSessionsSince lists the sessions revoked at or after since, oldest
// revocation first.
func (db *DB) RevokedSessionsSince(ctx context.Context, since time.Time) ([]*auth.Session, error) {
	return db.reader().RevokedSessionsSince(ctx, since)
}

// UserCutoffsSince lists the cut-offs set and the users deleted at or after
// since, oldest first.
func (db *DB) UserCutoffsSince(ctx context.Context, since time.Time) ([]auth.UserCutoff, error) {
	return db.reader().UserCutoffsSince(ctx, since)
}

// RevokedSessionsSince lists the sessions revoked at or after since, oldest
// revocation first.
func (r reader) RevokedSessionsSince(ctx context.Context, since time.Time) ([]*auth.Session, error) {
	return queryRows(ctx, r, "revoked sessions since", `SELECT `+sessionCols+` FROM sessions
		WHERE revoked_at IS NOT NULL AND revoked_at >= $1
		ORDER BY revoked_at, id`, scanSession, since.UnixMicro())
}

// UserCutoffsSince lists the cut-offs (users.tokens_valid_after) set and the
// users deleted (user_tombstones) at or after since, oldest first.
func (r reader) UserCutoffsSince(ctx context.Context, since time.Time) ([]auth.UserCutoff, error) {
	return queryRows(ctx, r, "user cut-offs since", `SELECT id, tokens_valid_after, 0 FROM users
			WHERE tokens_valid_after IS NOT NULL AND tokens_valid_after >= $1
		UNION ALL
		SELECT user_id, deleted_at, 1 FROM user_tombstones WHERE deleted_at >= $1
		ORDER BY 2, 1, 3`, scanUserCutoff, since.UnixMicro())
}

func scanUserCutoff(s scanner) (auth.UserCutoff, error) {
	var (
		c       auth.UserCutoff
		at      sql.NullInt64
		deleted int
	)
	err := s.Scan(&c.UserID, &at, &deleted)
	c.At, c.Deleted = timeCol(at), deleted == 1
	return c, err
}
