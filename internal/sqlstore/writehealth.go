package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latchauth/latch/internal/auth"
)

// WriteFailureWindow is how long a write that failed because the database
// could not be written (full, read-only, unreachable) keeps WriteError
// reporting it, unless a write succeeds meanwhile. Past it the instance
// says ready again, and the next failed write says otherwise.
const WriteFailureWindow = 10 * time.Second

// writeHealth remembers the last write transaction that failed because
// the database could not be written.
type writeHealth struct {
	mu     sync.Mutex
	at     time.Time // zero: the last write succeeded
	reason string
}

// note records the outcome of a write transaction.
func (db *DB) noteWrite(err error) {
	w := &db.writes
	if err == nil {
		w.mu.Lock()
		w.at = time.Time{}
		w.mu.Unlock()
		return
	}
	if db.flavor.classify(err) != classDown ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		// The caller's own error, a conflict, lock contention, or a
		// deadline: a slow database is the pool's and Ping's business,
		// and a load spike must not take every instance out of service.
		return
	}
	reason := writeReason(err)
	w.mu.Lock()
	w.at, w.reason = time.Now(), reason
	w.mu.Unlock()
}

// WriteError reports, wrapping auth.ErrStoreDown, why the last write
// failed when it failed within WriteFailureWindow because the database
// could not be written and no write succeeded since; nil otherwise.
func (db *DB) WriteError() error {
	w := &db.writes
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.at.IsZero() || time.Since(w.at) > WriteFailureWindow {
		return nil
	}
	return fmt.Errorf("sqlstore: %w: writes are failing: %s", auth.ErrStoreDown, w.reason)
}

// writeReason says in a few words why a write failed, without the
// driver's details (table names, paths).
func writeReason(err error) string {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_FULL:
			return "the database or disk is full"
		case sqlite3.SQLITE_READONLY:
			return "the database is read-only"
		case sqlite3.SQLITE_IOERR:
			return "disk I/O error"
		}
		return "the database refuses writes"
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "25006":
			return "the database is read-only (a standby?)"
		case pe.Code == "53100":
			return "the database's disk is full"
		}
		return "the database refuses writes"
	}
	return "the database does not answer"
}
