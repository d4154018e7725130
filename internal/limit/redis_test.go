package limit_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/limit"
	"github.com/latchauth/latch/internal/svctest"
)

// newRedis returns a limiter on the test Redis with a key prefix of t's
// own, reading time from now (nil: Redis's clock).
func newRedis(t *testing.T, now func() time.Time) *limit.Redis {
	t.Helper()
	url, prefix := svctest.Redis(t)
	return newRedisAt(t, url, prefix, now, nil)
}

// newRedisAt is newRedis on the Redis at url with the prefix; its
// timeouts are far above any pause of a busy machine, for tests of what
// the limiter decides (the outage tests use latch's own).
func newRedisAt(t *testing.T, url, prefix string, now func() time.Time, onError func(error)) *limit.Redis {
	t.Helper()
	opt, err := limit.RedisOptions(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = 10*time.Second, 10*time.Second, 10*time.Second, 10*time.Second
	return newRedisWith(t, opt, prefix, now, onError)
}

// newRedisWith returns a limiter on a client with options opt.
func newRedisWith(t *testing.T, opt *redis.Options, prefix string, now func() time.Time, onError func(error)) *limit.Redis {
	t.Helper()
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return limit.NewRedis(c, limit.RedisConfig{Prefix: prefix, Now: now, OnError: onError})
}

// The Redis limiter decides exactly as the in-process one, step by step.
func TestRedisMatchesMemory(t *testing.T) {
	ctx := context.Background()
	clk := authtest.NewClock(time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC))
	lr := newRedis(t, clk.Now)
	lm := limit.NewWithClock(clk.Now)
	rate := auth.Rate{N: 3, Per: time.Minute}

	type step struct {
		advance time.Duration
		op      string // "allow", "login", "ok" (LoginSucceeded)
	}
	steps := []step{
		{0, "allow"}, {0, "allow"}, {0, "allow"}, {0, "allow"}, // burst of 3, then refused
		{19 * time.Second, "allow"}, {time.Second, "allow"}, {0, "allow"},
		{0, "login"}, {0, "login"}, {0, "login"}, {0, "login"}, {0, "login"}, // 5 free failures
		{0, "login"}, {999 * time.Millisecond, "login"}, {time.Millisecond, "login"}, // then 1 s
		{time.Second, "login"}, {time.Second, "login"}, // then 2 s
		{0, "ok"}, {0, "login"}, {0, "login"},
	}
	for i, st := range steps {
		clk.Advance(st.advance)
		var (
			gotOK, wantOK     bool
			gotWait, wantWait time.Duration
			gotErr, wantErr   error
		)
		switch st.op {
		case "allow":
			gotOK, gotWait, gotErr = lr.Allow(ctx, "k", rate)
			wantOK, wantWait, wantErr = lm.Allow(ctx, "k", rate)
		case "login":
			gotOK, gotWait, gotErr = lr.LoginAttempt(ctx, "acct")
			wantOK, wantWait, wantErr = lm.LoginAttempt(ctx, "acct")
		case "ok":
			gotErr, wantErr = lr.LoginSucceeded(ctx, "acct"), lm.LoginSucceeded(ctx, "acct")
			gotOK, wantOK = true, true
		}
		if gotErr != nil || wantErr != nil {
			t.Fatalf("step %d (%s): errors %v (redis), %v (memory)", i, st.op, gotErr, wantErr)
		}
		if gotOK != wantOK || gotWait != wantWait {
			t.Errorf("step %d (%s after %v): redis got (%v, %v), memory (%v, %v)", i, st.op, st.advance, gotOK, gotWait, wantOK, wantWait)
		}
	}
}

// Parallel attempts on one account, from several instances, get no more
// than the throttle allows: the decision is atomic in Redis.
func TestRedisLoginAttemptParallel(t *testing.T) {
	ctx := context.Background()
	url, prefix := svctest.Redis(t)
	// Three instances, each with its own connection pool, on Redis's clock.
	instances := []*limit.Redis{
		newRedisAt(t, url, prefix, nil, nil),
		newRedisAt(t, url, prefix, nil, nil),
		newRedisAt(t, url, prefix, nil, nil),
	}
	const n = 50
	var allowed, refused atomic.Int32
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			ok, wait, err := instances[i%len(instances)].LoginAttempt(ctx, "login:account:victim@example.com")
			switch {
			case err != nil:
				t.Errorf("LoginAttempt: %v", err)
			case ok:
				allowed.Add(1)
			case wait <= 0 || wait > time.Second:
				t.Errorf("refused with wait %v, want (0, 1s]", wait)
				refused.Add(1)
			default:
				refused.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if allowed.Load() != limit.FreeFailures || refused.Load() != n-limit.FreeFailures {
		t.Errorf("%d parallel attempts: %d allowed, %d refused; want %d and %d",
			n, allowed.Load(), refused.Load(), limit.FreeFailures, n-limit.FreeFailures)
	}
}

// A per-IP rate is counted across instances.
func TestRedisAllowShared(t *testing.T) {
	ctx := context.Background()
	url, prefix := svctest.Redis(t)
	a := newRedisAt(t, url, prefix, nil, nil)
	b := newRedisAt(t, url, prefix, nil, nil)
	rate := auth.Rate{N: 10, Per: time.Minute}
	allowed := 0
	for i := range 30 {
		l := a
		if i%2 == 1 {
			l = b
		}
		ok, _, err := l.Allow(ctx, "login:ip:192.0.2.1", rate)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			allowed++
		}
	}
	if allowed != 10 {
		t.Errorf("30 events over two instances under 10/min: %d allowed, want 10", allowed)
	}
	// Another key is not affected.
	if ok, _, err := a.Allow(ctx, "login:ip:192.0.2.2", rate); !ok || err != nil {
		t.Errorf("Allow on another key: got %v, %v; want allowed", ok, err)
	}
}

// Redis down or unreachable: every call returns an error quickly, and
// OnError sees it.
func TestRedisDown(t *testing.T) {
	ctx := context.Background()
	url, prefix := svctest.Redis(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	p := svctest.NewProxy(t, opt.Addr)
	tests := []struct {
		name string
		cut  func()
	}{
		{"refused", p.Cut},
		{"black hole", p.BlackHole},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errs atomic.Int32
			opt, err := limit.RedisOptions("redis://" + p.Addr() + "/0")
			if err != nil {
				t.Fatal(err)
			}
			l := newRedisWith(t, opt, prefix, nil, func(error) { errs.Add(1) })
			if _, _, err := l.Allow(ctx, "k", auth.Rate{N: 1, Per: time.Second}); err != nil {
				t.Fatalf("Allow before the outage: %v", err)
			}
			tt.cut()
			defer p.Restore()
			calls := []func() error{
				func() error { _, _, err := l.Allow(ctx, "k", auth.Rate{N: 1, Per: time.Second}); return err },
				func() error { _, _, err := l.LoginAttempt(ctx, "a"); return err },
				func() error { return l.LoginSucceeded(ctx, "a") },
			}
			for i, call := range calls {
				start := time.Now()
				err := call()
				took := time.Since(start)
				if err == nil {
					t.Errorf("call %d during the outage: got no error", i)
				}
				if svctest.Timing() && took > 4*limit.RedisTimeout {
					t.Errorf("call %d during the outage took %v, want under %v", i, took, 4*limit.RedisTimeout)
				}
			}
			if got := errs.Load(); got != int32(len(calls)) {
				t.Errorf("OnError called %d times, want %d", got, len(calls))
			}
		})
	}
}

func TestRedisOptions(t *testing.T) {
	tests := []struct {
		url     string
		wantErr bool
		dial    time.Duration
	}{
		{url: "redis://127.0.0.1:6379/0", dial: limit.RedisTimeout},
		{url: "redis://:pw@127.0.0.1:6379/2?dial_timeout=1s", dial: time.Second},
		{url: "rediss://cache.example:6380", dial: limit.RedisTimeout},
		{url: "http://x", wantErr: true},
		{url: "redis://:hunter2@h/notanumber", wantErr: true},
	}
	for _, tt := range tests {
		opt, err := limit.RedisOptions(tt.url)
		if (err != nil) != tt.wantErr {
			t.Errorf("RedisOptions(%q): got error %v, want error %v", tt.url, err, tt.wantErr)
			continue
		}
		if err != nil {
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("RedisOptions(%q): error %q shows the password", tt.url, err)
			}
			continue
		}
		if opt.DialTimeout != tt.dial || opt.ReadTimeout != limit.RedisTimeout || opt.MaxRetries != -1 {
			t.Errorf("RedisOptions(%q): dial %v read %v retries %d; want %v, %v, -1",
				tt.url, opt.DialTimeout, opt.ReadTimeout, opt.MaxRetries, tt.dial, limit.RedisTimeout)
		}
	}
}
