package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL defaults. They bound how long a request waits on a database
// that is down or overloaded, so that latch answers 503 quickly instead of
// piling requests up.
const (
	// pgMaxConns is the default pool size per latch process
	// (?pool_max_conns=N in the URL overrides it). Three instances stay well
	// under PostgreSQL's default max_connections of 100.
	pgMaxConns = 16
	// pgConnectTimeout bounds establishing a connection
	// (?connect_timeout=SECONDS overrides it).
	pgConnectTimeout = 3 * time.Second
	// pgOpTimeout bounds every store operation whose context has no earlier
	// deadline: waiting for a pooled connection included.
	pgOpTimeout = 5 * time.Second
	// pgStatementTimeout is the server-side statement_timeout (a URL
	// ?statement_timeout=... wins).
	pgStatementTimeout = "5s"
	// pgIdleInTxTimeout ends a session that stays idle inside a transaction,
	// so that a client that vanished cannot hold row locks for long.
	pgIdleInTxTimeout = "30s"
)

// pgMigrationLock is the pg_advisory_xact_lock key that serializes
// migrating processes ("latch" in ASCII).
const pgMigrationLock = 0x6c61746368

// flavorPostgres is PostgreSQL through github.com/jackc/pgx/v5/stdlib.
//
// Write transactions run at READ COMMITTED. Conditional writes
// (MarkRefreshTokenUsed, ConsumeOneTimeToken, RevokeSession) are single
// UPDATE ... WHERE used_at IS NULL statements: a concurrent caller waits on
// the row lock and then re-checks the condition, so exactly one wins. Inside
// a transaction, reading a user (UserByID, UserByEmail) and counting a
// user's one-time tokens lock the user's row (FOR NO KEY UPDATE, which does
// not block foreign-key checks), so that read-modify-write of a user and
// count-then-insert caps (resend, forgot) are serialized per user as they
// are on SQLite. Deadlocks and serialization failures are retried by Tx.
var flavorPostgres = &flavor{
	name:           "postgres",
	driver:         "pgx",
	migrations:     mustSub(migrationFiles, "migrations/postgres"),
	rebind:         func(q string) string { return q },
	skipLocked:     " FOR UPDATE SKIP LOCKED",
	lockMigrations: "SELECT pg_advisory_xact_lock(" + strconv.Itoa(pgMigrationLock) + ")",
	lockUser:       " FOR NO KEY UPDATE",
	savepoints:     true,
	opTimeout:      pgOpTimeout,
	classify:       classifyPostgres,
	openDB:         openPostgres,
	// Two, so that one batch executes while the other waits for its
	// commit to reach the disk. More measured slower: smaller batches,
	// each paying a statement's fixed cost (docs/benchmarks.md).
	rotationBatches: 2,
}

// postgresDSN checks a postgres:// URL and takes latch's own parameter
// (pool_max_conns) out of it. Errors never repeat the URL.
func postgresDSN(raw string) (dsn string, maxConns int, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", 0, errors.New("sqlstore: malformed postgres URL")
	}
	q := u.Query()
	maxConns = pgMaxConns
	if v := q.Get("pool_max_conns"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return "", 0, fmt.Errorf("sqlstore: pool_max_conns=%q is not a number from 1 to 1000", v)
		}
		maxConns = n
		q.Del("pool_max_conns")
		u.RawQuery = q.Encode()
	}
	return u.String(), maxConns, nil
}

// openPostgres opens a pool on a postgres:// DSN with latch's timeouts.
func openPostgres(dsn string) (*sql.DB, error) {
	dsn, maxConns, err := postgresDSN(dsn)
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx redacts the password in its parse errors.
		return nil, fmt.Errorf("sqlstore: postgres URL: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = pgConnectTimeout
	}
	setDefault := func(k, v string) {
		if _, ok := cfg.RuntimeParams[k]; !ok {
			cfg.RuntimeParams[k] = v
		}
	}
	setDefault("application_name", "latch")
	setDefault("statement_timeout", pgStatementTimeout)
	setDefault("idle_in_transaction_session_timeout", pgIdleInTxTimeout)
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(30 * time.Minute)
	return db, nil
}

// classifyPostgres sorts a pgx error by SQLSTATE, and connection failures.
func classifyPostgres(err error) errClass {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return classConflict
		case pe.Code == "23503":
			return classMissingRef
		case pe.Code == "40001", pe.Code == "40P01", pe.Code == "55P03":
			// serialization failure, deadlock, lock not available
			return classBusy
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "53"),  // insufficient resources (too many connections...)
			strings.HasPrefix(pe.Code, "57P"), // shutdown, crash, cannot connect now
			pe.Code == "57014",                // statement timeout or cancel
			pe.Code == "25006":                // read-only transaction (a standby)
			return classDown
		}
		return classOther
	}
	var ce *pgconn.ConnectError
	switch {
	case errors.As(err, &ce), pgconn.Timeout(err), pgconn.SafeToRetry(err),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, context.DeadlineExceeded):
		return classDown
	}
	if s := err.Error(); strings.Contains(s, "conn closed") || strings.Contains(s, "connection reset") ||
		strings.Contains(s, "broken pipe") {
		return classDown
	}
	return classOther
}
