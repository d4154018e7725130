package svctest

import (
	"testing"
	"time"
)

func TestTiming(t *testing.T) {
	for _, tt := range []struct {
		env  string
		want bool
	}{{"", false}, {"0", false}, {"true", false}, {"1", true}} {
		t.Setenv("LATCH_TEST_TIMING", tt.env)
		if got := Timing(); got != tt.want {
			t.Errorf("LATCH_TEST_TIMING=%q: Timing() = %v, want %v", tt.env, got, tt.want)
		}
	}
	if got := Patience(time.Second); got != time.Second {
		t.Errorf("with LATCH_TEST_TIMING=1: Patience(1s) = %v, want 1s", got)
	}
	t.Setenv("LATCH_TEST_TIMING", "")
	if got := Patience(time.Second); got <= time.Second {
		t.Errorf("without LATCH_TEST_TIMING: Patience(1s) = %v, want more than 1s", got)
	}
	skipped := false
	t.Run("skips", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		RequireTiming(t)
	})
	if !skipped {
		t.Errorf("RequireTiming did not skip without LATCH_TEST_TIMING=1")
	}
}
