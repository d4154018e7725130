package limit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/latchauth/latch/internal/auth"
)

// RedisTimeout bounds every Redis round trip of the shared limiter (dial,
// read, write, waiting for a pooled connection), so that a Redis that is
// down costs a request at most this much before the limiter falls back to
// its in-process limits.
const RedisTimeout = 250 * time.Millisecond

// ProbeInterval is how often a limiter in fallback tries Redis again
// (one PING in the background, never on a request's path).
const ProbeInterval = time.Second

// The backends a decision can come from (RedisConfig.OnDecision).
const (
	BackendRedis  = "redis"
	BackendMemory = "memory"
)

// maxPendingClears bounds the accounts whose throttle state, cleared by a
// successful login during a fallback, is cleared in Redis once it answers.
const maxPendingClears = 10000

// RedisOptions parses a redis:// or rediss:// URL into client options with
// latch's short timeouts and no retries: a limiter must fail fast. The URL
// may carry go-redis parameters (db, dial_timeout, ...); its own timeouts
// win over the defaults.
func RedisOptions(url string) (*redis.Options, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		// go-redis errors do not repeat the password.
		return nil, fmt.Errorf("limit: LATCH_REDIS_URL: %w", err)
	}
	if opt.DialTimeout == 0 {
		opt.DialTimeout = RedisTimeout
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = RedisTimeout
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = RedisTimeout
	}
	if opt.PoolTimeout == 0 {
		opt.PoolTimeout = RedisTimeout
	}
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	opt.ContextTimeoutEnabled = true
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return opt, nil
}

// Redis is an auth.Limiter shared by every latch instance through Redis:
// the same GCRA rates and login throttling as Memory, each decision taken
// atomically by a Lua script on the server, with the server's clock (so
// instances with skewed clocks agree).
//
// When Redis fails (down, or slower than RedisTimeout) the limiter falls
// back to an in-process Memory with the same rates: limits then hold per
// instance, weaker than global ones but never absent. That Memory also
// counts, while Redis answers, what this instance lets through, so a
// fallback starts from this instance's history. In fallback a PING every
// ProbeInterval, in the background, finds when Redis answers again; then
// decisions go back to Redis. Each change of mode is logged once.
type Redis struct {
	c          redis.UniversalClient
	prefix     string
	now        func() time.Time // nil: Redis's clock
	onError    func(error)
	onDecision func(string)
	log        *slog.Logger
	mem        *Memory
	probeEvery time.Duration

	mu        sync.Mutex
	fallback  bool
	probing   bool
	nextProbe time.Time
	clears    map[string]struct{} // login keys to clear in Redis when it answers
}

var _ auth.Limiter = (*Redis)(nil)

// RedisConfig are NewRedis's settings; the zero value is usable.
type RedisConfig struct {
	// Prefix is put before every key (default "latch:").
	Prefix string
	// Now, when set, is the clock (tests); by default the scripts read
	// Redis's own clock, and the fallback the wall clock.
	Now func() time.Time
	// OnError, when set, is called with every Redis error (metrics).
	OnError func(error)
	// OnDecision, when set, is called with BackendRedis or BackendMemory
	// for every decision (Allow, LoginAttempt) taken (metrics).
	OnDecision func(backend string)
	// Logger receives the changes of mode (default discard).
	Logger *slog.Logger
	// ProbeInterval overrides ProbeInterval (tests).
	ProbeInterval time.Duration
}

// NewRedis returns a limiter on the client c (see RedisOptions for the
// timeouts it should have).
func NewRedis(c redis.UniversalClient, cfg RedisConfig) *Redis {
	if cfg.Prefix == "" {
		cfg.Prefix = "latch:"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = ProbeInterval
	}
	memClock := cfg.Now
	if memClock == nil {
		memClock = time.Now
	}
	return &Redis{
		c: c, prefix: cfg.Prefix, now: cfg.Now, onError: cfg.OnError, onDecision: cfg.OnDecision,
		log: cfg.Logger, mem: NewWithClock(memClock), probeEvery: cfg.ProbeInterval,
		clears: make(map[string]struct{}),
	}
}

// Fallback reports whether decisions are taken in process because Redis
// did not answer.
func (l *Redis) Fallback() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fallback
}

// useRedis reports whether to ask Redis; in fallback it starts a probe
// when one is due.
func (l *Redis) useRedis() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.fallback {
		return true
	}
	if !l.probing && !time.Now().Before(l.nextProbe) {
		l.probing = true
		go l.probe()
	}
	return false
}

// probe pings Redis and leaves the fallback when it answers, first
// clearing the throttle of accounts that logged in meanwhile.
func (l *Redis) probe() {
	ctx, cancel := context.WithTimeout(context.Background(), 4*RedisTimeout)
	defer cancel()
	err := l.c.Ping(ctx).Err()
	l.mu.Lock()
	var clears []string
	if err == nil {
		for k := range l.clears {
			clears = append(clears, k)
		}
	}
	l.mu.Unlock()
	for len(clears) > 0 && err == nil {
		n := min(len(clears), 500)
		err = l.c.Del(ctx, clears[:n]...).Err()
		if err == nil {
			l.mu.Lock()
			for _, k := range clears[:n] {
				delete(l.clears, k)
			}
			l.mu.Unlock()
		}
		clears = clears[n:]
	}
	l.mu.Lock()
	l.probing = false
	if err != nil {
		l.nextProbe = time.Now().Add(l.probeEvery)
		l.mu.Unlock()
		return
	}
	if len(l.clears) > 0 { // logins succeeded meanwhile: clear them first
		l.nextProbe = time.Now()
		l.mu.Unlock()
		return
	}
	l.fallback = false
	l.mu.Unlock()
	l.log.Info("rate limiter: Redis answers again; limits are shared across instances again")
}

// degrade reports err and enters the fallback (logged once per outage),
// unless the caller's context ended first: a request given up on says
// nothing about Redis.
func (l *Redis) degrade(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	err = l.fail(err)
	l.mu.Lock()
	if l.fallback {
		l.mu.Unlock()
		return
	}
	l.fallback = true
	l.nextProbe = time.Now().Add(l.probeEvery)
	l.mu.Unlock()
	l.log.Warn("rate limiter: Redis unreachable; limits are held per instance (in process) until it answers", "err", err)
}

func (l *Redis) decided(backend string) {
	if l.onDecision != nil {
		l.onDecision(backend)
	}
}

// clock returns the ARGV value for "now" in microseconds: "" lets the
// script read Redis's clock.
func (l *Redis) clock() string {
	if l.now == nil {
		return ""
	}
	return strconv.FormatInt(l.now().UnixMicro(), 10)
}

// luaNow reads now (microseconds) from ARGV[1], or from Redis's clock.
const luaNow = `
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
`

// gcraScript: ARGV = now, interval (µs), tolerance (µs). Returns
// {allowed 0/1, retry after µs}.
var gcraScript = redis.NewScript(luaNow + `
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
local allow_at = tat - burst
if now < allow_at then
  return {0, allow_at - now}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return {1, 0}
`)

// Allow implements GCRA: rate.N events per rate.Per with a burst of rate.N,
// counted across every instance sharing the Redis (per instance in
// fallback).
func (l *Redis) Allow(ctx context.Context, key string, rate auth.Rate) (bool, time.Duration, error) {
	if rate.N <= 0 || rate.Per <= 0 {
		return true, 0, nil
	}
	interval := rate.Per / time.Duration(rate.N)
	burst := rate.Per - interval
	return l.decide(ctx, func() *redis.Cmd {
		return gcraScript.Run(ctx, l.c, []string{l.prefix + "rate:" + key},
			l.clock(), interval.Microseconds(), burst.Microseconds())
	}, func() (bool, time.Duration, error) { return l.mem.Allow(ctx, key, rate) }, true)
}

// decide takes a decision with run's script on Redis while Redis answers,
// else from the in-process limiter (memory). With mirror, an event Redis
// allowed is also counted in process, so that a fallback starts from this
// instance's history rather than from nothing.
func (l *Redis) decide(ctx context.Context, run func() *redis.Cmd, memory func() (bool, time.Duration, error), mirror bool) (bool, time.Duration, error) {
	if l.useRedis() {
		ok, wait, err := decision(run().Int64Slice())
		if err == nil {
			l.decided(BackendRedis)
			if ok && mirror {
				_, _, _ = memory()
			}
			return ok, wait, nil
		}
		l.degrade(ctx, err)
	}
	l.decided(BackendMemory)
	return memory()
}

// peekScript: gcraScript's decision without its write. ARGV = now,
// tolerance (µs). Returns {allowed 0/1, retry after µs}.
var peekScript = redis.NewScript(luaNow + `
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
local allow_at = tat - burst
if now < allow_at then
  return {0, allow_at - now}
end
return {1, 0}
`)

// Peek reports whether Allow would allow one more event, counting nothing.
func (l *Redis) Peek(ctx context.Context, key string, rate auth.Rate) (bool, time.Duration, error) {
	if rate.N <= 0 || rate.Per <= 0 {
		return true, 0, nil
	}
	burst := rate.Per - rate.Per/time.Duration(rate.N)
	return l.decide(ctx, func() *redis.Cmd {
		return peekScript.Run(ctx, l.c, []string{l.prefix + "rate:" + key}, l.clock(), burst.Microseconds())
	}, func() (bool, time.Duration, error) { return l.mem.Peek(ctx, key, rate) }, false)
}

// loginScript: ARGV = now, FreeFailures, MaxFailures, MaxDelay, LockDelay
// (durations in µs). Counts an attempt as a failure unless the account must
// wait; the wait after n failures is Delay(n). Returns {allowed, wait µs}.
var loginScript = redis.NewScript(luaNow + `
local free, maxf = tonumber(ARGV[2]), tonumber(ARGV[3])
local maxd, lockd = tonumber(ARGV[4]), tonumber(ARGV[5])
local st = redis.call('HMGET', KEYS[1], 'f', 'n')
local failures = tonumber(st[1]) or 0
local next_allowed = tonumber(st[2]) or 0
if now < next_allowed then
  return {0, next_allowed - now}
end
failures = failures + 1
local d = 0
if failures >= maxf then
  d = lockd
elseif failures >= free then
  local shift = failures - free
  if shift > 20 then d = maxd else d = math.min(1000000 * 2 ^ shift, maxd) end
end
redis.call('HSET', KEYS[1], 'f', failures, 'n', string.format('%.0f', now + d))
redis.call('PEXPIRE', KEYS[1], math.ceil(math.max(d, lockd) / 1000) + 1000)
return {1, 0}
`)

// LoginAttempt counts an attempt as a failure before the password is
// checked, atomically and across instances (per instance in fallback), so
// that parallel attempts cannot slip past the throttle; LoginSucceeded
// clears it. The delays are Memory's (see Delay).
func (l *Redis) LoginAttempt(ctx context.Context, key string) (bool, time.Duration, error) {
	return l.decide(ctx, func() *redis.Cmd {
		return loginScript.Run(ctx, l.c, []string{l.prefix + "login:" + key}, l.clock(),
			FreeFailures, MaxFailures, MaxDelay.Microseconds(), LockDelay.Microseconds())
	}, func() (bool, time.Duration, error) { return l.mem.LoginAttempt(ctx, key) }, true)
}

// LoginSucceeded clears the account's failures; in fallback, in Redis too
// once it answers again.
func (l *Redis) LoginSucceeded(ctx context.Context, key string) error {
	_ = l.mem.LoginSucceeded(ctx, key)
	k := l.prefix + "login:" + key
	if l.useRedis() {
		err := l.c.Del(ctx, k).Err()
		if err == nil {
			return nil
		}
		l.degrade(ctx, err)
	}
	l.mu.Lock()
	if len(l.clears) < maxPendingClears {
		l.clears[k] = struct{}{}
	}
	l.mu.Unlock()
	return nil
}

func decision(res []int64, err error) (bool, time.Duration, error) {
	if err != nil {
		return false, 0, err
	}
	if len(res) != 2 {
		return false, 0, errors.New("unexpected script result")
	}
	if res[0] == 1 {
		return true, 0, nil
	}
	return false, time.Duration(res[1]) * time.Microsecond, nil
}

func (l *Redis) fail(err error) error {
	err = fmt.Errorf("limit: redis: %w", err)
	if l.onError != nil {
		l.onError(err)
	}
	return err
}
