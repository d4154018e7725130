package sqlstore

// Webhooks: endpoints, and the queue of deliveries written by the
// transactions that make the changes (the outbox pattern).

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchauth/latch/internal/auth"
)

var _ auth.WebhookStore = (*DB)(nil)

// eventsArg stores an event filter space separated, with a space at each
// end, for EnqueueWebhook's LIKE '% type %'.
func eventsArg(events []string) string { return " " + strings.Join(events, " ") + " " }

func eventsCol(s string) []string { return strings.Fields(s) }

const webhookCols = `id, url, events, secret_sealed, created_at, updated_at`

func scanWebhook(s scanner) (*auth.WebhookEndpoint, error) {
	var (
		e                auth.WebhookEndpoint
		events           string
		created, updated sql.NullInt64
	)
	if err := s.Scan(&e.ID, &e.URL, &events, &e.SecretSealed, &created, &updated); err != nil {
		return nil, err
	}
	e.Events = eventsCol(events)
	e.CreatedAt, e.UpdatedAt = timeCol(created), timeCol(updated)
	return &e, nil
}

// CreateWebhook inserts e; auth.ErrConflict when its id is taken.
func (db *DB) CreateWebhook(ctx context.Context, e *auth.WebhookEndpoint) error {
	return db.Tx(ctx, func(atx auth.Tx) error {
		_, err := atx.(*tx).exec(ctx, "create webhook", `INSERT INTO webhook_endpoints (`+webhookCols+`)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			e.ID, e.URL, eventsArg(e.Events), e.SecretSealed, timeArg(e.CreatedAt), timeArg(e.UpdatedAt))
		return err
	})
}

// WebhookByID reads one endpoint.
func (db *DB) WebhookByID(ctx context.Context, id string) (*auth.WebhookEndpoint, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	const op = "webhook by id"
	e, err := scanWebhook(db.db.QueryRowContext(ctx, db.q(`SELECT `+webhookCols+` FROM webhook_endpoints WHERE id = $1`), id))
	if err != nil {
		return nil, db.mapErr(op, err)
	}
	return e, nil
}

// Webhooks lists every endpoint, oldest first.
func (db *DB) Webhooks(ctx context.Context) ([]*auth.WebhookEndpoint, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	return queryRows(ctx, db.reader(), "list webhooks",
		`SELECT `+webhookCols+` FROM webhook_endpoints ORDER BY created_at, id`, scanWebhook)
}

// UpdateWebhook writes e's URL, events and UpdatedAt.
func (db *DB) UpdateWebhook(ctx context.Context, e *auth.WebhookEndpoint) error {
	return db.Tx(ctx, func(atx auth.Tx) error {
		return atx.(*tx).execOne(ctx, "update webhook", `UPDATE webhook_endpoints
			SET url = $2, events = $3, updated_at = $4 WHERE id = $1`,
			e.ID, e.URL, eventsArg(e.Events), timeArg(e.UpdatedAt))
	})
}

// DeleteWebhook deletes an endpoint and its deliveries.
func (db *DB) DeleteWebhook(ctx context.Context, id string) error {
	return db.Tx(ctx, func(atx auth.Tx) error {
		t := atx.(*tx)
		// Explicitly, not only by the cascade: it does not depend on the
		// connection's foreign key setting.
		if _, err := t.exec(ctx, "delete webhook", `DELETE FROM webhook_deliveries WHERE endpoint_id = $1`, id); err != nil {
			return err
		}
		return t.execOne(ctx, "delete webhook", `DELETE FROM webhook_endpoints WHERE id = $1`, id)
	})
}

// EnqueueWebhook queues m for every endpoint subscribed to its type, in
// one statement: with no endpoint it costs one indexless scan of a small
// table and writes nothing.
func (t *tx) EnqueueWebhook(ctx context.Context, m *auth.WebhookMessage) (int, error) {
	n, err := t.execCount(ctx, "enqueue webhook", `INSERT INTO webhook_deliveries
		(endpoint_id, message_id, event_type, user_id, payload, created_at, next_attempt_at, retry_until)
		SELECT id, CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS TEXT),
			CAST($5 AS BIGINT), CAST($5 AS BIGINT), CAST($6 AS BIGINT)
		FROM webhook_endpoints WHERE events LIKE $7 ORDER BY id`,
		m.ID, m.Type, m.UserID, string(m.Payload), m.At.UnixMicro(), m.RetryUntil.UnixMicro(),
		"% "+m.Type+" %") // types are checked names: no LIKE wildcard in them
	return int(n), err
}

const deliveryCols = `id, endpoint_id, message_id, event_type, user_id, payload, created_at, state,
	attempts, next_attempt_at, retry_until, last_attempt_at, last_status, last_latency_us, last_error, done_at`

func scanDelivery(s scanner) (*auth.WebhookDelivery, error) {
	var (
		d                             auth.WebhookDelivery
		payload                       string
		created, next, until, latency int64
		last, done                    sql.NullInt64
	)
	if err := s.Scan(&d.ID, &d.EndpointID, &d.MessageID, &d.Type, &d.UserID, &payload, &created,
		&d.State, &d.Attempts, &next, &until, &last, &d.LastStatus, &latency, &d.LastError, &done); err != nil {
		return nil, err
	}
	d.Payload = []byte(payload)
	d.CreatedAt = time.UnixMicro(created).UTC()
	d.NextAttemptAt = time.UnixMicro(next).UTC()
	d.RetryUntil = time.UnixMicro(until).UTC()
	d.LastAttemptAt, d.DoneAt = timeCol(last), timeCol(done)
	d.LastLatency = time.Duration(latency) * time.Microsecond
	return &d, nil
}

// WebhookDeliveries lists an endpoint's deliveries, newest first.
func (db *DB) WebhookDeliveries(ctx context.Context, q auth.DeliveryQuery) ([]*auth.WebhookDelivery, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	var w where
	w.add("endpoint_id = ?", q.EndpointID)
	if q.BeforeID > 0 {
		w.add("id < ?", q.BeforeID)
	}
	query := `SELECT ` + deliveryCols + ` FROM webhook_deliveries` + w.String() + ` ORDER BY id DESC`
	if q.Limit > 0 {
		w.args = append(w.args, q.Limit)
		query += " LIMIT $" + strconv.Itoa(len(w.args))
	}
	return queryRows(ctx, db.reader(), "list webhook deliveries", query, scanDelivery, w.args...)
}

// WebhookDelivery reads one delivery.
func (db *DB) WebhookDelivery(ctx context.Context, id int64) (*auth.WebhookDelivery, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	d, err := scanDelivery(db.db.QueryRowContext(ctx, db.q(`SELECT `+deliveryCols+` FROM webhook_deliveries WHERE id = $1`), id))
	if err != nil {
		return nil, db.mapErr("webhook delivery", err)
	}
	return d, nil
}

// RequeueWebhookDelivery makes a delivered or failed delivery pending
// again, with a fresh retry window; its attempts keep counting.
func (db *DB) RequeueWebhookDelivery(ctx context.Context, id int64, now, until time.Time) (bool, error) {
	var n int64
	err := db.Tx(ctx, func(atx auth.Tx) (err error) {
		n, err = atx.(*tx).execCount(ctx, "requeue webhook delivery", `UPDATE webhook_deliveries
			SET state = 'pending', next_attempt_at = $2, retry_until = $3, done_at = NULL
			WHERE id = $1 AND state <> 'pending'`, id, now.UnixMicro(), until.UnixMicro())
		return err
	})
	return n == 1, err
}

// claimWebhooksSQL leases due deliveries in one statement. The outer
// conditions repeat the inner ones so that a claimer that waited on a row
// another one just claimed (PostgreSQL re-reads the row then) skips it;
// the flavour may put a row-locking clause in place of the comment.
const claimWebhooksSQL = `UPDATE webhook_deliveries SET next_attempt_at = $2, attempts = attempts + 1
	WHERE state = 'pending' AND next_attempt_at <= $1 AND id IN (
		SELECT d.id FROM webhook_deliveries d
		WHERE d.state = 'pending' AND d.next_attempt_at <= $1 AND NOT EXISTS (
			SELECT 1 FROM webhook_deliveries e
			WHERE e.endpoint_id = d.endpoint_id AND e.user_id = d.user_id
				AND e.state = 'pending' AND e.id < d.id)
		ORDER BY d.id LIMIT $3 /*skip locked*/)
	RETURNING ` + deliveryCols

// ClaimWebhookDeliveries leases up to n due deliveries until now+lease.
func (db *DB) ClaimWebhookDeliveries(ctx context.Context, now time.Time, n int, lease time.Duration) ([]*auth.WebhookDelivery, error) {
	if n <= 0 {
		return nil, nil
	}
	query := strings.ReplaceAll(claimWebhooksSQL, "/*skip locked*/", db.flavor.skipLocked)
	var out []*auth.WebhookDelivery
	err := db.Tx(ctx, func(atx auth.Tx) (err error) {
		out, err = queryRows(ctx, atx.(*tx).reader, "claim webhook deliveries", query, scanDelivery,
			now.UnixMicro(), now.Add(lease).UnixMicro(), n)
		return err
	})
	if err != nil {
		return nil, err
	}
	// RETURNING promises no order.
	slices.SortFunc(out, func(a, b *auth.WebhookDelivery) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// RecordWebhookAttempt records an attempt's outcome if attempt still
// holds the delivery.
func (db *DB) RecordWebhookAttempt(ctx context.Context, id int64, attempt int, a auth.WebhookAttempt) (bool, error) {
	errText := a.Error
	if len(errText) > maxErrorText {
		cut := maxErrorText
		for cut > 0 && !utf8.RuneStart(errText[cut]) {
			cut--
		}
		errText = errText[:cut]
	}
	next := a.Next
	if next.IsZero() {
		next = a.At
	}
	var done any
	if a.State != auth.DeliveryPending {
		done = a.At.UnixMicro()
	}
	var n int64
	err := db.Tx(ctx, func(atx auth.Tx) (err error) {
		n, err = atx.(*tx).execCount(ctx, "record webhook attempt", `UPDATE webhook_deliveries
			SET state = $3, next_attempt_at = $4, last_attempt_at = $5, last_status = $6,
				last_latency_us = $7, last_error = $8, done_at = $9
			WHERE id = $1 AND attempts = $2 AND state = 'pending'`,
			id, attempt, a.State, next.UnixMicro(), a.At.UnixMicro(), a.Status,
			a.Latency.Microseconds(), errText, done)
		return err
	})
	return n == 1, err
}

// WebhookQueueDepth counts the pending deliveries.
func (db *DB) WebhookQueueDepth(ctx context.Context) (int, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	var n int
	if err := db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'pending'`).Scan(&n); err != nil {
		return 0, db.mapErr("webhook queue depth", err)
	}
	return n, nil
}
