package sqlstore

import (
	"database/sql"
	"embed"
	"errors"
	"io/fs"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations
var migrationFiles embed.FS

// errClass is what a flavour makes of a driver error.
type errClass int

const (
	classOther      errClass = iota
	classConflict            // unique or primary key violation
	classMissingRef          // foreign key violation: the referenced row is gone
	classBusy                // lock contention: the transaction may be retried
	classDown                // the database cannot be reached or read
)

// flavor is everything that differs between the SQL databases latch runs on.
// Queries are written once, in PostgreSQL's placeholder style ($1, $2, ...),
// and rebind turns them into the flavour's own.
//
// The PostgreSQL flavour lives in flavor_postgres.go.
type flavor struct {
	name   string // "sqlite", "postgres"
	driver string // database/sql driver name

	// migrations holds NNNN_name.sql files, applied in order of NNNN.
	migrations fs.FS
	// rebind rewrites a query written with $N placeholders.
	rebind func(query string) string
	// singleWriter serializes write transactions inside the process: the
	// database allows one writer at a time anyway, and queueing on a Go
	// channel is fairer and faster than polling the database's lock.
	singleWriter bool
	// skipLocked is appended to ClaimMail's inner SELECT so that concurrent
	// workers skip each other's rows ("" where writers are serialized).
	skipLocked string
	// lockMigrations, when set, is run first in every migration transaction
	// to serialize migrating processes (SQLite's BEGIN IMMEDIATE already
	// does).
	lockMigrations string
	// classify sorts a driver error.
	classify func(err error) errClass
	// rotationBatches is how many batches of refresh rotations run at
	// once (rotation_batch.go).
	rotationBatches int

	// PostgreSQL.

	// openDB, when set, opens the pool from the DSN parseURL returned
	// (instead of sql.Open(driver, dsn)) and sizes it.
	openDB func(dsn string) (*sql.DB, error)
	// lockUser is appended to user reads inside a write transaction, so
	// that read-modify-write of a user is serialized ("" where writers
	// are serialized anyway).
	lockUser string
	// savepoints: a failed statement aborts the whole transaction, so
	// statements whose failure the caller may recover from (a unique
	// violation) run inside a savepoint.
	savepoints bool
	// opTimeout, when set, bounds every operation whose context has no
	// earlier deadline.
	opTimeout time.Duration
}

// flavorSQLite is SQLite through modernc.org/sqlite.
var flavorSQLite = &flavor{
	name:         "sqlite",
	driver:       "sqlite",
	migrations:   mustSub(migrationFiles, "migrations/sqlite"),
	rebind:       rebindNumbered,
	singleWriter: true,
	classify:     classifySQLite,
	// One writer: a second batch would only wait for the first.
	rotationBatches: 1,
}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic("sqlstore: " + err.Error())
	}
	return sub
}

// rebindNumbered rewrites $N placeholders to SQLite's numbered form ?N, which
// binds the Nth argument wherever it appears. Queries must not carry a '$'
// followed by a digit inside a string literal.
func rebindNumbered(query string) string {
	if !strings.Contains(query, "$") {
		return query
	}
	b := []byte(query)
	for i := 0; i+1 < len(b); i++ {
		if b[i] == '$' && b[i+1] >= '0' && b[i+1] <= '9' {
			b[i] = '?'
		}
	}
	return string(b)
}

func classifySQLite(err error) errClass {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return classOther
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return classConflict
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return classMissingRef
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return classBusy
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOTADB,
		sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY,
		sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_NOMEM:
		return classDown
	}
	return classOther
}
