package sqlstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/sqlstore"
	"github.com/latchauth/latch/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) auth.Store { return authtest.OpenStore(t) })
}

func TestOutboxConformance(t *testing.T) {
	storetest.RunOutbox(t, func(t *testing.T) storetest.OutboxStore { return authtest.OpenStore(t) })
}

func TestOpenURLForms(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "latch.db")

	// Create the database through one form, read it through every other:
	// they all name the same file.
	db, err := sqlstore.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	err = db.Tx(ctx, func(tx auth.Tx) error {
		return tx.CreateUser(ctx, &auth.User{ID: "u1", Email: "a@example.com", EmailNorm: "a@example.com"})
	})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	db.Close()

	for _, url := range []string{
		path,
		"sqlite:" + path,
		"sqlite://" + path, // sqlite:///abs/path
		"SQLite:" + path,
		"file:" + path,
		"file:" + path + "?mode=rw",
		"sqlite:" + path + "?_pragma=cache_size(-4000)",
		"  sqlite:" + path + "  ",
	} {
		t.Run(url, func(t *testing.T) {
			db, err := sqlstore.Open(ctx, url)
			if err != nil {
				t.Fatalf("Open(%q): %v", url, err)
			}
			defer db.Close()
			if err := db.Ping(ctx); err != nil {
				t.Errorf("Ping: %v", err)
			}
			u, err := db.UserByID(ctx, "u1")
			if err != nil {
				t.Fatalf("UserByID through %q: %v", url, err)
			}
			if u.Email != "a@example.com" {
				t.Errorf("Email: got %q, want %q", u.Email, "a@example.com")
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	missingDir := filepath.Join(t.TempDir(), "no", "such", "dir", "latch.db")
	tests := []struct {
		url     string
		wantMsg string // exact error, when it matters
		wantIs  error
	}{
		{url: "postgres://latch:secret@127.0.0.1:1/latch", wantIs: auth.ErrStoreDown}, // refused
		{url: "postgresql://127.0.0.1/latch?pool_max_conns=0", wantMsg: `sqlstore: pool_max_conns="0" is not a number from 1 to 1000`},
		{url: "postgres://127.0.0.1/latch?sslmode=sometimes"},
		{url: ""},
		{url: "   "},
		{url: "mysql://localhost/latch"},
		{url: "latch.sqlite"},
		{url: "latch"},
		{url: "sqlite:"},
		{url: "sqlite://"},
		{url: "file:"},
		{url: "sqlite::memory:"},
		{url: ":memory:"},
		{url: "file::memory:?cache=shared"},
		{url: "file:latch.db?mode=memory"},
		{url: "sqlite:x.db?%zz"},
		{url: "sqlite:" + filepath.Join(t.TempDir(), "x.db") + "?_query_only=maybe"},
		{url: "sqlite:" + missingDir, wantIs: auth.ErrStoreDown},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			db, err := sqlstore.Open(ctx, tt.url)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q): got no error", tt.url)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("Open(%q): got error %q, want %q", tt.url, err, tt.wantMsg)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Open(%q): got error %v, want %v", tt.url, err, tt.wantIs)
			}
		})
	}
}

func TestOpenErrorHidesPassword(t *testing.T) {
	_, err := sqlstore.Open(context.Background(), "postgres://latch:hunter2@db/latch")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Open(postgres URL): got error %v, want one without the password", err)
	}
}

func TestMigrateIdempotent(t *testing.T) {
	ctx := context.Background()
	db := authtest.OpenStore(t) // migrated once
	defer db.Close()
	err := db.Tx(ctx, func(tx auth.Tx) error {
		return tx.CreateUser(ctx, &auth.User{ID: "u1", Email: "a@example.com", EmailNorm: "a@example.com"})
	})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if _, err := db.UserByID(ctx, "u1"); err != nil {
		t.Errorf("UserByID after second Migrate: %v", err)
	}
}

func TestMigrateConcurrentProcesses(t *testing.T) {
	// Handles on one file stand for processes: they share no in-process
	// lock.
	migrateConcurrently(t, "sqlite:"+filepath.Join(t.TempDir(), "latch.db"))
}

// migrateConcurrently opens three handles on dbURL, migrates them at once,
// checks that the schema works and that migrating again is a no-op.
func migrateConcurrently(t *testing.T, dbURL string) {
	t.Helper()
	ctx := context.Background()
	var dbs []*sqlstore.DB
	for range 3 {
		db, err := sqlstore.Open(ctx, dbURL)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer db.Close()
		dbs = append(dbs, db)
	}
	errs := make([]error, len(dbs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() {
			<-start
			errs[i] = db.Migrate(ctx)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate #%d: %v", i, err)
		}
	}
	// The schema works.
	err := dbs[1].Tx(ctx, func(tx auth.Tx) error {
		return tx.CreateUser(ctx, &auth.User{ID: "u1", Email: "a@example.com", EmailNorm: "a@example.com", CreatedAt: time.Now()})
	})
	if err != nil {
		t.Errorf("CreateUser after concurrent Migrate: %v", err)
	}
	if err := dbs[2].Migrate(ctx); err != nil {
		t.Errorf("Migrate again: %v", err)
	}
}

func TestNotMigrated(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "latch.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	// Open does not migrate: there is no users table yet.
	if _, err := db.UserByID(ctx, "u1"); err == nil || errors.Is(err, auth.ErrNotFound) {
		t.Errorf("UserByID before Migrate: got %v, want a missing-table error", err)
	}
}

func TestPingAfterClose(t *testing.T) {
	db := authtest.OpenStore(t)
	if err := db.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	db.Close()
	if err := db.Ping(context.Background()); !errors.Is(err, auth.ErrStoreDown) {
		t.Errorf("Ping after Close: got %v, want %v", err, auth.ErrStoreDown)
	}
}

func TestWebhookConformance(t *testing.T) {
	storetest.RunWebhooks(t, func(t *testing.T) storetest.WebhookStore { return authtest.OpenStore(t) })
}
