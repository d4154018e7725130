package limit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
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
		op      string // "allow", "peek", "login", "ok" (LoginSucceeded)
	}
	steps := []step{
		{0, "peek"}, {0, "allow"}, {0, "peek"}, {0, "allow"}, {0, "allow"}, {0, "peek"}, {0, "peek"}, {0, "allow"}, // burst of 3, then refused
		{19 * time.Second, "peek"}, {0, "allow"}, {time.Second, "peek"}, {0, "peek"}, {0, "allow"}, {0, "peek"}, {0, "allow"},
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
		case "peek":
			gotOK, gotWait, gotErr = lr.Peek(ctx, "k", rate)
			wantOK, wantWait, wantErr = lm.Peek(ctx, "k", rate)
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

// logLines collects a logger's JSON lines.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// count returns how many lines have msg, at level.
func (l *logLines) count(t *testing.T, level, msg string) int {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["level"] == level && m["msg"] == msg {
			n++
		}
	}
	return n
}

const (
	msgFallback = "rate limiter: Redis unreachable; limits are held per instance (in process) until it answers"
	msgShared   = "rate limiter: Redis answers again; limits are shared across instances again"
)

// Redis down or unreachable: the limiter falls back to in-process limits
// with the same rates and throttle (no errors, no request let through
// that the limits refuse), says so once, counts decisions by backend,
// and goes back to Redis when it answers again.
func TestRedisFallback(t *testing.T) {
	ctx := context.Background()
	url, prefix := svctest.Redis(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	direct := redis.NewClient(opt)
	t.Cleanup(func() { direct.Close() })
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
			prefix := prefix + strings.ReplaceAll(tt.name, " ", "") + ":"
			clk := authtest.NewClock(time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC))
			var (
				logs      logLines
				errs      atomic.Int32
				mu        sync.Mutex
				decisions = map[string]int{}
			)
			opt, err := limit.RedisOptions("redis://" + p.Addr() + "/0")
			if err != nil {
				t.Fatal(err)
			}
			c := redis.NewClient(opt)
			t.Cleanup(func() { c.Close() })
			l := limit.NewRedis(c, limit.RedisConfig{
				Prefix:  prefix,
				Now:     clk.Now,
				OnError: func(error) { errs.Add(1) },
				OnDecision: func(b string) {
					mu.Lock()
					decisions[b]++
					mu.Unlock()
				},
				Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
			})
			rate := auth.Rate{N: 3, Per: time.Minute}
			decided := func(b string) int { mu.Lock(); defer mu.Unlock(); return decisions[b] }

			// Before the outage: Redis decides; an account collects failures.
			if ok, _, err := l.Allow(ctx, "before", rate); !ok || err != nil {
				t.Fatalf("Allow before the outage: %v, %v", ok, err)
			}
			for range 3 {
				if ok, _, err := l.LoginAttempt(ctx, "returning"); !ok || err != nil {
					t.Fatalf("LoginAttempt before the outage: %v, %v", ok, err)
				}
			}
			if decided(limit.BackendRedis) != 4 || l.Fallback() {
				t.Fatalf("before the outage: decisions %v, fallback %v; want 4 by redis", decisions, l.Fallback())
			}

			tt.cut()
			// The same rate: 3 a minute, then refused with the wait.
			for i := range 5 {
				start := time.Now()
				ok, wait, err := l.Allow(ctx, "k", rate)
				if svctest.Timing() && time.Since(start) > 4*limit.RedisTimeout {
					t.Errorf("Allow %d during the outage took %v, want under %v", i, time.Since(start), 4*limit.RedisTimeout)
				}
				if err != nil {
					t.Fatalf("Allow %d during the outage: %v, want the in-process decision", i, err)
				}
				if want := i < 3; ok != want || (!ok && wait != 20*time.Second) {
					t.Errorf("Allow %d during the outage: %v (wait %v), want %v", i, ok, wait, want)
				}
			}
			// The same throttle: 5 free failures, then a second's wait.
			for i := range 8 {
				ok, wait, err := l.LoginAttempt(ctx, "victim")
				if err != nil {
					t.Fatalf("LoginAttempt %d during the outage: %v", i, err)
				}
				if want := i < limit.FreeFailures; ok != want || (!ok && wait != time.Second) {
					t.Errorf("LoginAttempt %d during the outage: %v (wait %v), want %v", i, ok, wait, want)
				}
			}
			// A login that succeeds meanwhile is cleared in Redis later.
			if err := l.LoginSucceeded(ctx, "returning"); err != nil {
				t.Errorf("LoginSucceeded during the outage: %v", err)
			}
			if !l.Fallback() || decided(limit.BackendMemory) != 13 || errs.Load() < 1 {
				t.Errorf("during the outage: fallback %v, decisions %v, %d errors; want 13 by memory and errors counted",
					l.Fallback(), decisions, errs.Load())
			}
			if n := logs.count(t, "WARN", msgFallback); n != 1 {
				t.Errorf("%d warnings about the fallback, want 1 for the outage", n)
			}
			// Probes run at most once a second: a burst of decisions in
			// fallback does not hammer Redis (nor log).
			for range 50 {
				l.Allow(ctx, "burst", rate)
			}
			if n := logs.count(t, "WARN", msgFallback); n != 1 {
				t.Errorf("%d warnings about the fallback after more decisions, want 1", n)
			}

			p.Restore()
			deadline := time.Now().Add(20 * time.Second)
			for l.Fallback() {
				if time.Now().After(deadline) {
					t.Fatalf("still in fallback 20s after Redis came back")
				}
				l.Allow(ctx, "probe", rate) // decisions start the probes
				time.Sleep(50 * time.Millisecond)
			}
			if n := logs.count(t, "INFO", msgShared); n != 1 {
				t.Errorf("%d info lines about Redis answering again, want 1", n)
			}
			// Decisions are Redis's again: the key is in Redis.
			redisBefore := decided(limit.BackendRedis)
			if ok, _, err := l.Allow(ctx, "after", rate); !ok || err != nil {
				t.Fatalf("Allow after the outage: %v, %v", ok, err)
			}
			if decided(limit.BackendRedis) != redisBefore+1 {
				t.Errorf("decision after the outage not taken by redis: %v", decisions)
			}
			if n, err := direct.Exists(ctx, prefix+"rate:after").Result(); err != nil || n != 1 {
				t.Errorf("rate key in Redis after the outage: %d, %v; want it there", n, err)
			}
			// The login that succeeded during the outage cleared the
			// failures Redis had kept.
			if n, err := direct.Exists(ctx, prefix+"login:returning").Result(); err != nil || n != 0 {
				t.Errorf("throttle of an account that logged in during the outage still in Redis: %d, %v", n, err)
			}
		})
	}
}

// In-process decisions taken while Redis answers count this instance's
// history: a fallback does not start from zero.
func TestRedisFallbackKeepsHistory(t *testing.T) {
	ctx := context.Background()
	url, prefix := svctest.Redis(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	p := svctest.NewProxy(t, opt.Addr)
	clk := authtest.NewClock(time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC))
	ropt, err := limit.RedisOptions("redis://" + p.Addr() + "/0")
	if err != nil {
		t.Fatal(err)
	}
	l := newRedisWith(t, ropt, prefix, clk.Now, nil)
	for i := range 4 {
		if ok, _, err := l.LoginAttempt(ctx, "acct"); !ok || err != nil {
			t.Fatalf("LoginAttempt %d: %v, %v", i, ok, err)
		}
	}
	p.Cut()
	defer p.Restore()
	if ok, _, _ := l.LoginAttempt(ctx, "acct"); !ok {
		t.Fatalf("fifth failure refused")
	}
	if ok, wait, _ := l.LoginAttempt(ctx, "acct"); ok || wait != time.Second {
		t.Errorf("sixth attempt in fallback after 4 failures on Redis: allowed %v (wait %v), want refused for 1s", ok, wait)
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

// A request given up on (its context ended) says nothing about Redis: no
// fallback.
func TestRedisCallerGaveUp(t *testing.T) {
	l := newRedis(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l.Allow(ctx, "k", auth.Rate{N: 1, Per: time.Second})
	l.LoginAttempt(ctx, "a")
	l.LoginSucceeded(ctx, "a")
	if l.Fallback() {
		t.Errorf("in fallback after calls whose context had ended")
	}
	if ok, _, err := l.Allow(context.Background(), "k2", auth.Rate{N: 1, Per: time.Second}); !ok || err != nil || l.Fallback() {
		t.Errorf("Allow after: %v, %v, fallback %v", ok, err, l.Fallback())
	}
}
