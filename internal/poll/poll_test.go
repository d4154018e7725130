package poll

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// A full batch is followed by the next pass at once, a wake-up starts a
// pass long before the interval, an error is reported, and the end of
// the context ends Run.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	wake := make(chan struct{}, 1)
	passes := make(chan int, 16)
	var n atomic.Int32
	var failures atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, wake, time.Hour, func(context.Context) (bool, error) {
			i := int(n.Add(1))
			passes <- i
			switch i {
			case 1, 2:
				return true, nil // full batches: no wait
			case 3:
				return false, errors.New("store down")
			}
			return false, nil
		}, func(error) { failures.Add(1) })
	}()
	for want := 1; want <= 3; want++ {
		select {
		case got := <-passes:
			if got != want {
				t.Fatalf("pass %d, want %d", got, want)
			}
		case <-time.After(time.Minute):
			t.Fatalf("pass %d did not start (the interval is an hour: only a full batch starts one at once)", want)
		}
	}
	select {
	case <-passes:
		t.Fatal("a pass after a failed one started without a wake-up")
	case <-time.After(50 * time.Millisecond):
	}
	wake <- struct{}{}
	select {
	case <-passes:
	case <-time.After(time.Minute):
		t.Fatal("a wake-up did not start a pass")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Run did not return when its context ended")
	}
	if failures.Load() != 1 {
		t.Errorf("%d failures reported, want 1", failures.Load())
	}
}
