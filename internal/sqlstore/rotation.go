package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/latchauth/latch/internal/auth"
)

// A refresh rotation is latch's most frequent write. As a generic
// transaction it took eight round trips (BEGIN, three reads, three writes,
// COMMIT). On PostgreSQL it is one statement (a data-modifying CTE, its
// own transaction, durable when it returns) that reads the token, session
// and user, judges them and, when they allow it, makes the conditional
// write that decides the winner: RotateRefreshTokenIfAllowed. Rotations
// that arrive together share that statement (rotation_batch.go). On
// SQLite, which has no data-modifying CTEs and runs in-process, it is the
// read, then three prepared statements in a write transaction shared with
// the rotations waiting for the writer.

// refreshStateSQL reads a refresh token with its session and user.
var refreshStateSQL = `SELECT ` + qualified("t", refreshTokenCols) + `, ` + qualified("s", sessionCols) + `, ` +
	qualified("u", userCols) + `
	FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = t.user_id
	WHERE t.hash = $1`

// rotateSQL is RotateRefreshTokenIfAllowed for a batch of rotations as
// one PostgreSQL statement (a data-modifying CTE, its own transaction,
// durable when it returns), given the batch as input, a query with one row
// per rotation. Each row of i is one rotation; n is its place in the
// batch. st is refreshStateSQL's read of each, with
// auth.RefreshRotation.Allows written as its column "allowed". s locks the
// sessions of the allowed rotations, in the order of their ids (so that
// two batches never wait for each other in a cycle), re-checking on each
// one's newest version that it is not revoked (a logout or cut-off that
// committed meanwhile wins), so that rotations of one session and its
// revocations are serialized. mark is the conditional write that picks
// exactly one winner per token: among the batch's rotations of one token,
// the first (DISTINCT ON), and against a concurrent statement, whichever
// writes first (the other re-checks used_at on the winner's version and
// matches nothing). succ and touch follow mark only.
//
// allowed is Allows term for term, on the store's microseconds (a time on
// that grid is after t exactly when it is after t truncated to it): the
// token unused; Session.Active (not revoked, ending after at and, when the
// rotation has an idle lifetime, last used after cutoff, which is at less
// that lifetime); Session.UsableBy (client_id the client's id,
// confidential whether it authenticated as confidential); the user
// enabled. A null anywhere makes it false, as the zero time does in Go.
// testRotateIfAllowedRules holds it to Allows.
func rotateSQL(input string) string {
	return `WITH i AS (` + input + `), st AS (
		SELECT i.n AS rotation_n, ` + qualified("t", refreshTokenCols) + `, ` + qualified("s", sessionCols) + `, ` + qualified("u", userCols) + `,
		(t.used_at IS NULL AND s.revoked_at IS NULL AND s.expires_at > i.at
			AND (NOT i.idle OR s.last_used_at > i.cutoff)
			AND (s.client_id = '' OR (s.client_id = i.client_id AND (i.confidential OR NOT s.client_confidential)))
			AND NOT u.disabled) IS TRUE AS allowed
		FROM i JOIN refresh_tokens t ON t.hash = i.hash JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = t.user_id
	), s AS (
		SELECT id FROM sessions WHERE id IN (SELECT session_id FROM st WHERE allowed) AND revoked_at IS NULL
		ORDER BY id FOR NO KEY UPDATE
	), w AS (
		SELECT DISTINCT ON (i.hash) i.* FROM i JOIN st ON st.rotation_n = i.n
		WHERE st.allowed AND st.session_id IN (SELECT id FROM s)
		ORDER BY i.hash, i.n
	), mark AS (
		UPDATE refresh_tokens t SET used_at = w.at, successor_hash = w.succ_hash, successor_sealed = w.succ_sealed
		FROM w WHERE t.hash = w.hash AND t.used_at IS NULL
		RETURNING w.n, t.session_id, t.user_id, w.at, w.succ_hash
	), succ AS (
		INSERT INTO refresh_tokens (hash, session_id, user_id, created_at)
		SELECT succ_hash, session_id, user_id, at FROM mark
	), touch AS (
		UPDATE sessions SET last_used_at = m.at
		FROM (SELECT session_id, max(at) AS at FROM mark GROUP BY session_id) m WHERE sessions.id = m.session_id
	)
	SELECT st.*, EXISTS (SELECT 1 FROM mark WHERE mark.n = st.rotation_n) FROM st`
}

// The input of rotateSQL. $1 to $8 are a rotation's hash, at, successor
// hash, successor sealed, idle cut-off (0 when none), whether there is an
// idle cut-off, client id and client confidential: for rotateOneSQL the
// values, for rotateSetSQL arrays of them, one element per rotation.
// PostgreSQL plans a prepared statement once (a generic plan) unless
// planning it for each execution's values looks cheaper: for arrays given
// as such it estimates each batch's size and always does, which costs
// more than a small batch's execution. Each array is read through a
// subquery, so that every batch is estimated alike and the plan is made
// once. A lone rotation has its statement, planned for one row.
var (
	rotateOneSQL = rotateSQL(`SELECT $1::BYTEA AS hash, $2::BIGINT AS at, $3::BYTEA AS succ_hash, $4::BYTEA AS succ_sealed,
		$5::BIGINT AS cutoff, $6::BOOLEAN AS idle, $7::TEXT AS client_id, $8::BOOLEAN AS confidential, 1::BIGINT AS n`)
	rotateSetSQL = rotateSQL(`SELECT * FROM unnest((SELECT $1::BYTEA[]), (SELECT $2::BIGINT[]), (SELECT $3::BYTEA[]),
			(SELECT $4::BYTEA[]), (SELECT $5::BIGINT[]), (SELECT $6::BOOLEAN[]), (SELECT $7::TEXT[]), (SELECT $8::BOOLEAN[]))
		WITH ORDINALITY AS i(hash, at, succ_hash, succ_sealed, cutoff, idle, client_id, confidential, n)`)
)

// The rotation in three statements, for SQLite's write transaction (one
// writer at a time: nothing changes between them).
const (
	rotateMarkSQL = `UPDATE refresh_tokens SET used_at = $2, successor_hash = $3, successor_sealed = $4
		WHERE hash = $1 AND session_id = $5 AND used_at IS NULL
		AND EXISTS (SELECT 1 FROM sessions WHERE id = $5 AND revoked_at IS NULL)`
	rotateSuccessorSQL = `INSERT INTO refresh_tokens (hash, session_id, user_id, created_at) VALUES ($1, $2, $3, $4)`
	rotateTouchSQL     = `UPDATE sessions SET last_used_at = $1 WHERE id = $2`
)

// qualified prefixes each column of a comma-separated list with alias.
func qualified(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// RefreshTokenState reads the refresh token with hash, its session and its
// user in one query; auth.ErrNotFound when any of them is missing.
func (db *DB) RefreshTokenState(ctx context.Context, hash []byte) (*auth.RefreshState, error) {
	const op = "refresh token state"
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	st, err := db.stmt(ctx, refreshStateSQL)
	if err != nil {
		return nil, db.mapErr(op, err)
	}
	var x refreshStateRow
	if err := st.QueryRowContext(ctx, hash).Scan(x.dest()...); err != nil {
		return nil, db.mapErr(op, err)
	}
	return x.state()
}

// refreshStateRow receives the columns of refreshStateSQL's select (a
// token, its session, its user); state turns them into a RefreshState.
type refreshStateRow struct {
	t refreshTokenRow
	s sessionRow
	u userRow
}

func (x *refreshStateRow) dest() []any {
	return append(append(x.t.dest(), x.s.dest()...), x.u.dest()...)
}

func (x *refreshStateRow) state() (*auth.RefreshState, error) {
	user, err := x.u.user()
	if err != nil {
		return nil, err
	}
	return &auth.RefreshState{Token: x.t.token(), Session: x.s.session(), User: user}, nil
}

// RotateRefreshTokenIfAllowed reads the token with r.Hash, its session and
// user, and rotates it when r.Allows them, in one atomic and durable step
// (see auth.Store). The rotations that arrive together run as one batch
// (rotation_batch.go). On PostgreSQL a batch is one statement; a
// single-writer flavour reads first, judges with r.Allows itself and
// queues only what it allows, and its batch's writes re-check what may
// have changed since the read (the token unused, the session not revoked).
func (db *DB) RotateRefreshTokenIfAllowed(ctx context.Context, r auth.RefreshRotation) (*auth.RefreshState, bool, error) {
	if !db.flavor.singleWriter {
		return db.rotateBatched(ctx, rotation{RefreshRotation: r})
	}
	st, err := db.RefreshTokenState(ctx, r.Hash)
	if err != nil || !r.Allows(st) {
		return st, false, err
	}
	_, won, err := db.rotateBatched(ctx, rotation{RefreshRotation: r, sessionID: st.Session.ID, userID: st.User.ID})
	return st, won, err
}

// rotateSet runs batch as rotateOneSQL or rotateSetSQL and answers each
// request with the state it read and whether it won; a rotation whose
// token, session or user is missing gets auth.ErrNotFound. An error of the
// statement is returned, and no request is answered.
func (db *DB) rotateSet(ctx context.Context, batch []*rotationRequest) error {
	const op = "rotate refresh token"
	n := len(batch)
	var (
		hashes, succs, sealed = make([][]byte, n), make([][]byte, n), make([][]byte, n)
		ats, cutoffs          = make([]int64, n), make([]int64, n)
		idle, confidential    = make([]bool, n), make([]bool, n)
		clients               = make([]string, n)
	)
	for i, req := range batch {
		r := req.r
		hashes[i], succs[i], ats[i] = r.Hash, r.SuccessorHash, r.At.UnixMicro()
		if len(r.SuccessorSealed) > 0 {
			sealed[i] = r.SuccessorSealed
		}
		if r.Idle > 0 {
			idle[i], cutoffs[i] = true, r.At.Add(-r.Idle).UnixMicro()
		}
		clients[i], confidential[i] = r.Client.ID, r.Client.Confidential
	}
	query, args := rotateSetSQL, []any{hashes, ats, succs, sealed, cutoffs, idle, clients, confidential}
	if n == 1 {
		query, args = rotateOneSQL, []any{hashes[0], ats[0], succs[0], bytesArg(sealed[0]), cutoffs[0], idle[0], clients[0], confidential[0]}
	}
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	type result struct {
		st  *auth.RefreshState
		won bool
	}
	results := make([]result, n)
	err := db.retryBusy(ctx, func() error {
		clear(results)
		stmt, err := db.stmt(ctx, query)
		if err != nil {
			return db.mapErr(op, err)
		}
		rows, err := stmt.QueryContext(ctx, args...)
		if err != nil {
			return db.mapErr(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				x       refreshStateRow
				k       int
				allowed bool
				won     bool
			)
			if err := rows.Scan(append(append([]any{&k}, x.dest()...), &allowed, &won)...); err != nil {
				return db.mapErr(op, err)
			}
			if k < 1 || k > n {
				return fmt.Errorf("sqlstore: %s: row for rotation %d of %d", op, k, n)
			}
			st, err := x.state()
			if err != nil {
				return err
			}
			results[k-1] = result{st, won}
		}
		return db.mapErr(op, rows.Err())
	})
	db.noteWrite(err)
	if err != nil {
		return err
	}
	for i, req := range batch {
		req.st, req.won = results[i].st, results[i].won
		if req.st == nil {
			req.err = db.mapErr(op, sql.ErrNoRows)
		}
	}
	return nil
}

// rotateInTx runs rotations in one write transaction, three prepared
// statements each, for single-writer flavours, and reports which of them
// rotated. An error rolls them all back.
func (db *DB) rotateInTx(ctx context.Context, rotations []rotation) ([]bool, error) {
	const op = "rotate refresh token"
	// Prepared before the transaction takes its connection, so that
	// preparing never waits for the pool while holding the write lock.
	var stmts [3]*sql.Stmt
	for i, q := range []string{rotateMarkSQL, rotateSuccessorSQL, rotateTouchSQL} {
		st, err := db.stmt(ctx, q)
		if err != nil {
			return nil, db.mapErr(op, err)
		}
		stmts[i] = st
	}
	won := make([]bool, len(rotations))
	err := db.Tx(ctx, func(atx auth.Tx) error {
		clear(won)
		sqltx := atx.(*tx).q.(*sql.Tx)
		var txStmts [3]*sql.Stmt
		for i, st := range stmts {
			txStmts[i] = sqltx.StmtContext(ctx, st)
		}
		run := func(st *sql.Stmt, args ...any) (int64, error) {
			res, err := st.ExecContext(ctx, args...)
			if err != nil {
				return 0, db.mapErr(op, err)
			}
			n, err := res.RowsAffected()
			return n, db.mapErr(op, err)
		}
		for i, r := range rotations {
			at := timeArg(r.At)
			n, err := run(txStmts[0], r.Hash, at, bytesArg(r.SuccessorHash), bytesArg(r.SuccessorSealed), r.sessionID)
			if err != nil {
				return err
			}
			if n == 0 {
				continue
			}
			if _, err := run(txStmts[1], r.SuccessorHash, r.sessionID, r.userID, at); err != nil {
				return err
			}
			if _, err := run(txStmts[2], at, r.sessionID); err != nil {
				return err
			}
			won[i] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return won, nil
}
