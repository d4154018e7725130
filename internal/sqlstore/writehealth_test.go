package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/sqlstore"
	"github.com/latchauth/latch/internal/svctest"
)

// A database that answers but refuses writes is reported by WriteError
// (for readiness) until a write succeeds again: SQLite that cannot grow
// (a full disk, here max_page_count), PostgreSQL cut away.
func TestWriteError(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		open   func(t *testing.T) (db *sqlstore.DB, fail, restore func())
		reason string
	}{
		{"sqlite full", func(t *testing.T) (*sqlstore.DB, func(), func()) {
			path := filepath.Join(t.TempDir(), "latch.db")
			authtest.OpenMigrated(t, "sqlite:"+path).Close()
			// max_page_count cannot go below the current size: the file
			// may not grow by a page.
			db := authtest.OpenMigrated(t, "sqlite:"+path+"?_pragma=max_page_count(1)")
			return db, func() {}, nil
		}, "full"},
		{"postgres cut", func(t *testing.T) (*sqlstore.DB, func(), func()) {
			target, err := url.Parse(svctest.PostgresURL(t))
			if err != nil {
				t.Fatal(err)
			}
			p := svctest.NewProxy(t, target.Host)
			viaProxy := *target
			viaProxy.Host = p.Addr()
			return authtest.OpenMigrated(t, viaProxy.String()), p.Cut, p.Restore
		}, "does not answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, fail, restore := tt.open(t)
			defer db.Close()
			n := 0
			create := func() error {
				n++
				id := fmt.Sprintf("u%d", n)
				return db.Tx(ctx, func(tx auth.Tx) error {
					return tx.CreateUser(ctx, &auth.User{ID: id, Email: id + "@example.com", EmailNorm: id + "@example.com",
						PasswordHash: strings.Repeat("h", 200)})
				})
			}
			if err := db.WriteError(); err != nil {
				t.Fatalf("WriteError before any write: %v", err)
			}
			// A write the store refuses for the caller's reasons is no
			// sign of trouble.
			if err := db.Tx(ctx, func(auth.Tx) error { return errors.New("caller's error") }); err == nil {
				t.Fatal("Tx returned no error")
			}
			if err := db.WriteError(); err != nil {
				t.Fatalf("WriteError after a caller's error: %v", err)
			}
			fail()
			var err error
			for range 2000 {
				if err = create(); err != nil {
					break
				}
			}
			if !errors.Is(err, auth.ErrStoreDown) {
				t.Fatalf("writes never failed: last error %v", err)
			}
			werr := db.WriteError()
			if !errors.Is(werr, auth.ErrStoreDown) || !strings.Contains(werr.Error(), tt.reason) {
				t.Fatalf("WriteError after a failed write: %v, want %v saying %q", werr, auth.ErrStoreDown, tt.reason)
			}
			if restore == nil {
				return
			}
			restore()
			// The first write that succeeds clears it.
			deadline := time.Now().Add(svctest.Patience(10 * time.Second))
			for create() != nil {
				if time.Now().After(deadline) {
					t.Fatal("writes never succeeded after the restore")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := db.WriteError(); err != nil {
				t.Errorf("WriteError after a write succeeded: %v", err)
			}
		})
	}
}
