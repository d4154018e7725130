package sqlstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/svctest"
)

// The budget of a request's store work (auth.WithStoreBudget) bounds
// every call made with it, reads and transactions alike, on both
// flavours: each call spends from it, and once it is spent each call
// fails with ErrStoreDown at once.
func TestStoreBudget(t *testing.T) {
	for _, tt := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "latch.db") }},
		{"postgres", func(t *testing.T) string { return svctest.PostgresURL(t) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := authtest.OpenMigrated(t, tt.url(t))
			defer db.Close()
			write := func(ctx context.Context) error {
				return db.Tx(ctx, func(tx auth.Tx) error {
					return tx.CreateUser(ctx, &auth.User{ID: "u1", Email: "u1@example.com", EmailNorm: "u1@example.com"})
				})
			}
			read := func(ctx context.Context) error { _, err := db.UserByID(ctx, "u1"); return err }
			list := func(ctx context.Context) error { _, err := db.ListUsers(ctx, auth.UserQuery{Limit: 10}); return err }

			ahead := auth.WithStoreBudget(context.Background(), time.Hour)
			for _, call := range []func(context.Context) error{write, read, list} {
				if err := call(ahead); err != nil {
					t.Fatalf("within the budget: %v", err)
				}
			}
			// Every call spent some of it.
			if left := auth.StoreBudgetOf(ahead).Left(); left >= time.Hour || left <= 0 {
				t.Errorf("budget left after three calls: %v, want less than the hour and more than nothing", left)
			}
			// Spent (by earlier calls of the same request): the next one
			// fails at once, whichever it is.
			spent := auth.WithStoreBudget(context.Background(), time.Hour)
			auth.StoreBudgetOf(spent).Spend(time.Hour)
			for name, call := range map[string]func(context.Context) error{"write": write, "read": read, "list": list} {
				if err := call(spent); !errors.Is(err, auth.ErrStoreDown) || !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%s with the budget spent: got %v, want %v (deadline exceeded)", name, err, auth.ErrStoreDown)
				}
			}
			// The budget running out in the middle of a transaction: the
			// statements after it fail as a store that is down, never as
			// an internal error.
			short := auth.WithStoreBudget(context.Background(), 50*time.Millisecond)
			err := db.Tx(short, func(tx auth.Tx) error {
				time.Sleep(100 * time.Millisecond)
				return tx.CreateUser(short, &auth.User{ID: "u2", Email: "u2@example.com", EmailNorm: "u2@example.com"})
			})
			if !errors.Is(err, auth.ErrStoreDown) {
				t.Errorf("statement after the budget ran out: got %v, want %v", err, auth.ErrStoreDown)
			}
			// Running out of budget is not a database that refuses writes.
			if err := db.WriteError(); err != nil {
				t.Errorf("WriteError after a deadline: %v", err)
			}
		})
	}
}
