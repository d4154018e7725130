package main

import (
	"context"
	"fmt"
	"io"
)

// overload runs the login scenario at -c (the baseline), then at twice -c,
// and returns the second run's report with the baseline in it. With
// argon2id holding a core per login, twice the concurrency that fills the
// hashing slots is an overload: a server that sheds it well refuses the
// excess fast (429 or 503 with Retry-After) and keeps the admitted logins'
// latency near the baseline's.
func (b *bench) overload(ctx context.Context, stderr io.Writer) (*Report, error) {
	c := b.opts.concurrency
	base, err := b.load(ctx, c)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "latch-bench: baseline at -c %d: %.1f req/s, p99 %.2f ms; now at -c %d\n",
		c, base.Total.Throughput, base.Total.P99, 2*c)
	rep, err := b.load(ctx, 2*c)
	if err != nil {
		return nil, err
	}
	bl := base.Total
	bl.Op = "baseline"
	rep.Baseline = &bl
	if bl.P99 > 0 {
		rep.AdmittedP99Ratio = rep.Total.P99 / bl.P99
	}
	return rep, nil
}
