package svctest

import (
	"os"
	"testing"
	"time"
)

// Timing reports whether LATCH_TEST_TIMING=1 asks for the checks of
// wall-clock properties (latency bounds, counts that hold only when every
// request is fast). They need a quiet machine, so the default run leaves
// them out and checks only the behaviour; CI (.ci/run) turns them on.
func Timing() bool { return os.Getenv("LATCH_TEST_TIMING") == "1" }

// RequireTiming skips t unless Timing.
func RequireTiming(t testing.TB) {
	t.Helper()
	if !Timing() {
		t.Skip("skipping a wall-clock check: it needs a quiet machine; set LATCH_TEST_TIMING=1 to run it")
	}
}

// Patience is how long a test waits for something that must happen
// (a mail sent, a server ready again) before failing: d on a quiet machine
// (LATCH_TEST_TIMING=1), several times d otherwise, since a busy machine
// stretches every step while only the arrival is the behaviour.
func Patience(d time.Duration) time.Duration {
	if Timing() {
		return d
	}
	return 6 * d
}

// ParallelUnlessTiming runs t in parallel with the package's other
// parallel tests in the default run, where only behaviour is checked.
// With LATCH_TEST_TIMING=1 it leaves t sequential: go test runs a
// package's sequential tests one at a time and before its parallel ones,
// so the latency bounds t checks are not stretched by the package's other
// tests.
func ParallelUnlessTiming(t *testing.T) {
	t.Helper()
	if !Timing() {
		t.Parallel()
	}
}
