package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/sqlstore"
)

// secretSource says where the secret that seals the signing keys came
// from: LATCH_SECRET, or (file != "") a development secret file.
type secretSource struct {
	file    string
	created bool
}

func (s secretSource) String() string {
	if s.file == "" {
		return "LATCH_SECRET"
	}
	if s.created {
		return fmt.Sprintf("the development secret file %s (created just now, as LATCH_SECRET is not set)", s.file)
	}
	return fmt.Sprintf("the development secret file %s (LATCH_SECRET is not set)", s.file)
}

// loadSecret returns LATCH_SECRET or, when it is unset, the development
// secret file beside the SQLite database (created on first use).
func loadSecret(c *config) ([]byte, secretSource, error) {
	if c.Secret != "" {
		return []byte(c.Secret), secretSource{}, nil
	}
	s, path, created, err := developmentSecret(c.DatabaseURL)
	if abs, aerr := filepath.Abs(path); aerr == nil {
		path = abs
	}
	if err != nil {
		return nil, secretSource{}, fmt.Errorf("LATCH_SECRET is not set and the development secret file %s cannot be used: %w (set LATCH_SECRET, or make the directory writable)", path, err)
	}
	return s, secretSource{file: path, created: created}, nil
}

// explainServiceError adds to an error of auth.New what to do about it.
func explainServiceError(err error, c *config, src secretSource) error {
	if !errors.Is(err, auth.ErrSecretMismatch) {
		return err
	}
	fix := "set LATCH_SECRET to the secret the database was first started with"
	if src.file != "" {
		fix = "instances that share a database need the same secret: set LATCH_SECRET on every instance " +
			"to the one the first instance used (its development secret file, latch.secret or DATABASE.secret in its working directory)"
	}
	return fmt.Errorf("the signing keys in database %s cannot be opened with %s: they were sealed with another secret; %s (%w)",
		describeDatabase(c.DatabaseURL), src, fix, err)
}

// openStore opens and migrates the configured database. Its errors name
// the database (never a password) and what to check.
func openStore(ctx context.Context, c *config) (*sqlstore.DB, error) {
	name := describeDatabase(c.DatabaseURL)
	if p := sqlitePath(c.DatabaseURL); p != "" {
		p, _, _ = strings.Cut(p, "?")
		dir := filepath.Dir(p)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			abs, _ := filepath.Abs(dir)
			return nil, fmt.Errorf("database %s: the directory %s does not exist: create it, or set LATCH_DATABASE_URL to a file in an existing directory", name, abs)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	db, err := sqlstore.Open(ctx, c.DatabaseURL)
	if err != nil {
		return nil, databaseError(name, c.DatabaseURL, err)
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, databaseError(name, c.DatabaseURL, err)
	}
	return db, nil
}

func databaseError(name, dbURL string, err error) error {
	fix := "check LATCH_DATABASE_URL, and that PostgreSQL is running and accepts this user"
	if sqlitePath(dbURL) != "" {
		fix = "check that the file is an SQLite database and that this user may read and write it and its directory (LATCH_DATABASE_URL)"
	}
	return fmt.Errorf("database %s: %w; %s", name, err, fix)
}

// warnUnknownVariables prints the unknown-variable warnings of a command
// that has no log.
func warnUnknownVariables(ctx context.Context, stderr io.Writer) {
	for _, w := range unknownVariables(ctx) {
		fmt.Fprintln(stderr, "latch: warning:", w)
	}
}
