package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/mail"
	"github.com/latchauth/latch/internal/svctest"
)

// logTap collects the server's JSON log lines.
type logTap struct {
	mu    sync.Mutex
	lines []map[string]any
	raw   bytes.Buffer
	pr    *io.PipeReader
	pw    *io.PipeWriter
	done  chan struct{}
	cond  *sync.Cond
}

func newLogTap() *logTap {
	t := &logTap{done: make(chan struct{})}
	t.cond = sync.NewCond(&t.mu)
	t.pr, t.pw = io.Pipe()
	go func() {
		defer close(t.done)
		sc := bufio.NewScanner(t.pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			var m map[string]any
			_ = json.Unmarshal(line, &m)
			t.mu.Lock()
			t.raw.Write(line)
			t.raw.WriteByte('\n')
			if m != nil {
				t.lines = append(t.lines, m)
			}
			t.cond.Broadcast()
			t.mu.Unlock()
		}
	}()
	return t
}

func (t *logTap) Write(p []byte) (int, error) { return t.pw.Write(p) }

// wait returns the first line matching f, waiting up to d.
func (t *logTap) wait(d time.Duration, f func(map[string]any) bool) (map[string]any, bool) {
	deadline := time.Now().Add(d)
	timer := time.AfterFunc(d, func() {
		t.mu.Lock()
		t.cond.Broadcast()
		t.mu.Unlock()
	})
	defer timer.Stop()
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		for _, l := range t.lines {
			if f(l) {
				return l, true
			}
		}
		if time.Now().After(deadline) {
			return nil, false
		}
		t.cond.Wait()
	}
}

func (t *logTap) all() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.raw.String()
}

func (t *logTap) count(f func(map[string]any) bool) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, l := range t.lines {
		if f(l) {
			n++
		}
	}
	return n
}

// server is a latch started through run() on a free port.
type server struct {
	t    *testing.T
	URL  string
	logs *logTap
	stop func()
	env  map[string]string
	// MetricsURL is the metrics listener's base URL ("" unless
	// LATCH_METRICS_ADDR was set).
	MetricsURL string
}

// startServer runs latch with env (on top of test defaults) until the test
// ends.
//
// Tests that start latch in this process with LATCH_REDIS_URL do not call
// t.Parallel: go-redis logs through one process-wide logger, which each
// such latch sets at start (newScale) while another one's client may be
// logging. Sequential tests run one at a time and before the parallel
// ones, so such a latch never starts while another runs. Every other test
// is parallel: each latch has its own database, port and log.
func startServer(t *testing.T, env map[string]string) *server {
	t.Helper()
	dir := t.TempDir()
	full := map[string]string{
		"LATCH_ADDR":         "127.0.0.1:0",
		"LATCH_DATABASE_URL": "sqlite:" + filepath.Join(dir, "latch.db"),
		"LATCH_LOG_FORMAT":   "json",
		"LATCH_PUBLIC_URL":   "http://latch.test",
	}
	for k, v := range env {
		full[k] = v
	}
	return startWith(t, full)
}

func startWith(t *testing.T, env map[string]string) *server {
	t.Helper()
	logs := newLogTap()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, io.Discard, logs)
	}()
	line, ok := logs.wait(svctest.Patience(30*time.Second), func(m map[string]any) bool { return m["msg"] == "listening" })
	if !ok {
		cancel()
		select {
		case err := <-errc:
			t.Fatalf("latch did not start: %v\n%s", err, logs.all())
		case <-time.After(5 * time.Second):
		}
		t.Fatalf("latch did not start:\n%s", logs.all())
	}
	s := &server{t: t, URL: "http://" + line["addr"].(string), logs: logs, env: env, MetricsURL: metricsURL(line)}
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("run returned %v", err)
			}
			logs.pw.Close()
			<-logs.done
		})
	}
	t.Cleanup(s.stop)
	t.Cleanup(func() {
		if t.Failed() {
			s.stop()
			t.Logf("server log:\n%s", logs.all())
		}
	})
	waitHealthy(t, s.URL)
	return s
}

// metricsURL is the metrics listener named by the "listening" log line, or
// "" when latch serves no metrics.
func metricsURL(listening map[string]any) string {
	if a, ok := listening["metrics_addr"].(string); ok && a != "" {
		return "http://" + a
	}
	return ""
}

// metrics scrapes the metrics listener (LATCH_METRICS_ADDR must be set).
func (s *server) metrics() string {
	s.t.Helper()
	if s.MetricsURL == "" {
		s.t.Fatal("no metrics listener: start latch with LATCH_METRICS_ADDR")
	}
	resp, err := http.Get(s.MetricsURL + "/metrics")
	if err != nil {
		s.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		s.t.Fatalf("GET %s/metrics: %d %s", s.MetricsURL, resp.StatusCode, raw)
	}
	return string(raw)
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(svctest.Patience(10 * time.Second))
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s/healthz never answered 200", base)
}

// response is a decoded answer.
type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func (s *server) do(method, path, bearer string, body any) *response {
	s.t.Helper()
	return s.doWith(method, path, bearer, body, nil)
}

func (s *server) doWith(method, path, bearer string, body any, hdr map[string]string) *response {
	s.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := &response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &out.Body)
	if resp.StatusCode >= 500 && resp.StatusCode != 503 {
		s.t.Errorf("%s %s answered %d: %s", method, path, resp.StatusCode, raw)
	}
	return out
}

// doThroughBusy is do for a request that must succeed eventually: while
// latch answers 503 unavailable (its answer when a request's database work
// overruns StoreBudget, e.g. behind a long write of a background job on a
// slowed-down machine) it asks again after the Retry-After, as a client
// would, for up to Patience(30s).
func (s *server) doThroughBusy(method, path, bearer string, body any) *response {
	s.t.Helper()
	deadline := time.Now().Add(svctest.Patience(30 * time.Second))
	for {
		r := s.do(method, path, bearer, body)
		if r.Status != 503 || r.str("code") != "unavailable" || time.Now().After(deadline) {
			return r
		}
		wait, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil || wait < 1 {
			s.t.Fatalf("503 with Retry-After %q, want whole seconds >= 1", r.Header.Get("Retry-After"))
		}
		s.t.Logf("%s %s: 503 unavailable, asking again in %ds", method, path, wait)
		time.Sleep(time.Duration(wait) * time.Second)
	}
}

// want fails the test unless r has status (and, for errors, code).
func (r *response) want(t *testing.T, status int, code string) *response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body %s", r.Status, status, r.Raw)
	}
	if code != "" {
		if got, _ := r.Body["code"].(string); got != code {
			t.Fatalf("code %q, want %q; body %s", got, code, r.Raw)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Fatalf("Content-Type %q, want application/problem+json", ct)
		}
	}
	return r
}

func (r *response) str(key string) string {
	v, _ := r.Body[key].(string)
	return v
}

var tokenInLink = regexp.MustCompile(`[?&]token=([A-Za-z0-9_-]{43})`)

// mailTo waits for the n-th (1-based) mail logged to addr and returns it.
func (s *server) mailTo(addr string, n int) map[string]any {
	s.t.Helper()
	deadline := time.Now().Add(svctest.Patience(10 * time.Second))
	for {
		var seen []map[string]any
		s.logs.mu.Lock()
		for _, l := range s.logs.lines {
			if l["to"] == addr && l["msg"] == mail.LogMessage {
				seen = append(seen, l)
			}
		}
		s.logs.mu.Unlock()
		if len(seen) >= n {
			return seen[n-1]
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no mail #%d to %s; log:\n%s", n, addr, s.logs.all())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *server) mailCount(addr string) int {
	return s.logs.count(func(l map[string]any) bool {
		return l["to"] == addr && l["msg"] == mail.LogMessage
	})
}

// linkToken extracts the token of the link in a logged mail.
func linkToken(t *testing.T, m map[string]any) string {
	t.Helper()
	text, _ := m["text"].(string)
	sm := tokenInLink.FindStringSubmatch(text)
	if sm == nil {
		t.Fatalf("no link with a token in mail %v", m)
	}
	return sm[1]
}

// signupConfirmed signs up and confirms addr, returning the confirm answer.
func (s *server) signupConfirmed(addr, pw string) *response {
	s.t.Helper()
	s.do("POST", "/v1/signup", "", map[string]string{"email": addr, "password": pw}).want(s.t, 202, "")
	tok := linkToken(s.t, s.mailTo(addr, 1))
	return s.do("POST", "/v1/confirm", "", map[string]string{"token": tok}).want(s.t, 200, "")
}
