package password

import (
	"math"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// MemoryHeadroom is what MemoryLimit allows beyond the hashing memory:
// the heap of everything else (requests, database pools, caches) and the
// garbage collector's slack.
const MemoryHeadroom = 32 << 20

// MemoryLimit returns a soft memory limit (runtime/debug.SetMemoryLimit)
// for a process that hashes through h: the argon2id memory of every slot
// running at once plus MemoryHeadroom. The slots keep their memory from
// hash to hash (see ReturnMemoryWhenIdle for when they drop it), so it is
// live heap; without a limit the garbage collector lets the heap grow to
// twice what is live, so that under login load the process would hold
// about twice the hashing memory.
func (h *Hasher) MemoryLimit() int64 {
	return int64(h.cfg.MaxConcurrent)*int64(h.cfg.Memory)*1024 + MemoryHeadroom
}

// ApplyMemoryLimit sets the process's soft memory limit to h.MemoryLimit,
// unless one is already set (GOMEMLIMIT), and returns the limit in force
// and whether it was set here. It also makes h return its memory to the
// operating system once no hash has run for idle (see ReturnMemoryWhenIdle).
// Call it once, before h is used.
func (h *Hasher) ApplyMemoryLimit(idle time.Duration) (limit int64, applied bool) {
	h.ReturnMemoryWhenIdle(idle)
	if cur := debug.SetMemoryLimit(-1); cur != math.MaxInt64 {
		return cur, false
	}
	limit = h.MemoryLimit()
	debug.SetMemoryLimit(limit)
	return limit, true
}

// ReturnMemoryWhenIdle makes h drop its slots' argon2 memory and hand the
// heap's free memory back to the operating system (runtime/debug.FreeOSMemory:
// a collection, then the pages returned) once no hash has run or waited for
// idle, so that a process drops back to its idle size after a burst of
// logins instead of keeping the burst's peak. It runs once per burst, not per hash. Zero or negative
// idle: never. Call it once, before h is used.
func (h *Hasher) ReturnMemoryWhenIdle(idle time.Duration) {
	if idle <= 0 {
		return
	}
	h.idle = idle
	h.idleTimer = time.AfterFunc(time.Duration(math.MaxInt64), func() {
		if h.QueueDepth() == 0 && h.hashedSinceFree.Swap(false) {
			h.dropMemory()
			debug.FreeOSMemory()
		}
	})
}

// idleState is the part of Hasher that ReturnMemoryWhenIdle sets up.
type idleState struct {
	idle            time.Duration
	idleTimer       *time.Timer
	hashedSinceFree atomic.Bool
}

// hashed is called after each hash: with no other hash running or
// waiting, the idle timer starts again.
func (h *Hasher) hashed() {
	if h.idleTimer == nil {
		return
	}
	h.hashedSinceFree.Store(true)
	if h.QueueDepth() == 0 {
		h.idleTimer.Reset(h.idle)
	}
}
