// Package poll is the loop of latch's queue workers (the mail outbox, the
// webhook deliveries): a pass at once when woken, else every interval, and
// the next pass without waiting while passes find full batches.
package poll

import (
	"context"
	"time"
)

// Run calls pass until ctx is done, then returns. After a pass that
// reported more (a full batch: probably more waiting) and no error, the
// next one starts at once; otherwise Run waits for every, a value on wake
// or the end of ctx. A pass's error goes to failed unless ctx ended.
func Run(ctx context.Context, wake <-chan struct{}, every time.Duration,
	pass func(context.Context) (more bool, err error), failed func(error)) {
	timer := time.NewTimer(every)
	defer timer.Stop()
	for ctx.Err() == nil {
		more, err := pass(ctx)
		if err != nil && ctx.Err() == nil {
			failed(err)
		}
		if err == nil && more {
			continue
		}
		timer.Reset(every) // Go 1.23+: no stale tick survives a Reset
		select {
		case <-ctx.Done():
		case <-wake:
		case <-timer.C:
		}
	}
}
