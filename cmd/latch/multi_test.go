package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for checks
	"github.com/redis/go-redis/v9"

	"github.com/latchauth/latch/internal/limit"
	"github.com/latchauth/latch/internal/mail"
	"github.com/latchauth/latch/internal/svctest"
)

// Several latch instances on one PostgreSQL and one Redis.

const testSecret = "0123456789abcdef0123456789abcdef-multi-instance"

// cluster is several latch instances sharing a database and a Redis,
// behind a round-robin reverse proxy.
type cluster struct {
	t     *testing.T
	nodes []*server
	proxy *server // requests through the proxy; do/want work on it
	dbURL string
	db    *sql.DB // direct connection for checks
}

// sharedEnv returns the environment of instances sharing a fresh
// PostgreSQL schema and a Redis prefix (skipping t when either is absent).
func sharedEnv(t *testing.T) map[string]string {
	t.Helper()
	dbURL := svctest.PostgresURL(t)
	redisURL, prefix := svctest.Redis(t)
	return map[string]string{
		"LATCH_ADDR":            "127.0.0.1:0",
		"LATCH_DATABASE_URL":    dbURL,
		"LATCH_REDIS_URL":       redisURL,
		"LATCH_REDIS_PREFIX":    prefix,
		"LATCH_SECRET":          testSecret,
		"LATCH_LOG_FORMAT":      "json",
		"LATCH_PUBLIC_URL":      "http://latch.test",
		"LATCH_TRUSTED_PROXIES": "127.0.0.1",
		"LATCH_METRICS_ADDR":    "127.0.0.1:0",
	}
}

func startCluster(t *testing.T, n int, env map[string]string) *cluster {
	t.Helper()
	c := &cluster{t: t, dbURL: env["LATCH_DATABASE_URL"]}
	var targets []*url.URL
	for range n {
		s := startWith(t, env)
		c.nodes = append(c.nodes, s)
		u, _ := url.Parse(s.URL)
		targets = append(targets, u)
	}
	var next atomic.Uint64
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(targets[next.Add(1)%uint64(len(targets))])
		// The hops before this proxy (the tests' stand-in for clients
		// behind other proxies), then the peer.
		pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
		pr.SetXForwarded()
		pr.Out.Host = pr.In.Host
	}}
	front := httptest.NewServer(rp)
	t.Cleanup(front.Close)
	c.proxy = &server{t: t, URL: front.URL}
	db, err := sql.Open("pgx", c.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c.db = db
	return c
}

// mailTo waits for the n-th mail to addr, whichever instance sent it.
func (c *cluster) mailTo(addr string, n int) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(svctest.Patience(10 * time.Second))
	for {
		var seen []map[string]any
		for _, s := range c.nodes {
			s.logs.mu.Lock()
			for _, l := range s.logs.lines {
				if l["to"] == addr && l["msg"] == mail.LogMessage {
					seen = append(seen, l)
				}
			}
			s.logs.mu.Unlock()
		}
		if len(seen) >= n {
			// In the order sent: the instances' logs are read one after
			// another, and any instance's worker may send any mail.
			slices.SortStableFunc(seen, func(a, b map[string]any) int { return logTime(a).Compare(logTime(b)) })
			return seen[n-1]
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no mail #%d to %s within %v", n, addr, svctest.Patience(10*time.Second))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logTime is when a JSON log line was written.
func logTime(l map[string]any) time.Time {
	s, _ := l["time"].(string)
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func (c *cluster) count(query string, args ...any) int {
	c.t.Helper()
	var n int
	if err := c.db.QueryRow(query, args...).Scan(&n); err != nil {
		c.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// signupConfirmed signs addr up on node and confirms it, whichever
// instance mails the link.
func (c *cluster) signupConfirmed(node *server, addr, pw string) *response {
	c.t.Helper()
	node.do("POST", "/v1/signup", "", map[string]string{"email": addr, "password": pw}).want(c.t, 202, "")
	tok := linkToken(c.t, c.mailTo(addr, 1))
	return node.do("POST", "/v1/confirm", "", map[string]string{"token": tok}).want(c.t, 200, "")
}

func xff(ip string) map[string]string { return map[string]string{"X-Forwarded-For": ip} }

// parallel runs fn(i) for i in [0, n) at once, waits, and returns the
// time from the start to the last answer: a bound on how far apart the
// server took its decisions, which is what a limit's exact count
// depends on.
func parallel(n int, fn func(i int)) time.Duration {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { <-start; fn(i) })
	}
	began := time.Now()
	close(start)
	wg.Wait()
	return time.Since(began)
}

// exactWithin says whether a burst that took took is short enough for a
// limit's exact count to hold: no refill (one every refill) can have
// come in between. It logs why the exact count is not asked otherwise.
func exactWithin(t *testing.T, took, refill time.Duration) bool {
	t.Helper()
	if !svctest.Timing() {
		return false
	}
	if took >= refill {
		t.Logf("the burst took %v, not under the %v refill: only the bounds are asked, not the exact count", took.Round(time.Millisecond), refill)
		return false
	}
	return true
}

// The account lifecycle works across instances: every step on another one.
func TestMultiInstanceFlows(t *testing.T) {
	// Sequential: latch with Redis in this process (see startServer).
	c := startCluster(t, 3, sharedEnv(t))
	a, b, cc := c.nodes[0], c.nodes[1], c.nodes[2]
	const addr, pw = "ada@example.com", "correct horse battery"

	a.do("POST", "/v1/signup", "", map[string]string{"email": addr, "password": pw}).want(t, 202, "")
	tok := linkToken(t, c.mailTo(addr, 1))
	b.do("POST", "/v1/confirm", "", map[string]string{"token": tok}).want(t, 200, "")
	login := cc.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": pw}).want(t, 200, "")
	ref := a.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": login.str("refresh_token")}).want(t, 200, "")
	access := ref.str("access_token")
	for i, s := range c.nodes {
		if got := s.do("GET", "/v1/me", access, nil).want(t, 200, ""); got.str("email") != addr {
			t.Errorf("instance %d: /v1/me email %q, want %q", i, got.str("email"), addr)
		}
	}
	// The old refresh token, replayed on another instance after the grace
	// window would be theft; within it, the same successor comes back.
	again := b.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": login.str("refresh_token")}).want(t, 200, "")
	if again.str("refresh_token") != ref.str("refresh_token") {
		t.Errorf("retry within the grace window on another instance got another successor")
	}

	// Logout on A: A refuses the access token at once, B and C (which
	// hold the session in memory) once the fan-out told them.
	a.do("POST", "/v1/logout", access, map[string]string{}).want(t, 204, "")
	a.do("GET", "/v1/me", access, nil).want(t, 401, "invalid_token")
	for _, s := range []*server{b, cc} {
		refusedEventually(t, s, access)
	}
	c.proxy.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": ref.str("refresh_token")}).want(t, 401, "invalid_token")
}

// Rate limits are counted across instances through Redis.
func TestMultiInstanceLimitsAreGlobal(t *testing.T) {
	// Sequential: latch with Redis in this process (see startServer).
	c := startCluster(t, 3, patientRedis(t, sharedEnv(t)))
	const addr, pw = "grace@example.com", "correct horse battery"
	c.signupConfirmed(c.nodes[0], addr, pw)

	// Per-IP login limit (20 a minute) through the round-robin proxy: 25
	// parallel attempts on distinct unknown accounts from one client
	// address. The limit is checked before any hashing, so the 25
	// decisions are taken within moments: 20 pass and 5 are refused. The
	// rate refills one attempt every 3 s, so on a machine busy enough to
	// spread them over seconds more pass: the default run asks only that
	// no fewer than 20 pass and that the limit engages (more attempts
	// until it does).
	var mu sync.Mutex
	codes := map[int]int{}
	refused := 0
	check := func(r *response) {
		switch r.Status {
		case 401:
		case 429:
			refused++
			if r.Header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
		default:
			t.Errorf("login from one address: status %d %s", r.Status, r.Raw)
		}
	}
	took := parallel(25, func(i int) {
		r := c.proxy.doWith("POST", "/v1/login", "", map[string]string{"email": fmt.Sprintf("nobody%d@example.com", i), "password": "wrong password"}, xff("203.0.113.9"))
		mu.Lock()
		defer mu.Unlock()
		codes[r.Status]++
		check(r)
	})
	if codes[401] < 20 {
		t.Errorf("25 logins from one address over 3 instances: got statuses %v, want at least 20x401 (the limit is 20)", codes)
	}
	if exactWithin(t, took, 3*time.Second) && (codes[401] != 20 || codes[429] != 5) {
		t.Errorf("25 logins from one address over 3 instances: got statuses %v, want 20x401 and 5x429", codes)
	}
	for i := 25; refused == 0 && i < 60; i++ {
		check(c.proxy.doWith("POST", "/v1/login", "", map[string]string{"email": fmt.Sprintf("nobody%d@example.com", i), "password": "wrong password"}, xff("203.0.113.9")))
	}
	if refused == 0 {
		t.Errorf("60 logins from one address over 3 instances: none refused, want the 20/min limit to engage")
	}

	// 50 parallel wrong passwords for one account, from 50 addresses, over
	// 3 instances: the account throttle lets 5 through. A sixth needs the
	// burst to last 1 s (the wait after 5 failures), an eleventh 31 s.
	codes = map[int]int{}
	took = parallel(50, func(i int) {
		r := c.proxy.doWith("POST", "/v1/login", "", map[string]string{"email": addr, "password": "wrong password"}, xff(fmt.Sprintf("198.51.100.%d", i+1)))
		mu.Lock()
		codes[r.Status]++
		mu.Unlock()
	})
	if codes[401] < 5 || codes[401] > 10 || codes[401]+codes[429] != 50 {
		t.Errorf("50 parallel wrong logins over 3 instances: got statuses %v, want 5 (up to 10 on a slow machine) x401, the rest 429", codes)
	}
	if exactWithin(t, took, time.Second) && (codes[401] != 5 || codes[429] != 45) {
		t.Errorf("50 parallel wrong logins over 3 instances: got statuses %v, want 5x401 and 45x429", codes)
	}
	refused += codes[429]
	// The refusals are counted in every instance's metrics.
	limited := 0
	for _, s := range c.nodes {
		limited += metricValue(t, s.metrics(), `latch_rate_limited_total{route="POST /v1/login"}`)
	}
	if limited != refused {
		t.Errorf("latch_rate_limited_total over the instances: %d, want %d (the 429s answered)", limited, refused)
	}
}

// patientRedis gives the instances of env Redis timeouts far above any
// pause of a busy machine, for tests of what the shared limiter counts
// (latch's own 250 ms limits are for a Redis that is down, which the
// fault tests cover).
func patientRedis(t *testing.T, env map[string]string) map[string]string {
	t.Helper()
	u := env["LATCH_REDIS_URL"]
	for _, k := range []string{"dial_timeout", "read_timeout", "write_timeout", "pool_timeout"} {
		u = svctest.WithParam(u, k, "10s")
	}
	env["LATCH_REDIS_URL"] = u
	return env
}

// metricValue reads one sample of a Prometheus text exposition (0 when
// absent).
func metricValue(t *testing.T, text, series string) int {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err != nil {
				t.Fatalf("metric %s: %q", series, line)
			}
			return int(v)
		}
	}
	return 0
}

// The operations that must happen once stay once under PostgreSQL's
// concurrency, hammered on three instances at the same time.
func TestMultiInstanceConcurrency(t *testing.T) {
	// Sequential: latch with Redis in this process (see startServer).
	env := sharedEnv(t)
	env["LATCH_RATE_LIMITS"] = "false"
	c := startCluster(t, 3, env)
	const pw = "correct horse battery"

	t.Run("signup uniqueness", func(t *testing.T) {
		parallel(12, func(i int) {
			c.proxy.do("POST", "/v1/signup", "", map[string]string{"email": "Same@Example.com", "password": pw}).want(t, 202, "")
		})
		if n := c.count(`SELECT COUNT(*) FROM users WHERE email_norm = 'same@example.com'`); n != 1 {
			t.Errorf("12 parallel signups of one address: %d accounts, want 1", n)
		}
	})

	t.Run("refresh rotation", func(t *testing.T) {
		login := c.signupConfirmed(c.nodes[0], "rot@example.com", pw)
		rt := login.str("refresh_token")
		var mu sync.Mutex
		successors := map[string]int{}
		parallel(15, func(i int) {
			r := c.proxy.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": rt}).want(t, 200, "")
			mu.Lock()
			successors[r.str("refresh_token")]++
			mu.Unlock()
		})
		if len(successors) != 1 {
			t.Errorf("15 parallel refreshes of one token over 3 instances got %d different successors, want 1", len(successors))
		}
		if n := c.count(`SELECT COUNT(*) FROM refresh_tokens WHERE used_at IS NULL GROUP BY session_id ORDER BY 1 DESC LIMIT 1`); n != 1 {
			t.Errorf("a session has %d live refresh tokens, want 1", n)
		}
	})

	t.Run("reset token single use", func(t *testing.T) {
		const addr = "reset@example.com"
		c.signupConfirmed(c.nodes[1], addr, pw)
		c.proxy.do("POST", "/v1/password/forgot", "", map[string]string{"email": addr}).want(t, 202, "")
		tok := linkToken(t, c.mailTo(addr, 2)) // the first mail was the confirmation
		var ok, bad atomic.Int32
		parallel(10, func(i int) {
			r := c.proxy.do("POST", "/v1/password/reset", "", map[string]string{"token": tok, "password": fmt.Sprintf("new password number %d", i)})
			switch r.Status {
			case 200:
				ok.Add(1)
			case 400:
				bad.Add(1)
			default:
				t.Errorf("reset: status %d: %s", r.Status, r.Raw)
			}
		})
		if ok.Load() != 1 || bad.Load() != 9 {
			t.Errorf("10 parallel resets with one token: %d succeeded, %d refused; want 1 and 9", ok.Load(), bad.Load())
		}
	})

	t.Run("resend cap", func(t *testing.T) {
		const addr = "unconfirmed@example.com"
		c.proxy.do("POST", "/v1/signup", "", map[string]string{"email": addr, "password": pw}).want(t, 202, "")
		parallel(20, func(i int) {
			c.proxy.do("POST", "/v1/confirm/resend", "", map[string]string{"email": addr}).want(t, 202, "")
		})
		// Resends happen off the request path: stopping the instances
		// waits for them.
		for _, s := range c.nodes {
			s.stop()
		}
		// The signup mail plus 5 resends (api.md: resend 5 per 24 h).
		n := c.count(`SELECT COUNT(*) FROM one_time_tokens t JOIN users u ON u.id = t.user_id
			WHERE u.email_norm = $1 AND t.kind = 'confirm'`, addr)
		if n != 6 {
			t.Errorf("signup and 20 parallel resends over 3 instances issued %d confirmation tokens, want 6", n)
		}
	})
}

// Redis down: rate limits and the login throttle fall back to the
// instance's own (weaker than global limits, never absent), never a 500;
// the change of mode is logged once each way and shown in the metrics;
// once Redis answers again the limits are shared again.
func TestRedisDownLimitsHold(t *testing.T) {
	// Sequential: latch with Redis in this process (see startServer).
	redisURL, prefix := svctest.Redis(t)
	ru, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	p := svctest.NewProxy(t, ru.Host)
	// A cut Redis refuses connections at once; patient timeouts keep a
	// busy machine from looking like an outage.
	env := patientRedis(t, map[string]string{
		"LATCH_REDIS_URL":       "redis://" + p.Addr() + ru.Path,
		"LATCH_REDIS_PREFIX":    prefix,
		"LATCH_SECRET":          testSecret,
		"LATCH_TRUSTED_PROXIES": "127.0.0.1",
		"LATCH_METRICS_ADDR":    "127.0.0.1:0",
	})
	s := startServer(t, env)
	const addr, pw = "held@example.com", "correct horse battery"
	s.signupConfirmed(addr, pw)
	metric := func(series string) int {
		t.Helper()
		return metricValue(t, s.metrics(), series)
	}
	const (
		msgFallback = "rate limiter: Redis unreachable; limits are held per instance (in process) until it answers"
		msgShared   = "rate limiter: Redis answers again; limits are shared across instances again"
	)
	logged := func(msg string) int {
		return s.logs.count(func(m map[string]any) bool { return m["msg"] == msg })
	}
	// signupFlood signs up 15 addresses from ip at once: 10 pass (10 a
	// minute), the rest answer 429 with Retry-After. The limit is checked
	// before any hashing, so the decisions are taken within moments; the
	// rate refills one every 6 s, so on a machine busy enough to spread
	// them over seconds more pass: the default run asks only that no
	// fewer than 10 pass and that the limit engages.
	signupFlood := func(ip string) {
		t.Helper()
		var mu sync.Mutex
		accepted, refused := 0, 0
		took := parallel(15, func(i int) {
			r := s.doWith("POST", "/v1/signup", "", map[string]string{"email": fmt.Sprintf("flood%d.%s@example.com", i, ip), "password": pw}, xff(ip))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case r.Status == 202:
				accepted++
			case r.Status == 429 && r.str("code") == "rate_limited" && r.Header.Get("Retry-After") != "":
				refused++
			default:
				t.Errorf("signup from %s: %d %s (Retry-After %q)", ip, r.Status, r.Raw, r.Header.Get("Retry-After"))
			}
		})
		if accepted < 10 || refused == 0 || (exactWithin(t, took, 6*time.Second) && refused != 5) {
			t.Errorf("15 signups from %s at once: %d accepted, %d refused; want 10 and 5 (at least 10 and 1 on a busy machine)", ip, accepted, refused)
		}
	}

	p.Cut()
	signupFlood("203.0.113.50")
	// 8 wrong passwords then the right one: the first 5 cost nothing, then
	// the account waits (1 s after the fifth failure, 2 s after the
	// sixth, ...): the right password meets 429 unless the attempts are
	// seconds apart, which only a quiet machine rules out.
	throttled := 0
	for i := range 9 {
		guess := "wrong password"
		if i == 8 {
			guess = pw
		}
		r := s.doWith("POST", "/v1/login", "", map[string]string{"email": addr, "password": guess}, xff("203.0.113.51"))
		switch {
		case i < limit.FreeFailures:
			r.want(t, 401, "invalid_credentials")
		case r.Status == 429:
			r.want(t, 429, "rate_limited")
			throttled++
		case i == 8:
			r.want(t, 200, "")
			if svctest.Timing() {
				t.Errorf("the right password after 8 wrong ones logged in; want 429")
			}
		default:
			r.want(t, 401, "invalid_credentials")
		}
	}
	if throttled == 0 {
		t.Errorf("8 wrong passwords and the right one with Redis down: none throttled")
	}
	if n := logged(msgFallback); n != 1 {
		t.Errorf("%d warnings about the fallback during the outage, want 1", n)
	}
	if n := logged("rate limiter unavailable; allowing"); n != 0 {
		t.Errorf("%d requests let through unlimited during the outage, want none", n)
	}
	if metric("latch_limiter_fallback") != 1 {
		t.Errorf("latch_limiter_fallback is not 1 during the outage")
	}
	if n := metric(`latch_limiter_decisions_total{backend="memory"}`); n < 15+9 {
		t.Errorf(`latch_limiter_decisions_total{backend="memory"} = %d during the outage, want at least 24`, n)
	}
	if metric("latch_limiter_errors_total") < 1 {
		t.Errorf("latch_limiter_errors_total: no error counted")
	}

	p.Restore()
	// Decisions start the probes (at most one a second).
	deadline := time.Now().Add(svctest.Patience(10 * time.Second))
	for i := 0; metric("latch_limiter_fallback") != 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("limits still in process %v after Redis came back", svctest.Patience(10*time.Second))
		}
		s.doWith("POST", "/v1/login", "", map[string]string{"email": "nobody@example.com", "password": pw}, xff(fmt.Sprintf("198.51.100.%d", i%250+1)))
		time.Sleep(100 * time.Millisecond)
	}
	if n := logged(msgShared); n != 1 {
		t.Errorf("%d info lines about Redis answering again, want 1", n)
	}
	redisBefore := metric(`latch_limiter_decisions_total{backend="redis"}`)
	signupFlood("203.0.113.60")
	if n := metric(`latch_limiter_decisions_total{backend="redis"}`) - redisBefore; n < 15 {
		t.Errorf("after Redis came back: %d decisions by redis for 15 signups, want 15", n)
	}
	// The signups were counted in Redis.
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opt)
	defer rc.Close()
	keys, err := rc.Keys(context.Background(), prefix+"rate:signup*203.0.113.60*").Result()
	if err != nil || len(keys) != 1 {
		t.Errorf("signup rate keys in Redis after it came back: %v, %v; want one", keys, err)
	}
	if n := logged(msgFallback); n != 1 {
		t.Errorf("%d warnings about the fallback in all, want 1", n)
	}
}

// With Redis down, go-redis's own messages go through latch's logger:
// every line latch writes is JSON.
func TestRedisDownLogsJSON(t *testing.T) {
	t.Parallel()
	redisURL, prefix := svctest.Redis(t)
	ru, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	p := svctest.NewProxy(t, ru.Host)
	c := startChild(t, map[string]string{
		"LATCH_ADDR":         "127.0.0.1:0",
		"LATCH_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "latch.db"),
		"LATCH_SECRET":       testSecret,
		"LATCH_LOG_FORMAT":   "json",
		"LATCH_PUBLIC_URL":   "http://latch.test",
		"LATCH_REDIS_URL":    "redis://" + p.Addr() + ru.Path,
		"LATCH_REDIS_PREFIX": prefix,
	})
	c.signupConfirmed("json@example.com", "correct horse battery")
	p.Cut()
	// Requests keep the limiter probing and the fan-out reconnecting, so
	// go-redis has failed dials to report.
	deadline := time.Now().Add(svctest.Patience(10 * time.Second))
	for {
		c.do("POST", "/v1/login", "", map[string]string{"email": "json@example.com", "password": "wrong password"})
		if c.logs.count(func(m map[string]any) bool { return m["msg"] == "redis client" }) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no go-redis message logged as JSON with Redis down:\n%s", c.logs.all())
		}
		time.Sleep(200 * time.Millisecond)
	}
	p.Restore()
	for _, line := range strings.Split(strings.TrimSpace(c.logs.all()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("log line is not JSON: %q", line)
		}
	}
}
