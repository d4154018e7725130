package limit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/latchauth/latch/internal/auth"
)

// RedisTimeout bounds every Redis round trip of the shared limiter (dial,
// read, write, waiting for a pooled connection), so that a Redis that is
// down costs a request at most this much before the limiter fails open.
const RedisTimeout = 250 * time.Millisecond

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
// instances with skewed clocks agree). Errors (Redis down or slow) are
// returned after at most about RedisTimeout; auth.Service then fails open.
type Redis struct {
	c       redis.UniversalClient
	prefix  string
	now     func() time.Time // nil: Redis's clock
	onError func(error)
}

var _ auth.Limiter = (*Redis)(nil)

// RedisConfig are NewRedis's settings; the zero value is usable.
type RedisConfig struct {
	// Prefix is put before every key (default "latch:").
	Prefix string
	// Now, when set, is the clock (tests); by default the scripts read
	// Redis's own clock.
	Now func() time.Time
	// OnError, when set, is called with every error returned (metrics).
	OnError func(error)
}

// NewRedis returns a limiter on the client c (see RedisOptions for the
// timeouts it should have).
func NewRedis(c redis.UniversalClient, cfg RedisConfig) *Redis {
	if cfg.Prefix == "" {
		cfg.Prefix = "latch:"
	}
	return &Redis{c: c, prefix: cfg.Prefix, now: cfg.Now, onError: cfg.OnError}
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
// counted across every instance sharing the Redis.
func (l *Redis) Allow(ctx context.Context, key string, rate auth.Rate) (bool, time.Duration, error) {
	if rate.N <= 0 || rate.Per <= 0 {
		return true, 0, nil
	}
	interval := rate.Per / time.Duration(rate.N)
	burst := rate.Per - interval
	res, err := gcraScript.Run(ctx, l.c, []string{l.prefix + "rate:" + key},
		l.clock(), interval.Microseconds(), burst.Microseconds()).Int64Slice()
	return l.decision(res, err)
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
	res, err := peekScript.Run(ctx, l.c, []string{l.prefix + "rate:" + key},
		l.clock(), burst.Microseconds()).Int64Slice()
	return l.decision(res, err)
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
// checked, atomically and across instances, so that parallel attempts
// cannot slip past the throttle; LoginSucceeded clears it. The delays are
// Memory's (see Delay).
func (l *Redis) LoginAttempt(ctx context.Context, key string) (bool, time.Duration, error) {
	res, err := loginScript.Run(ctx, l.c, []string{l.prefix + "login:" + key}, l.clock(),
		FreeFailures, MaxFailures, MaxDelay.Microseconds(), LockDelay.Microseconds()).Int64Slice()
	return l.decision(res, err)
}

// LoginSucceeded clears the account's failures.
func (l *Redis) LoginSucceeded(ctx context.Context, key string) error {
	if err := l.c.Del(ctx, l.prefix+"login:"+key).Err(); err != nil {
		return l.fail(err)
	}
	return nil
}

func (l *Redis) decision(res []int64, err error) (bool, time.Duration, error) {
	if err != nil {
		return false, 0, l.fail(err)
	}
	if len(res) != 2 {
		return false, 0, l.fail(errors.New("unexpected script result"))
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
