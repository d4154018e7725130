package sqlstore

import (
	"context"
	"database/sql"
	"strings"

	"github.com/latchauth/latch/internal/auth"
)

// A refresh rotation is latch's most frequent write. As a generic
// transaction it took eight round trips (BEGIN, three reads, three writes,
// COMMIT). On PostgreSQL it is one statement (a data-modifying CTE, its
// own transaction, durable when it returns) that reads the token, session
// and user, judges them and, when they allow it, makes the conditional
// write that decides the winner: RotateRefreshTokenIfAllowed. On SQLite,
// which has no data-modifying CTEs and runs in-process, it is the read,
// then three prepared statements in a write transaction shared with the
// rotations waiting for the writer (rotation_batch.go).

// refreshStateSQL reads a refresh token with its session and user.
var refreshStateSQL = `SELECT ` + qualified("t", refreshTokenCols) + `, ` + qualified("s", sessionCols) + `, ` +
	qualified("u", userCols) + `
	FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = t.user_id
	WHERE t.hash = $1`

// rotateIfAllowedSQL is RotateRefreshTokenIfAllowed as one PostgreSQL
// statement. st is refreshStateSQL's read, with auth.RefreshRotation.Allows
// written as its column "allowed". When allowed, s locks the session row,
// re-checking on its newest version that it is not revoked (a logout or
// cut-off that committed meanwhile wins), so that rotations of one session
// and its revocations are serialized; mark is the conditional write that
// picks exactly one winner (a concurrent loser re-checks used_at on the
// winner's version and matches nothing); succ and touch follow mark only.
// allowed is Allows term for term, on the store's microseconds (a
// time on that grid is after t exactly when it is after t truncated to it):
// the token unused; Session.Active (not revoked, ending after $5, and,
// when $6 is not null, last used after $6, which is $5 less the idle
// lifetime); Session.UsableBy ($7 the client's id, $8 whether it
// authenticated as confidential); the user enabled. A null anywhere makes
// it false, as the zero time does in Go. testRotateIfAllowedRules holds it
// to Allows.
//
// $1 hash, $2 at, $3 successor hash, $4 successor sealed, $5 at (again, as
// the time the session must be active at), $6 idle cut-off or null, $7
// client id, $8 client confidential.
var rotateIfAllowedSQL = `WITH st AS (
		SELECT ` + qualified("t", refreshTokenCols) + `, ` + qualified("s", sessionCols) + `, ` + qualified("u", userCols) + `,
		(t.used_at IS NULL AND s.revoked_at IS NULL AND s.expires_at > $5
			AND ($6::BIGINT IS NULL OR s.last_used_at > $6)
			AND (s.client_id = '' OR (s.client_id = $7 AND ($8 OR NOT s.client_confidential)))
			AND NOT u.disabled) IS TRUE AS allowed
		FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = t.user_id
		WHERE t.hash = $1
	), s AS (
		SELECT id FROM sessions WHERE id = (SELECT session_id FROM st WHERE allowed) AND revoked_at IS NULL
		FOR NO KEY UPDATE
	), mark AS (
		UPDATE refresh_tokens SET used_at = $2, successor_hash = $3, successor_sealed = $4
		WHERE hash = $1 AND used_at IS NULL AND session_id IN (SELECT id FROM s)
		RETURNING session_id, user_id
	), succ AS (
		INSERT INTO refresh_tokens (hash, session_id, user_id, created_at)
		SELECT $3, session_id, user_id, $2 FROM mark
	), touch AS (
		UPDATE sessions SET last_used_at = $2 WHERE id IN (SELECT session_id FROM mark)
	)
	SELECT st.*, (SELECT count(*) FROM mark) FROM st`

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
// (see auth.Store). On PostgreSQL that is one statement; a single-writer
// flavour reads, judges with r.Allows itself and rotates through the
// batch, whose write re-checks what may have changed since the read (the
// token unused, the session not revoked).
func (db *DB) RotateRefreshTokenIfAllowed(ctx context.Context, r auth.RefreshRotation) (*auth.RefreshState, bool, error) {
	if db.flavor.singleWriter {
		st, err := db.RefreshTokenState(ctx, r.Hash)
		if err != nil || !r.Allows(st) {
			return st, false, err
		}
		won, err := db.rotateBatched(ctx, rotation{RefreshRotation: r, sessionID: st.Session.ID, userID: st.User.ID})
		return st, won, err
	}
	const op = "rotate refresh token"
	var cutoff any // null: no idle lifetime
	if r.Idle > 0 {
		cutoff = timeArg(r.At.Add(-r.Idle))
	}
	at := timeArg(r.At)
	args := []any{r.Hash, at, bytesArg(r.SuccessorHash), bytesArg(r.SuccessorSealed), at, cutoff, r.Client.ID, r.Client.Confidential}
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	var (
		st  *auth.RefreshState
		won bool
	)
	err := db.retryBusy(ctx, func() error {
		stmt, err := db.stmt(ctx, rotateIfAllowedSQL)
		if err != nil {
			return db.mapErr(op, err)
		}
		var (
			x       refreshStateRow
			allowed bool
			n       int
		)
		if err := stmt.QueryRowContext(ctx, args...).Scan(append(x.dest(), &allowed, &n)...); err != nil {
			return db.mapErr(op, err)
		}
		won = n == 1
		st, err = x.state()
		return err
	})
	db.noteWrite(err)
	if err != nil {
		return nil, false, err
	}
	return st, won, nil
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
