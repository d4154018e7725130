package sqlstore

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/latchauth/latch/internal/auth"
)

// migration is one embedded SQL file.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads NNNN_name.sql files, ordered by version.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	var out []migration
	for _, name := range names {
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("sqlstore: migration %q: name must be NNNN_name.sql", name)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: migration %q: %w", name, err)
		}
		out = append(out, migration{version: v, name: name, sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("sqlstore: migrations %q and %q share a version", out[i-1].name, out[i].name)
		}
	}
	return out, nil
}

// Migrate brings the schema up to date by applying the embedded migrations
// not yet recorded in the schema_migrations table, each in its own write
// transaction. It is idempotent, and safe when several processes call it at
// once: each migration is checked and applied under the database's write
// lock. It refuses a database migrated by a newer latch.
func (db *DB) Migrate(ctx context.Context) error {
	migs, err := loadMigrations(db.flavor.migrations)
	if err != nil {
		return err
	}
	if len(migs) == 0 {
		return nil
	}
	err = db.migrationTx(ctx, func(t *tx) error {
		_, err := t.exec(ctx, "migrate", `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at BIGINT  NOT NULL
		)`)
		if err != nil {
			return err
		}
		var newest int
		err = t.q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&newest)
		if err != nil {
			return db.mapErr("migrate", err)
		}
		if known := migs[len(migs)-1].version; newest > known {
			return fmt.Errorf("sqlstore: migrate: database schema version %d is newer than this program's %d", newest, known)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range migs {
		err := db.migrationTx(ctx, func(t *tx) error {
			var n int
			err := t.q.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = $1`), m.version).Scan(&n)
			if err != nil {
				return db.mapErr("migrate", err)
			}
			if n > 0 {
				return nil
			}
			if _, err := t.q.ExecContext(ctx, m.sql); err != nil {
				return db.mapErr("migrate "+m.name, err)
			}
			_, err = t.exec(ctx, "migrate", `INSERT INTO schema_migrations (version, name, applied_at)
				VALUES ($1, $2, $3)`, m.version, m.name, db.now().UnixMicro())
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// migrationTx runs fn in a write transaction holding the flavour's
// migration lock.
func (db *DB) migrationTx(ctx context.Context, fn func(t *tx) error) error {
	return db.Tx(ctx, func(atx auth.Tx) error {
		t := atx.(*tx)
		if db.flavor.lockMigrations != "" {
			if _, err := t.exec(ctx, "migrate", db.flavor.lockMigrations); err != nil {
				return err
			}
		}
		return fn(t)
	})
}
