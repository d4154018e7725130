package sqlstore_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/sqlstore"
	"github.com/latchauth/latch/internal/storetest"
	"github.com/latchauth/latch/internal/svctest"
)

// newPostgres opens and migrates a fresh schema on the test PostgreSQL.
func newPostgres(t *testing.T) *sqlstore.DB {
	t.Helper()
	return authtest.OpenMigrated(t, svctest.PostgresURL(t))
}

func TestPostgresConformance(t *testing.T) {
	svctest.PostgresURL(t) // skip early when PostgreSQL is absent
	storetest.Run(t, func(t *testing.T) auth.Store { return newPostgres(t) })
}

func TestPostgresOutboxConformance(t *testing.T) {
	svctest.PostgresURL(t)
	storetest.RunOutbox(t, func(t *testing.T) storetest.OutboxStore { return newPostgres(t) })
}

// Every SQLite migration has its PostgreSQL twin of the same name.
func TestPostgresMigrationsMirrorSQLite(t *testing.T) {
	names := func(dir string) []string {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	lite, pg := names("migrations/sqlite"), names("migrations/postgres")
	if !slices.Equal(lite, pg) {
		t.Errorf("migrations differ:\nsqlite   %v\npostgres %v", lite, pg)
	}
}

func TestPostgresMigrateConcurrentProcesses(t *testing.T) {
	migrateConcurrently(t, svctest.PostgresURL(t))
}

func TestPostgresPoolSize(t *testing.T) {
	u := svctest.WithParam(svctest.PostgresURL(t), "pool_max_conns", "3")
	db := authtest.OpenMigrated(t, u)
	defer db.Close()
	if got := db.Stats().MaxOpenConnections; got != 3 {
		t.Errorf("MaxOpenConnections with pool_max_conns=3: got %d, want 3", got)
	}
	if db.Flavor() != "postgres" {
		t.Errorf("Flavor() = %q, want postgres", db.Flavor())
	}
}

// A database that goes away answers auth.ErrStoreDown, quickly, and the
// store recovers by itself when it is back.
func TestPostgresOutage(t *testing.T) {
	ctx := context.Background()
	target, err := url.Parse(svctest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	p := svctest.NewProxy(t, target.Host)
	viaProxy := *target
	viaProxy.Host = p.Addr()
	db := authtest.OpenMigrated(t, viaProxy.String())
	defer db.Close()
	createUser := func(id string) error {
		return db.Tx(ctx, func(tx auth.Tx) error {
			return tx.CreateUser(ctx, &auth.User{ID: id, Email: id + "@example.com", EmailNorm: id + "@example.com"})
		})
	}
	if err := createUser("before"); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}

	tests := []struct {
		name  string
		cut   func()
		bound time.Duration
	}{
		{"refused", p.Cut, time.Second},
		// Nothing answers: the 5 s operation bound (connect timeout 3 s).
		{"black hole", p.BlackHole, 7 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cut()
			for _, op := range []struct {
				name string
				fn   func() error
			}{
				{"read", func() error { _, err := db.UserByID(ctx, "before"); return err }},
				{"write", func() error { return createUser("during") }},
				{"ping", func() error { return db.Ping(ctx) }},
			} {
				start := time.Now()
				err := op.fn()
				if took := time.Since(start); svctest.Timing() && took > tt.bound {
					t.Errorf("%s during the outage took %v, want under %v", op.name, took, tt.bound)
				}
				if !errors.Is(err, auth.ErrStoreDown) {
					t.Errorf("%s during the outage: got %v, want %v", op.name, err, auth.ErrStoreDown)
				}
			}
			p.Restore()
			// The pool drops the dead connections and reconnects.
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, err := db.UserByID(ctx, "before")
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("UserByID after the database came back: %v", err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

func TestPostgresWebhookConformance(t *testing.T) {
	svctest.PostgresURL(t)
	storetest.RunWebhooks(t, func(t *testing.T) storetest.WebhookStore { return newPostgres(t) })
}
