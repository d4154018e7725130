package sqlstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/svctest"
)

// The deadline of a request's store work (auth.WithStoreDeadline) bounds
// every call made with it, reads and transactions alike, on both
// flavours: once it has passed, each call fails with ErrStoreDown at once.
func TestStoreDeadline(t *testing.T) {
	for _, tt := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "latch.db") }},
		{"postgres", func(t *testing.T) string { return svctest.PostgresURL(t) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := openMigrated(t, tt.url(t))
			defer db.Close()
			write := func(ctx context.Context) error {
				return db.Tx(ctx, func(tx auth.Tx) error {
					return tx.CreateUser(ctx, &auth.User{ID: "u1", Email: "u1@example.com", EmailNorm: "u1@example.com"})
				})
			}
			read := func(ctx context.Context) error { _, err := db.UserByID(ctx, "u1"); return err }
			list := func(ctx context.Context) error { _, err := db.ListUsers(ctx, auth.UserQuery{Limit: 10}); return err }

			ahead := auth.WithStoreDeadline(context.Background(), time.Now().Add(time.Hour))
			for name, call := range map[string]func(context.Context) error{"write": write, "read": read, "list": list} {
				if err := call(ahead); err != nil {
					t.Fatalf("%s within the deadline: %v", name, err)
				}
			}
			passed := auth.WithStoreDeadline(context.Background(), time.Now().Add(-time.Millisecond))
			for name, call := range map[string]func(context.Context) error{"write": write, "read": read, "list": list} {
				if err := call(passed); !errors.Is(err, auth.ErrStoreDown) || !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%s past the deadline: got %v, want %v (deadline exceeded)", name, err, auth.ErrStoreDown)
				}
			}
			// Running out of time is not a database that refuses writes.
			if err := db.WriteError(); err != nil {
				t.Errorf("WriteError after a deadline: %v", err)
			}
		})
	}
}
