package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The whole command on SQLite, briefly: it builds and starts latch, runs
// every scenario and prints a row for each, with the ceilings and the
// memory row, and leaves nothing running (the test would hang on a child
// that kept its output open).
func TestTableOnSQLite(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-d", "1s", "-ceiling-time", "200ms", "-postgres", ""}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"| argon2id hashes (m=19456 KiB, t=2, p=1", "| x/crypto/argon2 argon2id hashes (the same parameters",
		"| Ed25519 signatures (", "| Ed25519 verifications (",
		"| scenario | clients | ceiling | latch SQLite: req/s (of ceiling), p99 |",
		"| login | 4 |", "| refresh | 32 |", "| me | 32 |", "| signup | 4 |", "| forgot | 4 |", "| mixed | 8 |",
		"| overload | 8 then 16 |", "unloaded", "admitted", "| RSS idle / max under load / 4s after |",
		"\"around\": the median over the runs",
		"| of the idle RSS, anonymous memory (heap, stacks, runtime) | | | ",
		"| ready on the existing database (start to /readyz 200), median of 3 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// Each argon2id-bound row also has its ratio to the ceiling measured
	// around its runs; the others do not.
	for _, row := range []string{"login", "signup", "overload"} {
		if !regexp.MustCompile(`\| ` + row + ` \|[^\n]*\(\d+%, around \d+%\)`).MatchString(out) {
			t.Errorf("the %s row lacks its ratio to the ceiling around its runs:\n%s", row, out)
		}
	}
	if regexp.MustCompile(`\| (refresh|me) \|[^\n]*around`).MatchString(out) {
		t.Errorf("a row not bound by argon2id has a ratio to the argon2id ceiling:\n%s", out)
	}
	// Where the CPU went: latch worked during the logins (shares of every
	// core, so at most 100% each).
	m := regexp.MustCompile(`\| login \| (\d+)% / (\d+)% / (\d+)% \|`).FindStringSubmatch(out)
	if !strings.Contains(out, "| CPU during the runs, share of all cores (median): latch / database server / idle | SQLite |") || m == nil {
		t.Errorf("table lacks the CPU split:\n%s", out)
	} else if l, _ := strconv.Atoi(m[1]); l <= 0 || l > 100 {
		t.Errorf("latch's share of the CPU during logins: %s%%", m[1])
	}
	if strings.Contains(out, "PostgreSQL") {
		t.Errorf("table has a PostgreSQL column with -postgres '':\n%s", out)
	}
	if strings.Contains(out, "errors") {
		t.Errorf("a scenario had errors:\n%s", out)
	}
}

func TestRefusesNonLoopbackPostgres(t *testing.T) {
	for _, u := range []string{"postgres://db.example.com/test", "postgres://10.0.0.5:5432/test", "postgres://[2001:db8::1]/x"} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"-postgres", u}, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("-postgres %s: error %v, want one saying loopback", u, err)
		}
	}
	for _, u := range []string{"postgres://postgres@127.0.0.1:5432/test", "postgres://localhost/test", "postgres://[::1]/test"} {
		if err := checkLoopbackURL(u); err != nil {
			t.Errorf("checkLoopbackURL(%s): %v", u, err)
		}
	}
}

func TestNum(t *testing.T) {
	for _, tt := range []struct {
		in   float64
		want string
	}{
		{0, "0.0"}, {59.74, "59.7"}, {100, "100"}, {1665.4, "1,665"}, {36000, "36,000"}, {1234567, "1,234,567"},
	} {
		if got := num(tt.in); got != tt.want {
			t.Errorf("num(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCell(t *testing.T) {
	r := func(tput, p99 float64, errs int) *report {
		var x report
		x.Total.Throughput, x.Total.P99, x.Total.Errors, x.Total.Requests = tput, p99, errs, 1000
		return &x
	}
	sc := scenario{name: "login"}
	// The median of three runs, the ratio to the ceiling, errors summed.
	reps := []*report{r(50, 30, 0), r(70, 10, 1), r(60, 20, 0)}
	got := cell(sc, reps, 80, nil)
	if want := "60.0/s (75%), p99 20.0 ms, 1 errors"; got != want {
		t.Errorf("cell = %q, want %q", got, want)
	}
	// With a ceiling measured around each run: the median of the runs'
	// own ratios (50/100, 70/70, 60/75).
	got = cell(sc, reps, 80, []float64{100, 70, 75})
	if want := "60.0/s (75%, around 80%), p99 20.0 ms, 1 errors"; got != want {
		t.Errorf("cell with around = %q, want %q", got, want)
	}
	if got := cell(sc, nil, 80, nil); got != "-" {
		t.Errorf("cell(no runs) = %q, want -", got)
	}
}

func TestParseProcStat(t *testing.T) {
	idle, total, ok := parseProcStat("cpu  100 20 30 400 50 6 7 8 90 10\ncpu0 1 2 3 4 5 6 7 8 9 10\n")
	if !ok || idle != 450 || total != 621 {
		t.Errorf("parseProcStat = %d, %d, %v; want 450, 621, true", idle, total, ok)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5\n", "cpu 1 2 x 4 5 6\n", "cpu 1 2\n"} {
		if _, _, ok := parseProcStat(bad); ok {
			t.Errorf("parseProcStat(%q) accepted", bad)
		}
	}
}

func TestParsePidStat(t *testing.T) {
	line := "4242 (post gres) (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 1 0 99 0 0\n"
	comm, ticks, ok := parsePidStat(line)
	if !ok || comm != "post gres) (x)" || ticks != 1801 {
		t.Errorf("parsePidStat = %q, %d, %v; want \"post gres) (x)\", 1801, true", comm, ticks, ok)
	}
	for _, bad := range []string{"", "4242 postgres S 1", "4242 (postgres) S 1 2 3", "4242 (postgres) S 1 2 3 4 5 6 7 8 9 10 x 5"} {
		if _, _, ok := parsePidStat(bad); ok {
			t.Errorf("parsePidStat(%q) accepted", bad)
		}
	}
	// This process reads itself.
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skip("no /proc here")
	}
	if comm, _, ok := parsePidStat(string(b)); !ok || comm == "" {
		t.Errorf("parsePidStat(/proc/self/stat) = %q, %v", comm, ok)
	}
}

func TestCPUSince(t *testing.T) {
	a := cpuTicks{latch: 100, db: 50, idle: 10, total: 1000}
	b := cpuTicks{latch: 280, db: 60, idle: 30, total: 1200}
	got := b.since(a)
	if got.latch != 0.9 || got.db != 0.05 || got.idle != 0.1 {
		t.Errorf("since = %+v, want latch 0.9, db 0.05, idle 0.1", got)
	}
	if c := cpuCell([]cpuShare{got, {latch: 0.5, db: 0, idle: 0.5}, {latch: 0.8, db: 0.1, idle: 0.05}}); c != "80% / 5% / 10%" {
		t.Errorf("cpuCell = %q", c)
	}
	if cpuCell(nil) != "-" {
		t.Error("cpuCell of no runs is not -")
	}
}
