// Package sqlstore implements latch's auth.Store and auth.Outbox on
// database/sql.
//
// One implementation serves every SQL database latch supports; what differs
// between them (placeholder style, DDL, how errors are told apart, locking)
// lives in a small flavor value, after dexidp/dex's storage/sql: SQLite
// through modernc.org/sqlite (pure Go) and PostgreSQL through
// github.com/jackc/pgx/v5/stdlib.
//
// Queries are written with PostgreSQL's numbered placeholders ($1, $2, ...);
// the SQLite flavour rewrites them to SQLite's ?1, ?2, ... once per query.
// Each flavour has its own embedded migrations (migrations/sqlite,
// migrations/postgres) with the same version numbers.
//
// Times are stored as INTEGER unix microseconds in UTC, the zero time as
// NULL, so comparisons are exact and portable; they are returned in UTC,
// truncated to the microsecond.
//
// Errors wrap auth.ErrNotFound (no such row, or a row referring to a missing
// one), auth.ErrConflict (unique violation) and auth.ErrStoreDown (the
// database cannot be reached or stayed locked), so callers tell them apart
// with errors.Is; the driver's error stays in the chain for the log.
//
// Conditional writes (RevokeSession, MarkRefreshTokenUsed,
// RotateRefreshTokenIfAllowed, ConsumeOneTimeToken) report false, not an error, when
// no row matched, a missing row included. Plain updates and deletes of a missing row
// (UpdateUser, DeleteUser, TouchSession, UpdateSigningKey, MailSent,
// MailFailed) return auth.ErrNotFound.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// Connection pool size: SQLite has one writer at a time, a few connections
// are enough for concurrent readers in WAL mode.
const maxConns = 4

// maxTxAttempts is how many times Tx runs fn when the database reports lock
// contention.
const maxTxAttempts = 4

// defaultBusyTimeout is how long SQLite waits for a lock held by another
// process before reporting SQLITE_BUSY.
const defaultBusyTimeout = 5 * time.Second

// DB is a latch store on a SQL database. It is safe for concurrent use.
type DB struct {
	db     *sql.DB
	flavor *flavor
	now    func() time.Time // clock for migration records

	// wlock, when the flavour has a single writer, holds the right to
	// write: a buffered channel of one so that waiting honours contexts.
	wlock chan struct{}

	queries sync.Map // query as written -> query for the flavour
	stmts   sync.Map // query as written -> *sql.Stmt (see stmt)

	// rotations groups concurrent refresh rotations into one transaction
	// (rotation_batch.go).
	rotations rotationQueue
	claimSQL  string

	// onRetry, when set (by tests), is called before Tx retries.
	onRetry func(attempt int, err error)

	writes writeHealth // for readiness
}

var (
	_ auth.Store  = (*DB)(nil)
	_ auth.Outbox = (*DB)(nil)
)

// options are Open's knobs that only tests change.
type options struct {
	busyTimeout time.Duration
}

// Open opens the database named by url:
//
//	sqlite:PATH, sqlite://PATH   an SQLite file (sqlite:///abs/path.db for an absolute path)
//	file:PATH                    an SQLite URI (see https://www.sqlite.org/uri.html)
//	PATH.db                      a bare path ending in .db
//	postgres://, postgresql://   PostgreSQL (github.com/jackc/pgx/v5)
//
// An SQLite path may carry a ?query of modernc.org/sqlite DSN parameters
// (for example _pragma=cache_size(-20000)); latch's own settings come first
// and win: WAL journal, busy_timeout 5000ms, foreign keys on, synchronous
// NORMAL, and write transactions that begin IMMEDIATE so that concurrent
// writers queue instead of failing. In-memory databases are refused: every
// connection of the pool would get its own.
//
// A PostgreSQL URL takes libpq's parameters (sslmode, connect_timeout,
// search_path, statement_timeout, ...) and pool_max_conns (default 16).
// Unless the URL sets them, connections time out after 3 s,
// statement_timeout is 5 s and idle_in_transaction_session_timeout 30 s;
// every store operation is bounded to 5 s unless its context ends sooner,
// so that an unreachable database answers auth.ErrStoreDown quickly.
//
// Open checks that the database can be opened; it does not migrate (see
// Migrate).
func Open(ctx context.Context, url string) (*DB, error) {
	return open(ctx, url, options{busyTimeout: defaultBusyTimeout})
}

func open(ctx context.Context, rawURL string, o options) (*DB, error) {
	fl, dsn, err := parseURL(rawURL, o)
	if err != nil {
		return nil, err
	}
	var sqldb *sql.DB
	if fl.openDB != nil {
		if sqldb, err = fl.openDB(dsn); err != nil {
			return nil, err
		}
	} else {
		if sqldb, err = sql.Open(fl.driver, dsn); err != nil {
			return nil, fmt.Errorf("sqlstore: open: %w", err)
		}
		sqldb.SetMaxOpenConns(maxConns)
		sqldb.SetMaxIdleConns(maxConns)
	}
	db := &DB{db: sqldb, flavor: fl, now: time.Now}
	db.rotations.leader = make(chan struct{}, fl.rotationBatches)
	if fl.singleWriter {
		db.wlock = make(chan struct{}, 1)
	}
	db.claimSQL = strings.ReplaceAll(claimMailSQL, "/*skip locked*/", fl.skipLocked)
	pctx, cancel := db.opCtx(ctx)
	defer cancel()
	if err := sqldb.PingContext(pctx); err != nil {
		sqldb.Close()
		return nil, db.mapErr("open", err)
	}
	return db, nil
}

// parseURL picks the flavour and driver DSN for a database URL. Errors never
// repeat the URL, which may carry a password.
func parseURL(raw string, o options) (*flavor, string, error) {
	s := strings.TrimSpace(raw)
	lower := strings.ToLower(s)
	var path string
	switch {
	case s == "":
		return nil, "", errors.New("sqlstore: empty database URL")
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		return flavorPostgres, s, nil
	case strings.HasPrefix(lower, "sqlite://"):
		path = s[len("sqlite://"):]
	case strings.HasPrefix(lower, "sqlite:"):
		path = s[len("sqlite:"):]
	case strings.HasPrefix(lower, "file:"):
		path = s // an SQLite URI, handed to SQLite whole
	case strings.Contains(s, "://"):
		scheme, _, _ := strings.Cut(s, "://")
		return nil, "", fmt.Errorf("sqlstore: unsupported database URL scheme %q", scheme)
	default:
		p, _, _ := strings.Cut(s, "?")
		if !strings.HasSuffix(p, ".db") {
			return nil, "", errors.New(`sqlstore: database URL must be sqlite:PATH, file:PATH, postgres://... or a path ending in ".db"`)
		}
		path = s
	}
	base, query, _ := strings.Cut(path, "?")
	if base == "" || base == "file:" {
		return nil, "", errors.New("sqlstore: sqlite database URL without a path")
	}
	if strings.Contains(base, ":memory:") || strings.Contains(query, "mode=memory") {
		return nil, "", errors.New("sqlstore: in-memory sqlite databases are not supported (each pooled connection would get its own); use a file")
	}
	if _, err := url.ParseQuery(query); err != nil {
		return nil, "", fmt.Errorf("sqlstore: bad sqlite parameters: %w", err)
	}
	params := fmt.Sprintf("_txlock=immediate&_journal_mode=WAL&_busy_timeout=%d&_foreign_keys=1&_synchronous=NORMAL",
		o.busyTimeout.Milliseconds())
	dsn := base + "?" + params
	if query != "" {
		dsn += "&" + query
	}
	return flavorSQLite, dsn, nil
}

// Ping checks that the database answers; its error wraps auth.ErrStoreDown.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	if err := db.db.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping: %w: %w", auth.ErrStoreDown, err)
	}
	return nil
}

// opCtx bounds an operation by the flavour's opTimeout and by what is
// left of the caller's store budget (auth.WithStoreBudget), unless ctx
// ends sooner; its cancel func spends the time taken from the budget.
func (db *DB) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	start := time.Now()
	var dl time.Time
	if d := db.flavor.opTimeout; d > 0 {
		dl = start.Add(d)
	}
	b := auth.StoreBudgetOf(ctx)
	if b != nil {
		if bd := start.Add(b.Left()); dl.IsZero() || bd.Before(dl) {
			dl = bd
		}
	}
	cancel := func() {}
	if cur, ok := ctx.Deadline(); !dl.IsZero() && (!ok || cur.After(dl)) {
		ctx, cancel = context.WithDeadline(ctx, dl)
	}
	if b == nil {
		return ctx, cancel
	}
	return ctx, func() {
		cancel()
		b.Spend(time.Since(start))
	}
}

// Flavor names the database: "sqlite" or "postgres".
func (db *DB) Flavor() string { return db.flavor.name }

// Stats returns the connection pool's statistics (for metrics).
func (db *DB) Stats() sql.DBStats { return db.db.Stats() }

// Close closes the database.
func (db *DB) Close() error {
	db.stmts.Range(func(_, v any) bool {
		v.(*sql.Stmt).Close() // the pool's close below releases them anyway
		return true
	})
	return db.db.Close()
}

// stmt returns query, rewritten for the flavour, as a statement prepared
// once for the pool: database/sql prepares it on each connection at its
// first use there and keeps it. It is for the hottest queries: SQLite
// compiles an unprepared query at every execution, which costs more than
// running it.
func (db *DB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if v, ok := db.stmts.Load(query); ok {
		return v.(*sql.Stmt), nil
	}
	st, err := db.db.PrepareContext(ctx, db.q(query))
	if err != nil {
		return nil, err
	}
	if v, loaded := db.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return v.(*sql.Stmt), nil
	}
	return st, nil
}

// q returns query rewritten for the flavour.
func (db *DB) q(query string) string {
	if v, ok := db.queries.Load(query); ok {
		return v.(string)
	}
	r := db.flavor.rebind(query)
	db.queries.Store(query, r)
	return r
}

// Tx runs fn in one write transaction: everything fn did is committed when
// it returns nil, and rolled back when it returns an error, which Tx returns
// unchanged. When the database reports lock contention fn is run again, up
// to a few times, so fn must have no side effects outside tx. fn must not
// call Tx itself.
func (db *DB) Tx(ctx context.Context, fn func(tx auth.Tx) error) error {
	ctx, cancel := db.opCtx(ctx)
	defer cancel()
	err := db.retryBusy(ctx, func() error { return db.tryTx(ctx, fn) })
	db.noteWrite(err)
	return err
}

// retryBusy runs write, a transaction or a statement that is its own, and
// runs it again, up to maxTxAttempts times in all, while the database
// reports lock contention (a deadlock, a serialization failure, SQLite's
// busy).
func (db *DB) retryBusy(ctx context.Context, write func() error) error {
	for attempt := 1; ; attempt++ {
		err := write()
		if err == nil || attempt >= maxTxAttempts || db.flavor.classify(err) != classBusy {
			return err
		}
		if db.onRetry != nil {
			db.onRetry(attempt, err)
		}
		// Back off 5ms, 10ms, 20ms... with jitter, so that retrying
		// processes do not collide again.
		d := 5 * time.Millisecond << (attempt - 1)
		d += rand.N(d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

func (db *DB) tryTx(ctx context.Context, fn func(tx auth.Tx) error) (err error) {
	release, err := db.lockWriter(ctx)
	if err != nil {
		return err
	}
	defer release()
	sqltx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return db.mapErr("begin", err)
	}
	committed := false
	defer func() {
		if !committed {
			sqltx.Rollback() // error ignored: fn's error (or panic) matters
		}
	}()
	if err := fn(&tx{reader{db: db, q: sqltx, inTx: true}}); err != nil {
		return err
	}
	committed = true
	if err := sqltx.Commit(); err != nil {
		return db.mapErr("commit", err)
	}
	return nil
}

// lockWriter takes the process-wide write lock of a single-writer flavour.
func (db *DB) lockWriter(ctx context.Context) (release func(), err error) {
	if db.wlock == nil {
		return func() {}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, db.mapErr("begin", err)
	}
	select {
	case db.wlock <- struct{}{}:
		return func() { <-db.wlock }, nil
	case <-ctx.Done():
		return nil, db.mapErr("begin", ctx.Err())
	}
}
