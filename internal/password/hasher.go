// Package password hashes and verifies passwords and checks them against
// latch's password policy (api.md, NIST SP 800-63B).
//
// New hashes are argon2id PHC strings with OWASP's parameters or stronger.
// Verify also accepts bcrypt hashes ($2a$, $2b$, $2y$) imported from Devise,
// Passport or bcryptjs, and reports that they need a rehash. Every hash
// computation runs behind a concurrency limit sized to the cores, so a
// login flood queues, or fails fast with ErrBusy, instead of exhausting
// memory.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"

	"github.com/latchauth/latch/internal/argon2"
)

// Defaults of Config. DefaultMemory and DefaultTime are OWASP's minimum
// argon2id parameters (19 MiB, 2 passes, 1 lane).
const (
	DefaultMemory  = 19 * 1024 // KiB
	DefaultTime    = 2
	DefaultThreads = 1

	saltLen = 16
	keyLen  = 32
)

// Limits on parameters read from an encoded hash, so that a hostile or
// corrupt hash (hashes may be imported) cannot exhaust memory or CPU.
// A Hasher whose own Config exceeds a limit raises that limit to match.
const (
	MaxArgon2Memory  = 1 << 20 // KiB (1 GiB)
	MaxArgon2Time    = 10
	MaxArgon2Threads = 16
	MaxBcryptCost    = 15

	maxEncodedLen = 512
)

// bcryptMaxBytes is the longest password bcrypt reads; longer ones are
// silently truncated by every implementation (x/crypto/bcrypt included).
const bcryptMaxBytes = 72

// ErrBusy is returned by Hash and Verify when every hashing slot is taken
// and the wait queue is full. The server answers 503 unavailable with a
// Retry-After: auth.Service knows it by its Busy method, without importing
// this package.
var ErrBusy error = busyError{}

type busyError struct{}

func (busyError) Error() string { return "password: hashing queue full" }

// Busy reports that the hashing queue was full: the request may succeed
// when retried shortly.
func (busyError) Busy() bool { return true }

// ErrMalformedHash is returned (wrapped, with detail) by Verify for an
// encoded hash of a known scheme that does not parse or whose parameters
// are out of range.
var ErrMalformedHash = errors.New("password: malformed hash")

// ErrUnsupportedHash is returned (wrapped) by Verify for an encoded hash of
// a scheme or version this package does not verify.
var ErrUnsupportedHash = errors.New("password: unsupported hash scheme")

// Config configures a Hasher. Zero values mean the documented defaults.
type Config struct {
	// Memory is argon2id's memory in KiB; default and minimum 19*1024
	// (OWASP). Smaller values are raised to the minimum.
	Memory uint32
	// Time is argon2id's number of passes; default 2. A value of 1 is
	// raised to 2 unless Memory is at least 46 MiB (OWASP's equivalent).
	Time uint32
	// Threads is argon2id's parallelism; default 1.
	Threads uint8
	// MaxConcurrent is the number of hashes running at once; default
	// runtime.GOMAXPROCS(0).
	MaxConcurrent int
	// MaxQueue is the number of callers allowed to wait for a slot;
	// default 4*MaxConcurrent, at least 8. Beyond it Hash and Verify
	// return ErrBusy at once. A negative value allows no waiting at all.
	//
	// The queue is short on purpose: a caller admitted waits for at most
	// MaxQueue/MaxConcurrent hashes ahead of it, so under overload the
	// logins that are admitted stay within a few hash times and the excess
	// is refused at once (503 with Retry-After) rather than after waiting
	// in a queue it would time out in anyway.
	MaxQueue int
}

// limits bounds the parameters accepted from encoded hashes.
type limits struct {
	memory     uint32 // KiB
	time       uint32
	threads    uint8
	bcryptCost int
}

// Hasher hashes passwords with argon2id and verifies argon2id and bcrypt
// hashes, at most Config.MaxConcurrent at a time. It is safe for
// concurrent use.
type Hasher struct {
	cfg Config
	lim limits
	sem chan struct{}
	// mems holds the argon2 working memory of the slots not hashing now:
	// at most one per slot, each used by one hash at a time.
	mems    chan *argon2.Memory
	waiting atomic.Int64
	running atomic.Int64
	dummy   string
	idleState
}

// NewHasher returns a Hasher for cfg, with defaults filled in.
func NewHasher(cfg Config) *Hasher {
	if cfg.Memory < DefaultMemory {
		cfg.Memory = DefaultMemory
	}
	if cfg.Time == 0 {
		cfg.Time = DefaultTime
	}
	if cfg.Time < 2 && cfg.Memory < 46*1024 {
		cfg.Time = 2
	}
	if cfg.Threads == 0 {
		cfg.Threads = DefaultThreads
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = runtime.GOMAXPROCS(0)
	}
	switch {
	case cfg.MaxQueue == 0:
		cfg.MaxQueue = max(4*cfg.MaxConcurrent, 8)
	case cfg.MaxQueue < 0:
		cfg.MaxQueue = 0
	}
	h := &Hasher{
		cfg: cfg,
		lim: limits{
			memory:     max(MaxArgon2Memory, cfg.Memory),
			time:       max(MaxArgon2Time, cfg.Time),
			threads:    max(MaxArgon2Threads, cfg.Threads),
			bcryptCost: MaxBcryptCost,
		},
		sem:  make(chan struct{}, cfg.MaxConcurrent),
		mems: make(chan *argon2.Memory, cfg.MaxConcurrent),
	}
	// The dummy hash has the current parameters and a random salt and key:
	// no password matches it (but for a chance of 2^-256), and verifying
	// against it costs exactly what verifying a real current hash costs.
	salt, key := make([]byte, saltLen), make([]byte, keyLen)
	rand.Read(salt)
	rand.Read(key)
	h.dummy = h.encode(salt, key)
	return h
}

// Config returns the Hasher's configuration with defaults filled in.
func (h *Hasher) Config() Config { return h.cfg }

// Hash returns the argon2id PHC string of the NFC-normalised pw, e.g.
// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>" (16-byte salt, 32-byte
// key, unpadded standard base64).
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: reading salt: %w", err)
	}
	mem, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer h.release(mem)
	key := argon2.IDKey(mem, []byte(Normalize(pw)), salt, h.cfg.Time, h.cfg.Memory, h.cfg.Threads, keyLen)
	return h.encode(salt, key), nil
}

func (h *Hasher) encode(salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		h.cfg.Memory, h.cfg.Time, h.cfg.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// Verify reports whether pw matches encoded, an argon2id (or argon2i) PHC
// string with any parameters within this package's limits, or a bcrypt
// hash with prefix $2a$, $2b$ or $2y$.
//
// needsRehash reports whether encoded is weaker than a fresh Hash would be
// (always for bcrypt and argon2i; for argon2id when its memory, passes,
// salt or key length fall short of the Hasher's); the caller replaces the
// stored hash after a successful Verify when it is set.
//
// pw is compared after NFC normalisation. For bcrypt, whose importers did
// not normalise, pw is also tried as given when that differs. A password
// longer than bcrypt's 72 bytes never matches a bcrypt hash (bcrypt would
// silently compare only its first 72 bytes), yet costs the same time.
//
// A malformed encoded hash is an error wrapping ErrMalformedHash, an
// unknown scheme one wrapping ErrUnsupportedHash. When no slot is free and
// the queue is full, Verify returns ErrBusy; when ctx ends while waiting,
// ctx.Err().
func (h *Hasher) Verify(ctx context.Context, pw, encoded string) (ok bool, needsRehash bool, err error) {
	d, err := h.parse(encoded)
	if err != nil {
		return false, false, err
	}
	mem, err := h.acquire(ctx)
	if err != nil {
		return false, false, err
	}
	defer h.release(mem)

	npw := Normalize(pw)
	switch d.scheme {
	case schemeBcrypt:
		ok = bcryptMatch(d.raw, npw)
		if npw != pw {
			ok = bcryptMatch(d.raw, pw) || ok
		}
		return ok, true, nil
	default:
		var key []byte
		if d.scheme == schemeArgon2id {
			key = argon2.IDKey(mem, []byte(npw), d.salt, d.time, d.memory, d.threads, uint32(len(d.key)))
		} else {
			key = argon2.Key(mem, []byte(npw), d.salt, d.time, d.memory, d.threads, uint32(len(d.key)))
		}
		ok = subtle.ConstantTimeCompare(key, d.key) == 1
		needsRehash = d.scheme != schemeArgon2id ||
			d.memory < h.cfg.Memory || d.time < h.cfg.Time ||
			len(d.salt) < saltLen || len(d.key) < keyLen
		return ok, needsRehash, nil
	}
}

// Recognized reports whether Verify can check passwords against encoded:
// nil for a well-formed argon2id, argon2i or bcrypt hash within the
// Hasher's limits, else an error wrapping ErrMalformedHash or
// ErrUnsupportedHash. It hashes nothing and takes no slot, so that imports
// can check many hashes fast. Its error never contains the hash.
func (h *Hasher) Recognized(encoded string) error {
	_, err := h.parse(encoded)
	return err
}

// bcryptMatch compares pw against the bcrypt hash encoded. A pw longer
// than 72 bytes is still run through bcrypt, for equal timing, but never
// matches.
func bcryptMatch(encoded []byte, pw string) bool {
	err := bcrypt.CompareHashAndPassword(encoded, []byte(pw))
	return err == nil && len(pw) <= bcryptMaxBytes
}

// DummyHash returns an argon2id hash with the Hasher's current parameters
// that no password matches. Verify(ctx, pw, h.DummyHash()) costs what a
// Verify of a current hash costs, and reports ErrBusy like one.
func (h *Hasher) DummyHash() string { return h.dummy }

// VerifyDummy spends the time of a Verify against an argon2id hash with the
// current parameters, for a login to an unknown account; the match result is
// discarded. It passes through the concurrency limit like Verify and returns
// its error (ErrBusy when the queue is full), so that an unknown account is
// answered exactly like a known one under load.
func (h *Hasher) VerifyDummy(ctx context.Context, pw string) error {
	_, _, err := h.Verify(ctx, pw, h.dummy)
	return err
}

// QueueDepth returns the number of callers waiting for a hashing slot plus
// those holding one, for metrics.
func (h *Hasher) QueueDepth() int {
	return int(h.waiting.Load() + h.running.Load())
}

// Saturated reports whether a hash started now would be refused with
// ErrBusy: every slot is taken and the queue is full. Callers check it
// before the work that leads up to a hash (a database lookup), so that
// under overload the excess is refused before it costs anything. It is a
// hint; Hash and Verify decide.
func (h *Hasher) Saturated() bool {
	return h.running.Load() >= int64(h.cfg.MaxConcurrent) && h.waiting.Load() >= int64(h.cfg.MaxQueue)
}

// acquire takes a hashing slot, waiting while the queue has room, and
// returns the slot's argon2 memory.
func (h *Hasher) acquire(ctx context.Context) (*argon2.Memory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case h.sem <- struct{}{}:
		return h.took(), nil
	default:
	}
	if h.waiting.Add(1) > int64(h.cfg.MaxQueue) {
		h.waiting.Add(-1)
		return nil, ErrBusy
	}
	defer h.waiting.Add(-1)
	select {
	case h.sem <- struct{}{}:
		return h.took(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// took counts a slot taken and hands it a memory: a free one, or a new
// one that grows on first use.
func (h *Hasher) took() *argon2.Memory {
	h.running.Add(1)
	select {
	case m := <-h.mems:
		return m
	default:
		return new(argon2.Memory)
	}
}

// release gives the slot back, and its memory unless a hash with a larger
// memory parameter than the Hasher's own (an imported hash) grew it.
func (h *Hasher) release(m *argon2.Memory) {
	if m.Size() <= int(h.cfg.Memory)*1024 {
		select {
		case h.mems <- m:
		default:
		}
	}
	h.running.Add(-1)
	<-h.sem
	h.hashed()
}

// dropMemory lets the free slots' memory go, for the garbage collector to
// take back.
func (h *Hasher) dropMemory() {
	for {
		select {
		case <-h.mems:
		default:
			return
		}
	}
}
