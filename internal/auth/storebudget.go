package auth

import (
	"context"
	"sync"
	"time"
)

type storeBudgetKey struct{}

// StoreBudget is the time the store work of one request may take in all:
// each store call made with a context carrying it (WithStoreBudget) ends
// when what is left of it runs out, and spends what it took. Time spent
// elsewhere (hashing a password, waiting for a hashing slot) is not
// counted. Once it is spent, store calls fail with ErrStoreDown at once.
type StoreBudget struct {
	mu   sync.Mutex
	left time.Duration
}

// WithStoreBudget returns ctx carrying a budget of d for all the store
// work done with it and with contexts derived from it.
func WithStoreBudget(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, storeBudgetKey{}, &StoreBudget{left: d})
}

// StoreBudgetOf returns the budget WithStoreBudget put on ctx, or nil.
func StoreBudgetOf(ctx context.Context) *StoreBudget {
	b, _ := ctx.Value(storeBudgetKey{}).(*StoreBudget)
	return b
}

// Left is what remains of b.
func (b *StoreBudget) Left() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(b.left, 0)
}

// Spend takes d off b.
func (b *StoreBudget) Spend(d time.Duration) {
	b.mu.Lock()
	b.left -= d
	b.mu.Unlock()
}
