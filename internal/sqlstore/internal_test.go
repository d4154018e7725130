package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

const latchParams = "_txlock=immediate&_journal_mode=WAL&_busy_timeout=5000&_foreign_keys=1&_synchronous=NORMAL"

func TestParseURL(t *testing.T) {
	o := options{busyTimeout: defaultBusyTimeout}
	tests := []struct {
		url, want string
	}{
		{"sqlite:/var/lib/latch/latch.db", "/var/lib/latch/latch.db?" + latchParams},
		{"sqlite:latch.db", "latch.db?" + latchParams},
		{"sqlite:data/latch.sqlite3", "data/latch.sqlite3?" + latchParams},
		{"sqlite:///var/lib/latch.db", "/var/lib/latch.db?" + latchParams},
		{"sqlite://latch.db", "latch.db?" + latchParams},
		{"SQLITE:latch.db", "latch.db?" + latchParams},
		{"file:latch.db", "file:latch.db?" + latchParams},
		{"file:/tmp/my%20db.db?mode=rwc", "file:/tmp/my%20db.db?" + latchParams + "&mode=rwc"},
		{"latch.db", "latch.db?" + latchParams},
		{"/var/lib/latch.db", "/var/lib/latch.db?" + latchParams},
		{"./x.db?_pragma=cache_size(-2000)", "./x.db?" + latchParams + "&_pragma=cache_size(-2000)"},
		{" sqlite:latch.db\n", "latch.db?" + latchParams},
	}
	for _, tt := range tests {
		fl, got, err := parseURL(tt.url, o)
		if err != nil {
			t.Errorf("parseURL(%q): %v", tt.url, err)
			continue
		}
		if fl != flavorSQLite {
			t.Errorf("parseURL(%q): flavour %s, want sqlite", tt.url, fl.name)
		}
		if got != tt.want {
			t.Errorf("parseURL(%q):\ngot  %q\nwant %q", tt.url, got, tt.want)
		}
	}
	for _, u := range []string{"postgres://u:p@h/db", "PostgreSQL://h/db?sslmode=disable"} {
		if fl, dsn, err := parseURL(u, o); err != nil || fl != flavorPostgres || dsn != u {
			t.Errorf("parseURL(%q): got %v, %q, %v; want the postgres flavour and the URL unchanged", u, fl, dsn, err)
		}
	}
}

func TestRebindNumbered(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"WHERE a = $1 AND b = $2", "WHERE a = ?1 AND b = ?2"},
		{"SET x = $12, y = $1", "SET x = ?12, y = ?1"},
		{"$1", "?1"},
		{"price$ = $", "price$ = $"},
	}
	for _, tt := range tests {
		if got := rebindNumbered(tt.in); got != tt.want {
			t.Errorf("rebindNumbered(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func openTest(t *testing.T, path string, o options) *DB {
	t.Helper()
	return openTestURL(t, "sqlite:"+path, o)
}

// openTestURL opens and migrates the database at url, closed when t ends.
func openTestURL(t *testing.T, url string, o options) *DB {
	t.Helper()
	db, err := open(context.Background(), url, o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

func TestPragmas(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "latch.db"), options{busyTimeout: defaultBusyTimeout})
	tests := []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
		{"synchronous", "1"}, // NORMAL
	}
	// Every pooled connection gets them: hold several at once.
	ctx := context.Background()
	var conns []*sql.Conn
	for range maxConns {
		c, err := db.db.Conn(ctx)
		if err != nil {
			t.Fatalf("Conn: %v", err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for i, c := range conns {
		for _, tt := range tests {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s: %v", tt.pragma, err)
			}
			if got != tt.want {
				t.Errorf("conn %d: PRAGMA %s = %q, want %q", i, tt.pragma, got, tt.want)
			}
		}
	}
}

func TestMigrationsRecorded(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, filepath.Join(t.TempDir(), "latch.db"), options{busyTimeout: defaultBusyTimeout})
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	migs, err := loadMigrations(db.flavor.migrations)
	if err != nil {
		t.Fatal(err)
	}
	var n, newest int
	if err := db.db.QueryRowContext(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &newest); err != nil {
		t.Fatal(err)
	}
	if n != len(migs) || newest != migs[len(migs)-1].version {
		t.Errorf("schema_migrations after two Migrates: %d rows up to version %d, want %d up to %d",
			n, newest, len(migs), migs[len(migs)-1].version)
	}

	// A database migrated by a newer latch is refused.
	if _, err := db.db.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err == nil {
		t.Errorf("Migrate on a newer schema: got no error")
	}
}

// holdWriteLock takes SQLite's write lock on path through a separate
// connection, as another process would.
func holdWriteLock(t *testing.T, path string) *sql.Tx {
	t.Helper()
	other, err := sql.Open("sqlite", path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	tx, err := other.Begin()
	if err != nil {
		t.Fatalf("BEGIN IMMEDIATE elsewhere: %v", err)
	}
	return tx
}

func TestTxRetriesWhenBusy(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "latch.db")
	db := openTest(t, path, options{busyTimeout: 0}) // fail at once on a held lock
	holder := holdWriteLock(t, path)

	var retries []error
	db.onRetry = func(attempt int, err error) {
		retries = append(retries, err)
		holder.Rollback() // the other process finishes
	}
	calls := 0
	err := db.Tx(ctx, func(tx auth.Tx) error {
		calls++
		return tx.CreateUser(ctx, &auth.User{ID: "u1", Email: "a@example.com", EmailNorm: "a@example.com"})
	})
	if err != nil {
		t.Fatalf("Tx: %v", err)
	}
	if len(retries) != 1 || calls != 1 {
		t.Errorf("got %d retries and %d calls of fn, want 1 and 1", len(retries), calls)
	}
	if len(retries) > 0 && !errors.Is(retries[0], auth.ErrStoreDown) {
		t.Errorf("retried error %v does not wrap %v", retries[0], auth.ErrStoreDown)
	}
	if _, err := db.UserByID(ctx, "u1"); err != nil {
		t.Errorf("UserByID after retried Tx: %v", err)
	}
}

func TestTxGivesUpWhenBusy(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "latch.db")
	db := openTest(t, path, options{busyTimeout: 0})
	holder := holdWriteLock(t, path)
	defer holder.Rollback()

	retries := 0
	db.onRetry = func(int, error) { retries++ }
	calls := 0
	err := db.Tx(ctx, func(tx auth.Tx) error { calls++; return nil })
	if !errors.Is(err, auth.ErrStoreDown) {
		t.Errorf("Tx on a locked database: got %v, want %v", err, auth.ErrStoreDown)
	}
	if retries != maxTxAttempts-1 || calls != 0 {
		t.Errorf("got %d retries and %d calls of fn, want %d and 0", retries, calls, maxTxAttempts-1)
	}
	// Reads still work in WAL mode.
	if _, err := db.UserByID(ctx, "u1"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("UserByID while another process writes: got %v, want %v", err, auth.ErrNotFound)
	}
}

func TestTxDeadline(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "latch.db"), options{busyTimeout: defaultBusyTimeout})
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	called := false
	err := db.Tx(ctx, func(auth.Tx) error { called = true; return nil })
	if !errors.Is(err, auth.ErrStoreDown) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Tx past its deadline: got %v, want %v and %v", err, auth.ErrStoreDown, context.DeadlineExceeded)
	}
	if called {
		t.Errorf("Tx past its deadline called fn")
	}
}

func TestTxPanicRollsBack(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, filepath.Join(t.TempDir(), "latch.db"), options{busyTimeout: defaultBusyTimeout})
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("Tx swallowed fn's panic")
			}
		}()
		db.Tx(ctx, func(tx auth.Tx) error {
			if err := tx.CreateUser(ctx, &auth.User{ID: "u1", Email: "a@example.com", EmailNorm: "a@example.com"}); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	if _, err := db.UserByID(ctx, "u1"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("UserByID after panic: got %v, want %v", err, auth.ErrNotFound)
	}
	// The write lock was released.
	err := db.Tx(ctx, func(tx auth.Tx) error {
		return tx.CreateUser(ctx, &auth.User{ID: "u1", Email: "a@example.com", EmailNorm: "a@example.com"})
	})
	if err != nil {
		t.Errorf("Tx after panic: %v", err)
	}
}
