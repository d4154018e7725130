package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startLatch builds cmd/latch, runs it on a free loopback port with
// confirmation and rate limits off, and returns its base URL. The server
// is stopped when the test ends.
func startLatch(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "latch")
	// go test puts its own GOROOT/bin first on PATH, so this is the
	// toolchain running the test.
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool: %v", err)
	}
	build := exec.Command(goTool, "build", "-o", bin, "github.com/latchauth/latch/cmd/latch")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/latch: %v\n%s", err, out)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve")
	cmd.Dir = dir
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LATCH_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		"LATCH_ADDR=127.0.0.1:0",
		"LATCH_LOG_FORMAT=json",
		"LATCH_CONFIRM_EMAIL=false",
		"LATCH_RATE_LIMITS=false",
		"LATCH_DATABASE_URL=sqlite:"+filepath.Join(dir, "bench.db"),
	)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	addr := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			logs.Write(sc.Bytes())
			logs.WriteByte('\n')
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		<-drained
	})
	select {
	case a := <-addr:
		return "http://" + a
	case <-drained:
		t.Fatalf("latch exited before listening:\n%s", logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("latch did not log \"listening\" within 30s")
	}
	return ""
}

// runJSON runs the harness with -json and decodes its report.
func runJSON(t *testing.T, args ...string) *Report {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), append(args, "-json"), &stdout, &stderr); err != nil {
		t.Fatalf("run %v: %v\nstderr:\n%s", args, err, stderr.String())
	}
	var r Report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("run %v: report is not JSON: %v\n%s", args, err, stdout.String())
	}
	return &r
}

func TestScenariosAgainstLatch(t *testing.T) {
	base := startLatch(t)
	tests := []struct {
		scenario string
		ops      []string
		// n is the run's -n. A login or signup hashes a password, so
		// those scenarios run fewer; mixed needs enough requests that its 5%
		// logins surely occur (0.95^200 < 1e-4).
		n int
	}{
		{"login", []string{"login"}, 50},
		{"refresh", []string{"refresh"}, 200},
		{"me", []string{"me"}, 200},
		{"signup", []string{"signup"}, 50},
		{"forgot", []string{"forgot"}, 200},
		{"mixed", []string{"me", "refresh", "login"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			r := runJSON(t, "-url", base, "-scenario", tt.scenario, "-n", strconv.Itoa(tt.n), "-c", "4", "-users", "6", "-d", "60s")
			if r.Total.Requests != tt.n || r.Total.Errors != 0 {
				t.Errorf("requests, errors = %d, %d; want %d, 0 (errors by status %v)", r.Total.Requests, r.Total.Errors, tt.n, r.Total.ErrorsByStatus)
			}
			if r.Relogins != 0 {
				t.Errorf("relogins = %d, want 0", r.Relogins)
			}
			var gotOps []string
			sum := 0
			for _, o := range r.Ops {
				gotOps = append(gotOps, o.Op)
				sum += o.Requests
			}
			if strings.Join(gotOps, ",") != strings.Join(tt.ops, ",") {
				t.Errorf("ops = %v, want %v", gotOps, tt.ops)
			}
			if sum != r.Total.Requests {
				t.Errorf("sum of op requests = %d, want the total %d", sum, r.Total.Requests)
			}
			tot := r.Total
			if !(tot.P50 > 0 && tot.P50 <= tot.P90 && tot.P90 <= tot.P99 && tot.P99 <= tot.Max) {
				t.Errorf("latencies p50 %v p90 %v p99 %v max %v: want 0 < p50 <= p90 <= p99 <= max", tot.P50, tot.P90, tot.P99, tot.Max)
			}
			if tot.Throughput <= 0 {
				t.Errorf("throughput = %v, want > 0", tot.Throughput)
			}
		})
	}

	// -d bounds a run whose -n is far away.
	t.Run("duration", func(t *testing.T) {
		r := runJSON(t, "-url", base, "-scenario", "me", "-d", "1s", "-c", "2", "-users", "2")
		if r.Total.Requests == 0 || r.Total.Requests >= maxRequests || r.Total.Errors != 0 {
			t.Errorf("requests, errors = %d, %d; want between 1 and %d, 0", r.Total.Requests, r.Total.Errors, maxRequests-1)
		}
		if r.Seconds < 1 || r.Seconds > 1+requestTimeout.Seconds() {
			t.Errorf("seconds = %v, want from 1 to %v", r.Seconds, 1+requestTimeout.Seconds())
		}
	})

	// -overload runs the login scenario at -c and then at twice -c, and
	// accounts for every request of the second run as admitted or not.
	t.Run("overload", func(t *testing.T) {
		r := runJSON(t, "-url", base, "-scenario", "login", "-overload", "-n", "12", "-c", "2", "-users", "2")
		if r.Baseline == nil || r.Baseline.Requests != 12 || r.Baseline.Errors != 0 {
			t.Fatalf("baseline = %+v, want 12 requests without errors", r.Baseline)
		}
		if r.Concurrency != 4 || r.Total.Requests != 12 {
			t.Errorf("overload run: -c %d, %d requests; want 4, 12", r.Concurrency, r.Total.Requests)
		}
		// Every error of the overload run is a refusal (the server's
		// hashing queue is far from full here, so there may be none).
		if r.Total.Errors != r.Total.Refused {
			t.Errorf("errors %d, refused %d (by status %v): want only refusals", r.Total.Errors, r.Total.Refused, r.Total.ErrorsByStatus)
		}
		if r.Total.Requests-r.Total.Errors > 0 && r.AdmittedP99Ratio <= 0 {
			t.Errorf("admitted p99 ratio = %v, want > 0", r.AdmittedP99Ratio)
		}
	})

	// The table names every operation and the total.
	t.Run("table", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), []string{"-url", base, "-scenario", "mixed", "-n", "40", "-c", "2", "-users", "2"}, &stdout, &stderr); err != nil {
			t.Fatalf("run: %v\n%s", err, stderr.String())
		}
		for _, want := range []string{"scenario mixed", "p99 ms", "me", "refresh", "login", "total", "errors by status: none"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("table lacks %q:\n%s", want, stdout.String())
			}
		}
	})
}

func TestRefusesBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string // in the error
	}{
		{[]string{"-url", "http://10.0.0.1:8080"}, "loopback"},
		{[]string{"-url", "http://192.168.1.10"}, "loopback"},
		{[]string{"-url", "http://example.com"}, "loopback"},
		{[]string{"-url", "http://127.0.0.1.nip.io:8080"}, "loopback"},
		{[]string{"-url", "http://0.0.0.0:8080"}, "loopback"},
		{[]string{"-url", "http://[2001:db8::1]:8080"}, "loopback"},
		{[]string{"-url", "http://[::ffff:10.0.0.1]:8080"}, "loopback"},
		{[]string{"-url", "ftp://127.0.0.1"}, "http"},
		{[]string{"-d", "61s"}, "-d"},
		{[]string{"-d", "0s"}, "-d"},
		{[]string{"-n", "200001"}, "-n"},
		{[]string{"-n", "0"}, "-n"},
		{[]string{"-c", "0"}, "-c"},
		{[]string{"-scenario", "logout"}, "-scenario"},
		{[]string{"-scenario", "me", "-overload"}, "-overload"},
		{[]string{"-scenario", "login", "-overload", "-c", "129"}, "twice"},
		{[]string{"-scenario", "refresh", "-c", "8", "-users", "4"}, "-users"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), tt.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run %v: error %v, want one mentioning %q", tt.args, err, tt.want)
		}
		if stdout.Len() != 0 {
			t.Errorf("run %v: stdout %q, want nothing", tt.args, stdout.String())
		}
	}
}

func TestIsLoopbackHost(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.255.0.9", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true},
		{"localhost", true},
		{"LOCALHOST", true},
		{"128.0.0.1", false},
		{"0.0.0.0", false},
		{"::", false},
		{"10.0.0.1", false},
		{"localhost.example.com", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isLoopbackHost(tt.host); got != tt.want {
			t.Errorf("isLoopbackHost(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		in   []time.Duration
		p    int
		want time.Duration
	}{
		{d, 50, 50 * time.Millisecond},
		{d, 90, 90 * time.Millisecond},
		{d, 99, 99 * time.Millisecond},
		{d, 100, 100 * time.Millisecond},
		{d[:1], 50, time.Millisecond},
		{d[:1], 99, time.Millisecond},
		{d[:3], 50, 2 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(tt.in, tt.p); got != tt.want {
			t.Errorf("percentile(%d values, %d) = %v, want %v", len(tt.in), tt.p, got, tt.want)
		}
	}
}
