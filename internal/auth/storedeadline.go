package auth

import (
	"context"
	"time"
)

type storeDeadlineKey struct{}

// WithStoreDeadline returns ctx carrying t as the deadline of all the
// store work done with it (and with contexts derived from it): each store
// call ends by t, however many the caller makes, and fails with
// ErrStoreDown once t has passed. It bounds the database work of one
// request without bounding the rest (password hashing, a long poll's
// waits).
func WithStoreDeadline(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, storeDeadlineKey{}, t)
}

// StoreDeadline returns the deadline WithStoreDeadline put on ctx.
func StoreDeadline(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(storeDeadlineKey{}).(time.Time)
	return t, ok && !t.IsZero()
}
