package password

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestMemoryLimit(t *testing.T) {
	h := NewHasher(Config{MaxConcurrent: 2})
	if got, want := h.MemoryLimit(), int64(2*19456*1024+32<<20); got != want {
		t.Errorf("MemoryLimit() = %d, want %d (two slots of 19 MiB + 32 MiB)", got, want)
	}
	h = NewHasher(Config{MaxConcurrent: 3, Memory: 64 * 1024})
	if got, want := h.MemoryLimit(), int64(3*64<<20+32<<20); got != want {
		t.Errorf("MemoryLimit() = %d, want %d", got, want)
	}
}

// ApplyMemoryLimit sets the limit unless one is set already (GOMEMLIMIT).
// Not parallel: the limit is the process's.
func TestApplyMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })

	h := NewHasher(Config{MaxConcurrent: 2})
	limit, applied := h.ApplyMemoryLimit(0)
	if !applied || limit != h.MemoryLimit() || debug.SetMemoryLimit(-1) != h.MemoryLimit() {
		t.Errorf("ApplyMemoryLimit with no limit set = %d, %v; process limit %d; want %d applied", limit, applied, debug.SetMemoryLimit(-1), h.MemoryLimit())
	}
	debug.SetMemoryLimit(1 << 30) // as GOMEMLIMIT=1GiB would
	limit, applied = h.ApplyMemoryLimit(0)
	if applied || limit != 1<<30 || debug.SetMemoryLimit(-1) != 1<<30 {
		t.Errorf("ApplyMemoryLimit with a limit set = %d, %v; want the set limit kept", limit, applied)
	}
}

// After a hash, once the hasher has been idle, the heap's free memory is
// handed back: a forced collection runs (debug.FreeOSMemory).
func TestReturnMemoryWhenIdle(t *testing.T) {
	forced := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	h := NewHasher(Config{MaxConcurrent: 1})
	h.ReturnMemoryWhenIdle(10 * time.Millisecond)
	before := forced()
	if _, err := h.Hash(context.Background(), "zebra-lantern-41-quiet"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for forced() == before {
		if time.Now().After(deadline) {
			t.Fatal("no forced collection within a minute of the hasher going idle")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A slot keeps its argon2 memory from hash to hash, never more than one
// per slot, and not the larger memory an imported hash needed; idle, the
// hasher lets it go.
func TestSlotsReuseMemory(t *testing.T) {
	ctx := context.Background()
	h := NewHasher(Config{MaxConcurrent: 2})
	enc, err := h.Hash(ctx, "zebra-lantern-41-quiet")
	if err != nil {
		t.Fatal(err)
	}
	if len(h.mems) != 1 {
		t.Fatalf("%d memories kept after one hash, want 1", len(h.mems))
	}
	m := <-h.mems
	if m.Size() != 19456*1024 {
		t.Fatalf("kept memory of %d bytes, want 19 MiB", m.Size())
	}
	h.mems <- m
	for range 3 {
		if ok, _, err := h.Verify(ctx, "zebra-lantern-41-quiet", enc); err != nil || !ok {
			t.Fatalf("Verify = %v, %v", ok, err)
		}
	}
	if len(h.mems) != 1 || <-h.mems != m {
		t.Fatal("sequential hashes did not reuse the one memory")
	}
	h.mems <- m

	big := NewHasher(Config{MaxConcurrent: 1, Memory: 32 * 1024})
	encBig, err := big.Hash(ctx, "zebra-lantern-41-quiet")
	if err != nil {
		t.Fatal(err)
	}
	<-h.mems
	if ok, _, err := h.Verify(ctx, "zebra-lantern-41-quiet", encBig); err != nil || !ok {
		t.Fatalf("Verify of a 32 MiB hash = %v, %v", ok, err)
	}
	if len(h.mems) != 0 {
		t.Error("the memory grown for an imported 32 MiB hash was kept")
	}

	h.ReturnMemoryWhenIdle(5 * time.Millisecond)
	if _, err := h.Hash(ctx, "zebra-lantern-41-quiet"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for len(h.mems) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the slots' memory was kept a minute after the hasher went idle")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
