package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/latchauth/latch/internal/auth"
)

// The outbox.

func (t *tx) EnqueueMail(ctx context.Context, m *auth.OutboxMessage) error {
	next := m.NextAttemptAt
	if next.IsZero() {
		next = m.CreatedAt
	}
	var nextArg int64 // zero time: due at once
	if !next.IsZero() {
		nextArg = next.UnixMicro()
	}
	var id int64
	err := t.q.QueryRowContext(ctx, t.db.q(`INSERT INTO outbox (kind, recipient, subject, body_text,
		body_html, created_at, attempts, next_attempt_at, last_error)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`),
		m.Kind, m.Message.To, m.Message.Subject, m.Message.Text, m.Message.HTML,
		timeArg(m.CreatedAt), m.Attempts, nextArg, m.LastError).Scan(&id)
	if err != nil {
		return t.db.mapErr("enqueue mail", err)
	}
	m.ID = id
	m.NextAttemptAt = next
	return nil
}

// claimMailSQL leases due messages in one statement; the flavour may put a
// row-locking clause in place of the comment.
const claimMailSQL = `UPDATE outbox SET next_attempt_at = $2
	WHERE id IN (SELECT id FROM outbox WHERE next_attempt_at <= $1 ORDER BY id LIMIT $3 /*skip locked*/)
	RETURNING id, kind, recipient, subject, body_text, body_html, created_at, attempts,
		next_attempt_at, last_error`

// maxErrorText bounds the last_error kept for a failed message.
const maxErrorText = 1000

// ClaimMail returns up to n messages due at now (next attempt at or before
// now) in the order they were enqueued, and moves their next attempt to
// now+lease so that other workers skip them until then.
func (db *DB) ClaimMail(ctx context.Context, now time.Time, n int, lease time.Duration) ([]*auth.OutboxMessage, error) {
	if n <= 0 {
		return nil, nil
	}
	const op = "claim mail"
	var out []*auth.OutboxMessage
	err := db.Tx(ctx, func(atx auth.Tx) error {
		var err error
		out, err = queryRows(ctx, atx.(*tx).reader, op, db.claimSQL, scanOutboxMessage,
			now.UnixMicro(), now.Add(lease).UnixMicro(), n)
		return err
	})
	if err != nil {
		return nil, err
	}
	// RETURNING promises no order.
	slices.SortFunc(out, func(a, b *auth.OutboxMessage) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func scanOutboxMessage(s scanner) (*auth.OutboxMessage, error) {
	var (
		m       auth.OutboxMessage
		created sql.NullInt64
		next    int64
	)
	if err := s.Scan(&m.ID, &m.Kind, &m.Message.To, &m.Message.Subject, &m.Message.Text,
		&m.Message.HTML, &created, &m.Attempts, &next, &m.LastError); err != nil {
		return nil, err
	}
	m.CreatedAt = timeCol(created)
	m.NextAttemptAt = time.UnixMicro(next).UTC()
	return &m, nil
}

// MailSent deletes a delivered message, so that no token-bearing body stays
// at rest; auth.ErrNotFound if it is gone.
func (db *DB) MailSent(ctx context.Context, id int64) error {
	return db.Tx(ctx, func(atx auth.Tx) error {
		return atx.(*tx).execOne(ctx, "mail sent", `DELETE FROM outbox WHERE id = $1`, id)
	})
}

// MailFailed counts a failed attempt, records errText (cut to 1000 bytes)
// and schedules the next attempt at next; auth.ErrNotFound if the message
// is gone.
func (db *DB) MailFailed(ctx context.Context, id int64, next time.Time, errText string) error {
	if len(errText) > maxErrorText {
		cut := maxErrorText
		for cut > 0 && !utf8.RuneStart(errText[cut]) {
			cut--
		}
		errText = errText[:cut]
	}
	return db.Tx(ctx, func(atx auth.Tx) error {
		return atx.(*tx).execOne(ctx, "mail failed", `UPDATE outbox SET attempts = attempts + 1,
			next_attempt_at = $2, last_error = $3 WHERE id = $1`, id, next.UnixMicro(), errText)
	})
}

// OutboxDepth counts the messages not yet delivered.
func (db *DB) OutboxDepth(ctx context.Context) (int, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	var n int
	if err := db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&n); err != nil {
		return 0, db.mapErr("outbox depth", err)
	}
	return n, nil
}

// MailAbandoned deletes a message the mail worker gave up on:
// like a sent one, it leaves no body behind; auth.ErrNotFound if it is
// gone.
func (db *DB) MailAbandoned(ctx context.Context, id int64) error {
	return db.Tx(ctx, func(atx auth.Tx) error {
		return atx.(*tx).execOne(ctx, "mail abandoned", `DELETE FROM outbox WHERE id = $1`, id)
	})
}
