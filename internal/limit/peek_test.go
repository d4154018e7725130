package limit_test

import (
	"context"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/limit"
)

// Peek answers what the next Allow would, and counts nothing: any number
// of peeks leave the budget as it was.
func TestPeek(t *testing.T) {
	for _, flavour := range []string{"memory", "redis"} {
		t.Run(flavour, func(t *testing.T) {
			ctx := context.Background()
			clk := authtest.NewClock(time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC))
			var l auth.Limiter = limit.NewWithClock(clk.Now)
			if flavour == "redis" {
				l = newRedis(t, clk.Now)
			}
			rate := auth.Rate{N: 3, Per: time.Minute}
			check := func(what string, ok bool, wait time.Duration, err error, wantOK bool, wantWait time.Duration) {
				t.Helper()
				if err != nil || ok != wantOK || wait != wantWait {
					t.Fatalf("%s: (%v, %v, %v), want (%v, %v)", what, ok, wait, err, wantOK, wantWait)
				}
			}
			for range 10 {
				ok, wait, err := l.Peek(ctx, "k", rate)
				check("peek on a fresh key", ok, wait, err, true, 0)
			}
			for i := range 3 {
				ok, wait, err := l.Allow(ctx, "k", rate)
				check("allow within the burst", ok, wait, err, true, 0)
				if i < 2 {
					ok, wait, err = l.Peek(ctx, "k", rate)
					check("peek within the burst", ok, wait, err, true, 0)
				}
			}
			ok, wait, err := l.Peek(ctx, "k", rate)
			check("peek past the burst", ok, wait, err, false, 20*time.Second)
			ok, wait, err = l.Allow(ctx, "k", rate)
			check("allow past the burst", ok, wait, err, false, 20*time.Second)
			clk.Advance(20 * time.Second)
			for range 5 {
				ok, wait, err = l.Peek(ctx, "k", rate)
				check("peek after a refill", ok, wait, err, true, 0)
			}
			ok, wait, err = l.Allow(ctx, "k", rate)
			check("allow after a refill", ok, wait, err, true, 0)
			ok, wait, err = l.Peek(ctx, "k", rate)
			check("peek after the refill is used", ok, wait, err, false, 20*time.Second)
		})
	}
}
