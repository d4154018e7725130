package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scanner is what *sql.Row and *sql.Rows share.
type scanner interface {
	Scan(dest ...any) error
}

// reader implements auth.Reader on the pool or on a transaction.
type reader struct {
	db *DB
	q  querier
	// inTx: q is a write transaction (user reads then lock the row where
	// the flavour says so).
	inTx bool
}

// tx implements auth.Tx.
type tx struct {
	reader
}

var _ auth.Tx = (*tx)(nil)

func (r reader) exec(ctx context.Context, op, query string, args ...any) (sql.Result, error) {
	res, err := r.q.ExecContext(ctx, r.db.q(query), args...)
	if err != nil {
		return nil, r.db.mapErr(op, err)
	}
	return res, nil
}

// execRecoverable runs a statement whose failure (a unique violation) the
// caller may recover from and go on with the transaction: on flavours where
// a failed statement aborts the transaction, it runs inside a savepoint.
func (r reader) execRecoverable(ctx context.Context, op, query string, args ...any) (sql.Result, error) {
	if !r.inTx || !r.db.flavor.savepoints {
		return r.exec(ctx, op, query, args...)
	}
	if _, err := r.q.ExecContext(ctx, "SAVEPOINT latch_recoverable"); err != nil {
		return nil, r.db.mapErr(op, err)
	}
	res, err := r.exec(ctx, op, query, args...)
	if err != nil {
		if _, rerr := r.q.ExecContext(ctx, "ROLLBACK TO SAVEPOINT latch_recoverable"); rerr != nil {
			return nil, r.db.mapErr(op, rerr)
		}
		return nil, err
	}
	if _, err := r.q.ExecContext(ctx, "RELEASE SAVEPOINT latch_recoverable"); err != nil {
		return nil, r.db.mapErr(op, err)
	}
	return res, nil
}

// execOne runs an update or delete that must match a row.
func (r reader) execOne(ctx context.Context, op, query string, args ...any) error {
	n, err := r.execCount(ctx, op, query, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(op)
	}
	return nil
}

// execCount runs a statement and returns how many rows it changed.
func (r reader) execCount(ctx context.Context, op, query string, args ...any) (int64, error) {
	res, err := r.exec(ctx, op, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, r.db.mapErr(op, err)
	}
	return n, nil
}

// Times are unix microseconds in UTC; the zero time is NULL.

func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func timeCol(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMicro(n.Int64).UTC()
}

// bytesArg stores an empty byte slice as NULL.
func bytesArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func rolesArg(roles []string) (string, error) {
	if len(roles) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(roles)
	if err != nil {
		return "", fmt.Errorf("sqlstore: encode roles: %w", err)
	}
	return string(b), nil
}

// metadataArg is a metadata object as stored: the bytes given, "{}" for
// none. Checking them is the service's business (auth.NormalizeMetadata).
func metadataArg(m json.RawMessage) string {
	if len(m) == 0 {
		return "{}"
	}
	return string(m)
}

// metadataCol is a stored metadata object; none ({}) reads as nil, as
// no roles do.
func metadataCol(s string) json.RawMessage {
	if s == "" || s == "{}" {
		return nil
	}
	return json.RawMessage(s)
}

func rolesCol(s string) ([]string, error) {
	var roles []string
	if err := json.Unmarshal([]byte(s), &roles); err != nil {
		return nil, fmt.Errorf("sqlstore: decode roles: %w", err)
	}
	if len(roles) == 0 {
		return nil, nil
	}
	return roles, nil
}

// Reads outside a transaction, on the pool.

func (db *DB) reader() reader { return reader{db: db, q: db.db} }

// UserByID returns the user with id, or auth.ErrNotFound.
func (db *DB) UserByID(ctx context.Context, id string) (*auth.User, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	return db.reader().UserByID(ctx, id)
}

// UserByEmail returns the user whose normalised email is emailNorm, or
// auth.ErrNotFound.
func (db *DB) UserByEmail(ctx context.Context, emailNorm string) (*auth.User, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	return db.reader().UserByEmail(ctx, emailNorm)
}

// loginUserSQL is LoginUser's one query: the user, and whether a factor
// row of theirs exists (on mfa_factors_user).
var loginUserSQL = `SELECT ` + userCols + `, EXISTS (SELECT 1 FROM mfa_factors f WHERE f.user_id = users.id)
	FROM users WHERE email_norm = $1`

// LoginUser returns the user whose normalised email is emailNorm and
// whether they have any second factor, or auth.ErrNotFound.
func (db *DB) LoginUser(ctx context.Context, emailNorm string) (*auth.User, bool, error) {
	const op = "login user"
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	st, err := db.stmt(ctx, loginUserSQL)
	if err != nil {
		return nil, false, db.mapErr(op, err)
	}
	var (
		x         userRow
		anyFactor bool
	)
	if err := st.QueryRowContext(ctx, emailNorm).Scan(append(x.dest(), &anyFactor)...); err != nil {
		return nil, false, db.mapErr(op, err)
	}
	u, err := x.user()
	if err != nil {
		return nil, false, err
	}
	return u, anyFactor, nil
}

// SessionByID returns the session with id, or auth.ErrNotFound.
func (db *DB) SessionByID(ctx context.Context, id string) (*auth.Session, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	return db.reader().SessionByID(ctx, id)
}

// SessionsByUser lists userID's sessions that are not revoked and end after
// now, newest first.
func (db *DB) SessionsByUser(ctx context.Context, userID string, now time.Time) ([]*auth.Session, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	return db.reader().SessionsByUser(ctx, userID, now)
}

// RefreshTokenByHash returns the refresh token with hash, or
// auth.ErrNotFound.
func (db *DB) RefreshTokenByHash(ctx context.Context, hash []byte) (*auth.RefreshToken, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	return db.reader().RefreshTokenByHash(ctx, hash)
}

// OneTimeTokenByHash returns the one-time token with hash, or
// auth.ErrNotFound.
func (db *DB) OneTimeTokenByHash(ctx context.Context, hash []byte) (*auth.OneTimeToken, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	return db.reader().OneTimeTokenByHash(ctx, hash)
}

// CountOneTimeTokens counts the tokens of kind issued to userID at or after
// since.
func (db *DB) CountOneTimeTokens(ctx context.Context, userID string, kind auth.TokenKind, since time.Time) (int, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	return db.reader().CountOneTimeTokens(ctx, userID, kind, since)
}

// SigningKeys lists every stored signing key, oldest first.
func (db *DB) SigningKeys(ctx context.Context) ([]*auth.SigningKey, error) {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	return db.reader().SigningKeys(ctx)
}

// Users.

const userCols = `id, email, email_norm, password_hash, email_confirmed, roles, disabled,
	created_at, updated_at, tokens_valid_after, app_metadata, user_metadata`

// userColCount is the number of userCols.
const userColCount = 12

func scanUser(s scanner) (*auth.User, error) {
	var x userRow
	if err := s.Scan(x.dest()...); err != nil {
		return nil, err
	}
	return x.user()
}

// userRow receives the userCols of a row; user turns them into a User.
// Queries that read a user with other things (a join) scan into it too.
type userRow struct {
	u                        auth.User
	roles                    string
	created, updated, cutoff sql.NullInt64
	appMeta, userMeta        string
}

func (x *userRow) dest() []any {
	return []any{&x.u.ID, &x.u.Email, &x.u.EmailNorm, &x.u.PasswordHash, &x.u.EmailConfirmed, &x.roles,
		&x.u.Disabled, &x.created, &x.updated, &x.cutoff, &x.appMeta, &x.userMeta}
}

func (x *userRow) user() (*auth.User, error) {
	u := x.u
	var err error
	if u.Roles, err = rolesCol(x.roles); err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt, u.TokensValidAfter = timeCol(x.created), timeCol(x.updated), timeCol(x.cutoff)
	u.AppMetadata, u.UserMetadata = metadataCol(x.appMeta), metadataCol(x.userMeta)
	return &u, nil
}

func (r reader) user(ctx context.Context, op, where string, arg any) (*auth.User, error) {
	query := `SELECT ` + userCols + ` FROM users WHERE ` + where
	if r.inTx {
		query += r.db.flavor.lockUser
	}
	row := r.q.QueryRowContext(ctx, r.db.q(query), arg)
	u, err := scanUser(row)
	if err != nil {
		return nil, r.db.mapErr(op, err)
	}
	return u, nil
}

// UserByID returns the user with id, or auth.ErrNotFound.
func (r reader) UserByID(ctx context.Context, id string) (*auth.User, error) {
	return r.user(ctx, "user by id", `id = $1`, id)
}

// UserByEmail returns the user whose normalised email is emailNorm, or
// auth.ErrNotFound.
func (r reader) UserByEmail(ctx context.Context, emailNorm string) (*auth.User, error) {
	return r.user(ctx, "user by email", `email_norm = $1`, emailNorm)
}

func (t *tx) CreateUser(ctx context.Context, u *auth.User) error {
	roles, err := rolesArg(u.Roles)
	if err != nil {
		return err
	}
	_, err = t.execRecoverable(ctx, "create user", `INSERT INTO users (`+userCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		u.ID, u.Email, u.EmailNorm, u.PasswordHash, u.EmailConfirmed, roles, u.Disabled,
		timeArg(u.CreatedAt), timeArg(u.UpdatedAt), timeArg(u.TokensValidAfter),
		metadataArg(u.AppMetadata), metadataArg(u.UserMetadata))
	return err
}

func (t *tx) UpdateUser(ctx context.Context, u *auth.User) error {
	roles, err := rolesArg(u.Roles)
	if err != nil {
		return err
	}
	res, err := t.execRecoverable(ctx, "update user", `UPDATE users SET email = $2, email_norm = $3,
		password_hash = $4, email_confirmed = $5, roles = $6, disabled = $7, updated_at = $8,
		tokens_valid_after = $9, app_metadata = $10, user_metadata = $11 WHERE id = $1`,
		u.ID, u.Email, u.EmailNorm, u.PasswordHash, u.EmailConfirmed, roles, u.Disabled,
		timeArg(u.UpdatedAt), timeArg(u.TokensValidAfter),
		metadataArg(u.AppMetadata), metadataArg(u.UserMetadata))
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return t.db.mapErr("update user", err)
	}
	if n == 0 {
		return notFound("update user")
	}
	return nil
}

func (t *tx) DeleteUser(ctx context.Context, id string) error {
	// Sessions, refresh tokens and one-time tokens go by ON DELETE CASCADE.
	return t.execOne(ctx, "delete user", `DELETE FROM users WHERE id = $1`, id)
}

// Sessions.

const sessionCols = `id, user_id, created_at, last_used_at, expires_at, ip, user_agent, revoked_at,
	client_id, client_confidential, amr`

func scanSession(s scanner) (*auth.Session, error) {
	var x sessionRow
	if err := s.Scan(x.dest()...); err != nil {
		return nil, err
	}
	return x.session(), nil
}

// sessionRow receives the sessionCols of a row; session turns them into a
// Session.
type sessionRow struct {
	s                               auth.Session
	created, used, expires, revoked sql.NullInt64
	amr                             string
}

func (x *sessionRow) dest() []any {
	return []any{&x.s.ID, &x.s.UserID, &x.created, &x.used, &x.expires, &x.s.IP, &x.s.UserAgent, &x.revoked,
		&x.s.ClientID, &x.s.ClientConfidential, &x.amr}
}

func (x *sessionRow) session() *auth.Session {
	s := x.s
	s.CreatedAt, s.LastUsedAt, s.ExpiresAt, s.RevokedAt = timeCol(x.created), timeCol(x.used), timeCol(x.expires), timeCol(x.revoked)
	s.AMR = strings.Fields(x.amr)
	return &s
}

// SessionByID returns the session with id, or auth.ErrNotFound.
func (r reader) SessionByID(ctx context.Context, id string) (*auth.Session, error) {
	row := r.q.QueryRowContext(ctx, r.db.q(`SELECT `+sessionCols+` FROM sessions WHERE id = $1`), id)
	s, err := scanSession(row)
	if err != nil {
		return nil, r.db.mapErr("session by id", err)
	}
	return s, nil
}

// SessionsByUser lists userID's sessions that are not revoked and end after
// now, newest first.
func (r reader) SessionsByUser(ctx context.Context, userID string, now time.Time) ([]*auth.Session, error) {
	return queryRows(ctx, r, "sessions by user", `SELECT `+sessionCols+` FROM sessions
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
		ORDER BY created_at DESC, id DESC`, scanSession, userID, now.UnixMicro())
}

func (t *tx) CreateSession(ctx context.Context, s *auth.Session) error {
	_, err := t.exec(ctx, "create session", `INSERT INTO sessions (`+sessionCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		s.ID, s.UserID, timeArg(s.CreatedAt), timeArg(s.LastUsedAt), timeArg(s.ExpiresAt),
		s.IP, s.UserAgent, timeArg(s.RevokedAt), s.ClientID, s.ClientConfidential, strings.Join(s.AMR, " "))
	return err
}

func (t *tx) TouchSession(ctx context.Context, id string, at time.Time) error {
	return t.execOne(ctx, "touch session", `UPDATE sessions SET last_used_at = $2 WHERE id = $1`,
		id, timeArg(at))
}

func (t *tx) RevokeSession(ctx context.Context, id string, at time.Time) (bool, error) {
	n, err := t.execCount(ctx, "revoke session",
		`UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`, id, timeArg(at))
	return n == 1, err
}

func (t *tx) RevokeUserSessions(ctx context.Context, userID, exceptID string, at time.Time) ([]string, error) {
	return queryRows(ctx, t.reader, "revoke user sessions", `UPDATE sessions SET revoked_at = $3
		WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL RETURNING id`,
		scanString, userID, exceptID, timeArg(at))
}

// Refresh tokens.

// RefreshTokenByHash returns the refresh token with hash, or
// auth.ErrNotFound.
func (r reader) RefreshTokenByHash(ctx context.Context, hash []byte) (*auth.RefreshToken, error) {
	var x refreshTokenRow
	err := r.q.QueryRowContext(ctx, r.db.q(`SELECT `+refreshTokenCols+` FROM refresh_tokens WHERE hash = $1`), hash).
		Scan(x.dest()...)
	if err != nil {
		return nil, r.db.mapErr("refresh token by hash", err)
	}
	return x.token(), nil
}

const refreshTokenCols = `hash, session_id, user_id, created_at, used_at, successor_hash, successor_sealed`

// refreshTokenRow receives the refreshTokenCols of a row; token turns them
// into a RefreshToken.
type refreshTokenRow struct {
	t             auth.RefreshToken
	created, used sql.NullInt64
}

func (x *refreshTokenRow) dest() []any {
	return []any{&x.t.Hash, &x.t.SessionID, &x.t.UserID, &x.created, &x.used, &x.t.SuccessorHash, &x.t.SuccessorSealed}
}

func (x *refreshTokenRow) token() *auth.RefreshToken {
	t := x.t
	t.CreatedAt, t.UsedAt = timeCol(x.created), timeCol(x.used)
	return &t
}

func (t *tx) CreateRefreshToken(ctx context.Context, x *auth.RefreshToken) error {
	_, err := t.exec(ctx, "create refresh token", `INSERT INTO refresh_tokens (hash, session_id,
		user_id, created_at, used_at, successor_hash, successor_sealed)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		x.Hash, x.SessionID, x.UserID, timeArg(x.CreatedAt), timeArg(x.UsedAt),
		bytesArg(x.SuccessorHash), bytesArg(x.SuccessorSealed))
	return err
}

func (t *tx) MarkRefreshTokenUsed(ctx context.Context, hash []byte, at time.Time, successorHash, successorSealed []byte) (bool, error) {
	n, err := t.execCount(ctx, "mark refresh token used", `UPDATE refresh_tokens
		SET used_at = $2, successor_hash = $3, successor_sealed = $4
		WHERE hash = $1 AND used_at IS NULL`,
		hash, timeArg(at), bytesArg(successorHash), bytesArg(successorSealed))
	return n == 1, err
}

// One-time tokens.

// OneTimeTokenByHash returns the one-time token with hash, or
// auth.ErrNotFound.
func (r reader) OneTimeTokenByHash(ctx context.Context, hash []byte) (*auth.OneTimeToken, error) {
	var (
		x                      auth.OneTimeToken
		kind                   string
		created, expires, used sql.NullInt64
	)
	err := r.q.QueryRowContext(ctx, r.db.q(`SELECT hash, kind, user_id, new_email, password_hash,
		created_at, expires_at, used_at FROM one_time_tokens WHERE hash = $1`), hash).
		Scan(&x.Hash, &kind, &x.UserID, &x.NewEmail, &x.PasswordHash, &created, &expires, &used)
	if err != nil {
		return nil, r.db.mapErr("one-time token by hash", err)
	}
	x.Kind = auth.TokenKind(kind)
	x.CreatedAt, x.ExpiresAt, x.UsedAt = timeCol(created), timeCol(expires), timeCol(used)
	return &x, nil
}

// CountOneTimeTokens counts the tokens of kind issued to userID at or after
// since.
func (r reader) CountOneTimeTokens(ctx context.Context, userID string, kind auth.TokenKind, since time.Time) (int, error) {
	if err := r.lockUserForCount(ctx, "count one-time tokens", userID); err != nil {
		return 0, err
	}
	var n int
	err := r.q.QueryRowContext(ctx, r.db.q(`SELECT COUNT(*) FROM one_time_tokens
		WHERE user_id = $1 AND kind = $2 AND created_at >= $3`),
		userID, string(kind), since.UnixMicro()).Scan(&n)
	if err != nil {
		return 0, r.db.mapErr("count one-time tokens", err)
	}
	return n, nil
}

func (t *tx) CreateOneTimeToken(ctx context.Context, x *auth.OneTimeToken) error {
	_, err := t.exec(ctx, "create one-time token", `INSERT INTO one_time_tokens (hash, kind, user_id,
		new_email, password_hash, created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		x.Hash, string(x.Kind), x.UserID, x.NewEmail, x.PasswordHash, timeArg(x.CreatedAt),
		timeArg(x.ExpiresAt), timeArg(x.UsedAt))
	return err
}

func (t *tx) ConsumeOneTimeToken(ctx context.Context, hash []byte, kind auth.TokenKind, at time.Time) (bool, error) {
	n, err := t.execCount(ctx, "consume one-time token", `UPDATE one_time_tokens SET used_at = $3
		WHERE hash = $1 AND kind = $2 AND used_at IS NULL AND expires_at > $3`,
		hash, string(kind), at.UnixMicro())
	return n == 1, err
}

func (t *tx) VoidOneTimeTokens(ctx context.Context, userID string, kind auth.TokenKind, at time.Time) error {
	if kind == auth.AllKinds {
		_, err := t.exec(ctx, "void one-time tokens", `UPDATE one_time_tokens SET used_at = $2
			WHERE user_id = $1 AND used_at IS NULL`, userID, timeArg(at))
		return err
	}
	_, err := t.exec(ctx, "void one-time tokens", `UPDATE one_time_tokens SET used_at = $3
		WHERE user_id = $1 AND kind = $2 AND used_at IS NULL`, userID, string(kind), timeArg(at))
	return err
}
