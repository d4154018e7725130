package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/latchauth/latch/internal/auth"
)

// A refresh rotation is latch's most frequent write. As a generic
// transaction it took eight round trips (BEGIN, three reads, three writes,
// COMMIT); here it takes two store calls: one read of the token, session
// and user joined, and one conditional write that decides the winner.
// On PostgreSQL that write is one statement (a data-modifying CTE, its own
// transaction, durable when it returns); on SQLite, which has no
// data-modifying CTEs and runs in-process, it is three prepared statements
// in a write transaction shared with the rotations waiting for the writer
// (rotation_batch.go).

// refreshStateSQL reads a refresh token with its session and user.
var refreshStateSQL = `SELECT ` + qualified("t", refreshTokenCols) + `, ` + qualified("s", sessionCols) + `, ` +
	qualified("u", userCols) + `
	FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = t.user_id
	WHERE t.hash = $1`

// rotateSQL is RotateRefreshToken as one PostgreSQL statement. s locks the
// session row first, re-checking on its newest version that it is not
// revoked (a logout or cut-off that committed meanwhile wins), so that
// rotations of one session and its revocations are serialized; mark is the
// conditional write that picks exactly one winner (a concurrent loser
// re-checks used_at on the winner's version and matches nothing); succ and
// touch follow mark only.
//
// $1 hash, $2 at, $3 successor hash, $4 successor sealed, $5 session id,
// $6 user id.
const rotateSQL = `WITH s AS (
		SELECT id FROM sessions WHERE id = $5 AND revoked_at IS NULL FOR NO KEY UPDATE
	), mark AS (
		UPDATE refresh_tokens SET used_at = $2, successor_hash = $3, successor_sealed = $4
		WHERE hash = $1 AND session_id = $5 AND used_at IS NULL AND EXISTS (SELECT 1 FROM s)
		RETURNING session_id
	), succ AS (
		INSERT INTO refresh_tokens (hash, session_id, user_id, created_at)
		SELECT $3, session_id, $6, $2 FROM mark
	), touch AS (
		UPDATE sessions SET last_used_at = $2 WHERE id IN (SELECT session_id FROM mark)
	)
	SELECT count(*) FROM mark`

// The same in three statements, for SQLite's write transaction (one writer
// at a time: nothing changes between them). The mark takes rotateSQL's $1
// to $5.
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
	var (
		t refreshTokenRow
		s sessionRow
		u userRow
	)
	dest := append(append(t.dest(), s.dest()...), u.dest()...)
	if err := st.QueryRowContext(ctx, hash).Scan(dest...); err != nil {
		return nil, db.mapErr(op, err)
	}
	user, err := u.user()
	if err != nil {
		return nil, err
	}
	return &auth.RefreshState{Token: t.token(), Session: s.session(), User: user}, nil
}

// RotateRefreshToken rotates a refresh token in one atomic, durable step
// (see auth.Store): it reports whether it did, and false changed nothing.
func (db *DB) RotateRefreshToken(ctx context.Context, r auth.Rotation) (bool, error) {
	const op = "rotate refresh token"
	if db.flavor.singleWriter {
		return db.rotateBatched(ctx, r)
	}
	args := []any{r.Hash, timeArg(r.At), bytesArg(r.SuccessorHash), bytesArg(r.SuccessorSealed), r.SessionID, r.UserID}
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	var won bool
	err := db.retryBusy(ctx, func() error {
		st, err := db.stmt(ctx, rotateSQL)
		if err != nil {
			return db.mapErr(op, err)
		}
		var n int
		if err := st.QueryRowContext(ctx, args...).Scan(&n); err != nil {
			return db.mapErr(op, err)
		}
		won = n == 1
		return nil
	})
	db.noteWrite(err)
	return won, err
}

// rotateInTx runs rotations in one write transaction, three prepared
// statements each, for single-writer flavours, and reports which of them
// rotated. An error rolls them all back.
func (db *DB) rotateInTx(ctx context.Context, rotations []auth.Rotation) ([]bool, error) {
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
			n, err := run(txStmts[0], r.Hash, at, bytesArg(r.SuccessorHash), bytesArg(r.SuccessorSealed), r.SessionID)
			if err != nil {
				return err
			}
			if n == 0 {
				continue
			}
			if _, err := run(txStmts[1], r.SuccessorHash, r.SessionID, r.UserID, at); err != nil {
				return err
			}
			if _, err := run(txStmts[2], at, r.SessionID); err != nil {
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
