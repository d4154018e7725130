package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/httpapi"
	"github.com/latchauth/latch/internal/sqlstore"
	"github.com/latchauth/latch/internal/svctest"
)

// Faults: the database going away under load, a latch process
// killed or stopped under load.

// TestMain lets the tests run latch as a real OS process: the test binary
// started with LATCH_TEST_CHILD=1 is latch (main without the flag
// parsing of testing).
func TestMain(m *testing.M) {
	if os.Getenv("LATCH_TEST_CHILD") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, []string{"serve"}, os.Getenv, os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "latch:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is latch running as a separate process.
type child struct {
	*server
	cmd  *exec.Cmd
	done chan error // Wait's result
}

// startChild starts the test binary as latch with env (on top of the
// test's own environment) and waits until it listens.
func startChild(t *testing.T, env map[string]string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LATCH_TEST_CHILD=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs := newLogTap()
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait(); logs.pw.Close() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-logs.done
	})
	line, ok := logs.wait(svctest.Patience(30*time.Second), func(m map[string]any) bool { return m["msg"] == "listening" })
	if !ok {
		t.Fatalf("latch process did not start:\n%s", logs.all())
	}
	c.server = &server{t: t, URL: "http://" + line["addr"].(string), logs: logs, env: env, MetricsURL: metricsURL(line)}
	waitHealthy(t, c.URL)
	return c
}

// wait returns the process's exit error, failing t after d.
func (c *child) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-c.done:
		return err
	case <-time.After(d):
		t.Fatalf("latch process still running after %v", d)
		return nil
	}
}

// The database goes away under load: requests answer 503 unavailable
// quickly, /readyz says not ready, latch recovers by itself, and every
// acknowledged signup is stored.
func TestFaultDatabaseOutage(t *testing.T) {
	svctest.ParallelUnlessTiming(t)
	s, p, dbURL := startBehindPostgresProxy(t)

	type result struct {
		email  string
		status int
		code   string
		took   time.Duration
		phase  int32

		retryAfter string
	}
	const (
		before = iota
		down
		recovering // restored, not yet ready: 503 or 202
		after
	)
	var (
		phase   atomic.Int32
		mu      sync.Mutex
		results []result
		seq     atomic.Int64
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				email := fmt.Sprintf("load%d@example.com", seq.Add(1))
				ph := phase.Load()
				start := time.Now()
				r := s.do("POST", "/v1/signup", "", map[string]string{"email": email, "password": "correct horse battery"})
				took := time.Since(start)
				if ph != phase.Load() {
					continue // straddled a change: judged by neither phase
				}
				mu.Lock()
				results = append(results, result{email, r.Status, r.str("code"), took, ph, r.Header.Get("Retry-After")})
				mu.Unlock()
			}
		})
	}
	waitFor := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		d = svctest.Patience(d)
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				close(stop) // no request after the server stops
				wg.Wait()
				t.Fatalf("%s: not within %v", what, d)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	count := func(ph int32, status int) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, r := range results {
			if r.phase == ph && r.status == status {
				n++
			}
		}
		return n
	}
	waitFor("signups before the outage", 10*time.Second, func() bool { return count(before, 202) >= 8 })

	phase.Store(down)
	p.Cut()
	downSince := time.Now()
	waitFor("503 answers during the outage", 10*time.Second, func() bool { return count(down, 503) >= 8 })
	s.do("GET", "/readyz", "", nil).want(t, 503, "unavailable")
	// Keep it down 10 s under load (the outage): nothing piles up.
	time.Sleep(time.Until(downSince.Add(10 * time.Second)))

	phase.Store(recovering)
	p.Restore()
	waitFor("ready again", 15*time.Second, func() bool {
		return s.do("GET", "/readyz", "", nil).Status == 200
	})
	phase.Store(after)
	waitFor("signups after the outage", 15*time.Second, func() bool { return count(after, 202) >= 8 })
	close(stop)
	wg.Wait()

	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var acked, lost, overrun int
	for _, r := range results {
		switch {
		case (r.phase == down || r.phase == recovering) && r.status != 503 && r.status != 202:
			t.Errorf("during the outage: %s answered %d %s, want 503 unavailable", r.email, r.status, r.code)
		case r.phase == down && r.status == 503 && r.code != "unavailable":
			t.Errorf("during the outage: 503 with code %q, want unavailable", r.code)
		case (r.phase == before || r.phase == after) && r.status != 202:
			// With the database up a signup succeeds; on a busy machine
			// its database work can overrun StoreBudget, answered like
			// an outage (checked strictly on a quiet machine only).
			if r.status == 503 && r.code == "unavailable" && !svctest.Timing() {
				overrun++
				break
			}
			t.Errorf("%s answered %d %s with the database up", r.email, r.status, r.code)
		}
		if r.phase == down && r.status == 503 && r.retryAfter == "" {
			t.Errorf("during the outage: 503 without Retry-After")
		}
		// How fast an outage answers is a wall-clock property: checked on a
		// quiet machine only.
		if svctest.Timing() && r.phase == down && r.took > 2*time.Second {
			t.Errorf("during the outage a signup took %v, want under 2s", r.took)
		}
		if r.status == 202 {
			acked++
			var n int
			if err := db.QueryRow(`SELECT COUNT(*) FROM users WHERE email_norm = $1`, r.email).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				lost++
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged signups are not in the database", lost, acked)
	}
	t.Logf("%d requests: %d before, %d during (503), %d after the outage; %d over their database budget with the database up", len(results), count(before, 202), count(down, 503), count(after, 202), overrun)
}

// A latch process killed (SIGKILL) in the middle of refreshes and resets
// leaves no half-applied state: no session with two live refresh tokens,
// no consumed reset token without its password change.
func TestFaultKilledProcess(t *testing.T) {
	t.Parallel()
	dbURL := svctest.PostgresURL(t)
	env := map[string]string{
		"LATCH_ADDR":         "127.0.0.1:0",
		"LATCH_DATABASE_URL": dbURL,
		"LATCH_SECRET":       testSecret,
		"LATCH_LOG_FORMAT":   "json",
		"LATCH_PUBLIC_URL":   "http://latch.test",
		"LATCH_RATE_LIMITS":  "false",
	}
	first := startChild(t, env)
	const oldPW = "correct horse battery"
	const users = 6
	refresh := make([]string, users)
	resetTok := make([]string, users)
	for i := range users {
		addr := fmt.Sprintf("k%d@example.com", i)
		refresh[i] = first.signupConfirmed(addr, oldPW).str("refresh_token")
		first.do("POST", "/v1/password/forgot", "", map[string]string{"email": addr}).want(t, 202, "")
		resetTok[i] = linkToken(t, first.mailTo(addr, 2))
	}

	// Load: each user refreshes in a loop; each resets once, part way.
	client := &http.Client{Timeout: 5 * time.Second}
	post := func(path string, body string) (int, error) {
		resp, err := client.Post(first.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	var wg sync.WaitGroup
	var requests atomic.Int64
	for i := range users {
		wg.Go(func() {
			for n := 0; ; n++ {
				if n == 3 {
					if _, err := post("/v1/password/reset", fmt.Sprintf(`{"token":%q,"password":"new password %d"}`, resetTok[i], i)); err != nil {
						return
					}
				}
				if _, err := post("/v1/token/refresh", fmt.Sprintf(`{"refresh_token":%q}`, refresh[i])); err != nil {
					return // the process died
				}
				requests.Add(1)
			}
		})
	}
	for requests.Load() < 25 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.wait(t, 10*time.Second)
	wg.Wait()

	// Restart and check.
	second := startChild(t, env)
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var twoLive int
	if err := db.QueryRow(`SELECT COUNT(*) FROM (SELECT session_id FROM refresh_tokens
		WHERE used_at IS NULL GROUP BY session_id HAVING COUNT(*) > 1) x`).Scan(&twoLive); err != nil {
		t.Fatal(err)
	}
	if twoLive != 0 {
		t.Errorf("%d sessions have more than one live refresh token", twoLive)
	}
	for i := range users {
		addr := fmt.Sprintf("k%d@example.com", i)
		var used sql.NullInt64
		err := db.QueryRow(`SELECT t.used_at FROM one_time_tokens t JOIN users u ON u.id = t.user_id
			WHERE u.email_norm = $1 AND t.kind = 'reset'`, addr).Scan(&used)
		if err != nil {
			t.Fatal(err)
		}
		pw := oldPW
		if used.Valid {
			pw = fmt.Sprintf("new password %d", i)
		}
		second.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": pw}).want(t, 200, "")
	}
	t.Logf("killed after %d requests", requests.Load())
}

// SIGTERM: latch finishes the requests in flight and exits cleanly.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := startChild(t, map[string]string{
		"LATCH_ADDR":         "127.0.0.1:0",
		"LATCH_DATABASE_URL": "sqlite:" + filepath.Join(dir, "latch.db"),
		"LATCH_SECRET":       testSecret,
		"LATCH_LOG_FORMAT":   "json",
		"LATCH_PUBLIC_URL":   "http://latch.test",
		"LATCH_RATE_LIMITS":  "false",
		"LATCH_METRICS_ADDR": "127.0.0.1:0",
		// All 12 logins below must be admitted to the hashing queue.
		"LATCH_HASH_QUEUE": "64",
	})
	const addr, pw = "term@example.com", "correct horse battery"
	c.signupConfirmed(addr, pw)
	// Mails enqueued just before the signal are sent or stay queued.
	const signups = 5
	for i := range signups {
		c.do("POST", "/v1/signup", "", map[string]string{"email": fmt.Sprintf("late%d@example.com", i), "password": pw}).want(t, 202, "")
	}

	// Logins hash a password each (tens of milliseconds, a few at a time):
	// a batch of them is still in flight when the signal arrives. The
	// metrics tell when every one of them reached latch: hashing, waiting
	// for a hashing slot, or done.
	const n = 12
	statuses := make([]int, n)
	errs := make([]error, n)
	var done sync.WaitGroup
	for i := range n {
		done.Go(func() {
			resp, err := (&http.Client{Transport: &http.Transport{}}).Post(c.URL+"/v1/login", "application/json",
				strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, addr, pw)))
			if err != nil {
				errs[i] = err
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := c.metrics()
		arrived := metricValue(t, m, "latch_hash_queue_depth") + metricValue(t, m, `latch_security_events_total{type="login"}`)
		if arrived >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d logins reached latch within 10s", arrived, n)
		}
		time.Sleep(time.Millisecond)
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done.Wait()
	for i := range n {
		if errs[i] != nil || statuses[i] != 200 {
			t.Errorf("login %d in flight at SIGTERM: status %d, error %v; want 200", i, statuses[i], errs[i])
		}
	}
	if err := c.wait(t, 25*time.Second); err != nil {
		t.Errorf("latch exited with %v after SIGTERM, want status 0", err)
	}
	if _, ok := c.logs.wait(time.Second, func(m map[string]any) bool { return m["msg"] == "stopped" }); !ok {
		t.Errorf("no \"stopped\" log line after SIGTERM")
	}
	sent := 0
	for i := range signups {
		sent += c.mailCount(fmt.Sprintf("late%d@example.com", i))
	}
	db, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(dir, "latch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	queued, err := db.OutboxDepth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sent+queued != signups {
		t.Errorf("after SIGTERM: %d mails sent and %d queued, want %d in all", sent, queued, signups)
	}
	if t.Failed() {
		t.Logf("log:\n%s", c.logs.all())
	}
}

// An instance whose database answers but refuses writes (SQLite on a disk
// that is full: here the file may not grow) is not ready, and says why.
func TestFaultReadyzFullDisk(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "latch.db")
	env := map[string]string{
		"LATCH_DATABASE_URL": "sqlite:" + path,
		"LATCH_SECRET":       testSecret,
		"LATCH_RATE_LIMITS":  "false",
	}
	first := startServer(t, env) // migrations and signing keys
	first.stop()
	env["LATCH_DATABASE_URL"] = "sqlite:" + path + "?_pragma=max_page_count(1)"
	s := startServer(t, env)
	s.do("GET", "/readyz", "", nil).want(t, 200, "")
	// Sign up until a signup is refused and /readyz says why. A refused
	// signup alone is not enough on a slow machine: a request's database
	// budget can run out before the disk does, and a write that still fits
	// (the mail worker marking an earlier mail sent) clears the failure.
	// Both pass; the full disk stays.
	var ready *response
	for i := 0; i < 2000 && ready == nil; i++ {
		r := s.do("POST", "/v1/signup", "", map[string]string{"email": fmt.Sprintf("fill%d@example.com", i), "password": "correct horse battery"})
		switch r.Status {
		case 202:
		case 503:
			r.want(t, 503, "unavailable")
			if rz := s.do("GET", "/readyz", "", nil); rz.Status != 200 && strings.Contains(rz.Raw, "full") {
				ready = rz
			}
		default:
			t.Fatalf("signup on a filling disk: %d %s", r.Status, r.Raw)
		}
	}
	if ready == nil {
		t.Fatal("the database never filled up (or /readyz never said so)")
	}
	ready.want(t, 503, "unavailable")
	if ready.Header.Get("Retry-After") == "" {
		t.Errorf("/readyz with writes failing: %s without Retry-After", ready.Raw)
	}
}

// A database that stops answering (frozen: SIGSTOP, a stalled disk; the
// connections stay open and nothing comes back): every request that needs
// it answers 503 unavailable with Retry-After once its database work has
// spent the one budget it has (httpapi.StoreBudget), however many calls it
// makes; latch goes on by itself once the database answers again.
func TestFaultFrozenDatabase(t *testing.T) {
	svctest.ParallelUnlessTiming(t)
	s, p, _ := startBehindPostgresProxy(t)
	const addr, pw = "frozen@example.com", "correct horse battery"
	refresh := s.signupConfirmed(addr, pw).str("refresh_token")

	p.Freeze()
	var wg sync.WaitGroup
	for _, req := range []struct {
		path string
		body map[string]string
	}{
		{"/v1/login", map[string]string{"email": addr, "password": pw}},
		{"/v1/signup", map[string]string{"email": "new@example.com", "password": pw}},
		{"/v1/token/refresh", map[string]string{"refresh_token": refresh}},
	} {
		wg.Go(func() {
			start := time.Now()
			r := s.do("POST", req.path, "", req.body)
			took := time.Since(start)
			if r.Status != 503 || r.str("code") != "unavailable" || r.Header.Get("Retry-After") == "" {
				t.Errorf("%s with the database frozen: %d %s (Retry-After %q), want 503 unavailable with Retry-After",
					req.path, r.Status, r.Raw, r.Header.Get("Retry-After"))
			}
			if bound := httpapi.StoreBudget + time.Second; svctest.Timing() && took > bound {
				t.Errorf("%s with the database frozen took %v, want under %v", req.path, took, bound)
			}
		})
	}
	wg.Wait()
	s.do("GET", "/readyz", "", nil).want(t, 503, "unavailable")

	p.Thaw()
	deadline := time.Now().Add(svctest.Patience(15 * time.Second))
	for s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": pw}).Status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("logins still fail after the database came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.do("GET", "/readyz", "", nil).want(t, 200, "")
}

// startBehindPostgresProxy starts latch (limits off) on a fresh PostgreSQL
// schema reached through a TCP proxy the test can cut or freeze; it
// returns the server, the proxy and the direct database URL for checks.
func startBehindPostgresProxy(t *testing.T) (*server, *svctest.Proxy, string) {
	t.Helper()
	dbURL := svctest.PostgresURL(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	p := svctest.NewProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = p.Addr()
	s := startServer(t, map[string]string{
		"LATCH_DATABASE_URL": viaProxy.String(),
		"LATCH_SECRET":       testSecret,
		"LATCH_RATE_LIMITS":  "false",
	})
	return s, p, dbURL
}
