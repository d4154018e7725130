package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Notice mails: the outbox deletes a mail once it is delivered, so the
// per-account notice caps count rows of their own (pruned with the rest).

// CountNotices counts the notices of kind recorded for userID at or after
// since.
func (db *DB) CountNotices(ctx context.Context, userID, kind string, since time.Time) (int, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	return db.reader().CountNotices(ctx, userID, kind, since)
}

// CountNotices counts the notices of kind recorded for userID at or after
// since; in a write transaction it locks the user first.
func (r reader) CountNotices(ctx context.Context, userID, kind string, since time.Time) (int, error) {
	const op = "count notices"
	if err := r.lockUserForCount(ctx, op, userID); err != nil {
		return 0, err
	}
	var n int
	err := r.q.QueryRowContext(ctx, r.db.q(`SELECT COUNT(*) FROM notices
		WHERE user_id = $1 AND kind = $2 AND sent_at >= $3`),
		userID, kind, since.UnixMicro()).Scan(&n)
	if err != nil {
		return 0, r.db.mapErr(op, err)
	}
	return n, nil
}

func (t *tx) RecordNotice(ctx context.Context, userID, kind string, at time.Time) error {
	_, err := t.exec(ctx, "record notice", `INSERT INTO notices (user_id, kind, sent_at)
		VALUES ($1, $2, $3)`, userID, kind, at.UnixMicro())
	return err
}

// lockUserForCount serves count-then-insert caps: inside a write
// transaction on a flavour with concurrent writers, it locks the user's row
// so that concurrent transactions of this user count one after the other.
// A missing user locks nothing.
func (r reader) lockUserForCount(ctx context.Context, op, userID string) error {
	if !r.inTx || r.db.flavor.lockUser == "" {
		return nil
	}
	var one int
	err := r.q.QueryRowContext(ctx, r.db.q(`SELECT 1 FROM users WHERE id = $1`+r.db.flavor.lockUser), userID).Scan(&one)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return r.db.mapErr(op, err)
	}
	return nil
}
