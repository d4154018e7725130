// Command table measures latch in one sitting and prints the results
// table of docs/benchmarks.md in markdown: the raw ceilings of the work a
// request must do (argon2id hashes with latch's parameters, Ed25519
// signatures and verifications) and then every latch-bench scenario
// against latch on SQLite and on PostgreSQL, one server under load at a
// time, with each result's ratio to its ceiling.
//
//	go run ./cmd/latch-bench/table              # 10 s per run, both stores
//	go run ./cmd/latch-bench/table -d 5s -postgres ''   # SQLite only
//
// It builds latch and latch-bench from this module, starts latch on a free
// loopback port (email confirmation and rate limits off, its log in a
// temporary file), on a new SQLite file and in a new PostgreSQL schema
// that it drops at the end, and stops everything it started before it
// exits. Load goes to loopback only; the PostgreSQL URL must name a
// loopback host too. With -runs N every cell is the median of N runs.
// The rows bound by argon2id also give each run's ratio to the argon2id
// ceiling measured around it ("around"): on a shared machine the ceiling
// moves within a sitting.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the PostgreSQL driver, to create and drop the schema
	xargon2 "golang.org/x/crypto/argon2"

	"github.com/latchauth/latch/internal/password"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(1)
	}
}

// scenario is one latch-bench run of the table.
type scenario struct {
	name  string // row name
	args  []string
	users int
	// ceiling names the raw ceiling the row is compared with ("" none).
	ceiling string
}

var scenarios = []scenario{
	{"login", []string{"-scenario", "login", "-c", "4"}, 16, ceilArgon2},
	{"refresh", []string{"-scenario", "refresh", "-c", "32"}, 32, ""},
	{"me", []string{"-scenario", "me", "-c", "32"}, 32, ceilVerify},
	{"signup", []string{"-scenario", "signup", "-c", "4"}, 4, ceilArgon2},
	{"forgot", []string{"-scenario", "forgot", "-c", "4"}, 16, ""},
	{"mixed", []string{"-scenario", "mixed", "-c", "8"}, 16, ""},
	{"overload", []string{"-scenario", "login", "-overload", "-c", "8"}, 16, ceilArgon2},
}

// Raw ceilings, measured in-process on every core.
const (
	ceilArgon2 = "argon2id hashes/s"
	ceilSign   = "Ed25519 signatures/s"
	ceilVerify = "Ed25519 verifications/s"
	// The library latch's hasher is a copy of, for reference: no row is
	// compared with it.
	ceilArgon2Lib = "x/crypto/argon2 argon2id hashes/s"
)

// report is the part of latch-bench's JSON report the table uses.
type report struct {
	Total struct {
		Requests          int     `json:"requests"`
		Errors            int     `json:"errors"`
		Throughput        float64 `json:"requests_per_second"`
		P50               float64 `json:"p50_ms"`
		P99               float64 `json:"p99_ms"`
		Refused           int     `json:"refused"`
		RefusedRetryAfter int     `json:"refused_retry_after"`
		RefusedP99        float64 `json:"refused_p99_ms"`
	} `json:"total"`
	Baseline *struct {
		Throughput float64 `json:"requests_per_second"`
		P99        float64 `json:"p99_ms"`
	} `json:"baseline"`
	AdmittedP99Ratio float64 `json:"admitted_p99_ratio"`
}

type options struct {
	duration time.Duration
	ceiling  time.Duration
	runs     int
	postgres string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "latch-table-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	say := func(format string, a ...any) { fmt.Fprintf(stderr, "table: "+format+"\n", a...) }

	say("building latch and latch-bench")
	bins, err := buildBinaries(ctx, dir)
	if err != nil {
		return err
	}
	stores := []store{{name: "SQLite", url: "sqlite:" + filepath.Join(dir, "bench.db")}}
	if o.postgres != "" {
		pgURL, drop, err := newSchema(ctx, o.postgres)
		if err != nil {
			return err
		}
		defer drop()
		stores = append(stores, store{name: "PostgreSQL", url: pgURL})
	}
	sit := &sitting{opts: o, say: say, bins: bins, stores: stores,
		loadBefore: loadAverage(), ceilingRuns: map[string][]float64{}}
	if err := sit.runStores(ctx, dir); err != nil {
		return err
	}
	sit.printTable(stdout)
	return nil
}

// parseOptions reads and checks the flags.
func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("table", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.DurationVar(&o.duration, "d", 10*time.Second, "length of each latch-bench run (at most 60s)")
	fs.DurationVar(&o.ceiling, "ceiling-time", 5*time.Second, "length of each raw ceiling's measurement (at most 60s)")
	fs.IntVar(&o.runs, "runs", 1, "runs per cell, the median is shown (1 to 5)")
	fs.StringVar(&o.postgres, "postgres", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
		"PostgreSQL database (loopback host) in which a schema is created for the run; empty: SQLite only")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.duration <= 0 || o.duration > 60*time.Second {
		return o, fmt.Errorf("-d %v: want more than 0 and at most 60s", o.duration)
	}
	if o.ceiling <= 0 || o.ceiling > 60*time.Second {
		return o, fmt.Errorf("-ceiling-time %v: want more than 0 and at most 60s", o.ceiling)
	}
	if o.runs < 1 || o.runs > 5 {
		return o, fmt.Errorf("-runs %d: want 1 to 5", o.runs)
	}
	if o.postgres != "" {
		if err := checkLoopbackURL(o.postgres); err != nil {
			return o, err
		}
	}
	return o, nil
}

// buildBinaries builds latch and latch-bench from this checkout into dir.
func buildBinaries(ctx context.Context, dir string) (map[string]string, error) {
	bins := map[string]string{}
	for _, name := range []string{"latch", "latch-bench"} {
		bins[name] = filepath.Join(dir, name)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bins[name], "github.com/latchauth/latch/cmd/"+name)
		// The static binary the README and docs/operations.md build: no
		// C library mapped into the process.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("go build %s: %v\n%s", name, err, out)
		}
	}
	return bins, nil
}

// store is a database latch runs on for one column of the table.
type store struct{ name, url string }

// sitting is one measurement session: the ceilings, and per store the
// reports of every run and latch's memory.
type sitting struct {
	opts       options
	say        func(format string, a ...any)
	bins       map[string]string
	stores     []store
	loadBefore string

	ceilingRuns map[string][]float64
	results     []map[string][]*report  // [store][scenario], one report per run
	around      []map[string][]float64  // [store][scenario]: the argon2id ceiling around each run
	cpu         []map[string][]cpuShare // [store][scenario], one share per run
	rss         [][3]int64              // [store]: idle, max under load, after the load; KiB
	idleAnon    []int64                 // [store]: anonymous memory of the idle RSS; KiB
	ready       [][]time.Duration       // [store]: restarts on the existing database
}

// Restarts on the existing database after a store's runs, to time
// readiness, and the pause after the load before latch's resident set is
// read again (longer than the hasher's 2 s idle time).
const (
	restarts   = 3
	afterLoad  = 4 * time.Second
	readyLimit = 30 * time.Second
)

// measureCeilings adds one measurement of each raw ceiling. They are
// measured before each store's runs and after the last, and the median is
// used: on a shared machine they drift with the rest of the load.
func (t *sitting) measureCeilings() {
	t.say("measuring the raw ceilings (%v each)", t.opts.ceiling)
	t.ceilingRuns[ceilArgon2] = append(t.ceilingRuns[ceilArgon2], argon2Rate(t.opts.ceiling))
	t.ceilingRuns[ceilArgon2Lib] = append(t.ceilingRuns[ceilArgon2Lib], argon2LibRate(t.opts.ceiling))
	t.ceilingRuns[ceilSign] = append(t.ceilingRuns[ceilSign], ed25519Rate(t.opts.ceiling, false))
	t.ceilingRuns[ceilVerify] = append(t.ceilingRuns[ceilVerify], ed25519Rate(t.opts.ceiling, true))
}

// runStores starts latch on each store in turn and runs every scenario
// against it.
func (t *sitting) runStores(ctx context.Context, dir string) error {
	t.results = make([]map[string][]*report, len(t.stores))
	t.around = make([]map[string][]float64, len(t.stores))
	t.cpu = make([]map[string][]cpuShare, len(t.stores))
	t.rss = make([][3]int64, len(t.stores))
	t.idleAnon = make([]int64, len(t.stores))
	t.ready = make([][]time.Duration, len(t.stores))
	for i, st := range t.stores {
		t.results[i] = map[string][]*report{}
		t.around[i] = map[string][]float64{}
		t.cpu[i] = map[string][]cpuShare{}
		t.measureCeilings()
		t.say("starting latch on %s", st.name)
		srv, err := startLatch(ctx, t.bins["latch"], dir, st.url)
		if err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
		t.rss[i][0] = srv.rss()
		t.idleAnon[i] = srv.anonymous()
		err = t.runScenarios(ctx, srv, i)
		if err == nil {
			time.Sleep(afterLoad)
			t.rss[i][2] = srv.rss()
		}
		srv.stop()
		if err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
		for r := range restarts {
			t.say("%s: restart on the existing database (%d of %d)", st.name, r+1, restarts)
			srv, err := startLatch(ctx, t.bins["latch"], dir, st.url)
			if err != nil {
				return fmt.Errorf("%s: restart: %w", st.name, err)
			}
			t.ready[i] = append(t.ready[i], srv.readyIn)
			srv.stop()
		}
	}
	t.measureCeilings()
	return nil
}

// runScenarios runs every scenario opts.runs times against srv, the
// latch of store i.
func (t *sitting) runScenarios(ctx context.Context, srv *server, i int) error {
	for _, sc := range scenarios {
		// A run bound by argon2id is also compared with the ceiling
		// measured just before and just after it, which follows the
		// machine's drift within the sitting (latch idles meanwhile). One
		// run's "after" is the next run's "before": nothing runs between.
		var ceilAfter float64
		for r := 0; r < t.opts.runs; r++ {
			t.say("%s: %s (run %d of %d)", t.stores[i].name, sc.name, r+1, t.opts.runs)
			ceilBefore := ceilAfter
			if sc.ceiling == ceilArgon2 && r == 0 {
				ceilBefore = argon2Rate(t.opts.ceiling)
			}
			stop := srv.sampleRSS(&t.rss[i][1])
			// The CPU split covers the measured load, not the setup
			// before it (latch-bench's users, created one at a time).
			var (
				before cpuTicks
				ok     bool
			)
			rep, err := bench(ctx, t.bins["latch-bench"], srv.url, sc, t.opts.duration, func() {
				before, ok = readCPU(srv.cmd.Process.Pid)
			})
			if after, ok2 := readCPU(srv.cmd.Process.Pid); ok && ok2 && err == nil {
				t.cpu[i][sc.name] = append(t.cpu[i][sc.name], after.since(before))
			}
			stop()
			if err != nil {
				return fmt.Errorf("%s: %w", sc.name, err)
			}
			t.results[i][sc.name] = append(t.results[i][sc.name], rep)
			if sc.ceiling == ceilArgon2 {
				ceilAfter = argon2Rate(t.opts.ceiling)
				t.around[i][sc.name] = append(t.around[i][sc.name], (ceilBefore+ceilAfter)/2)
			}
		}
	}
	return nil
}

// printTable writes the ceilings and the results as markdown tables.
func (t *sitting) printTable(w io.Writer) {
	ceilings := map[string]float64{}
	for k, v := range t.ceilingRuns {
		ceilings[k] = median(v)
	}
	fmt.Fprintf(w, "%s, %s %s/%s, %d cores; 1-minute load average %s before and %s after; %s per run, median of %d; ceilings median of %d\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.Version(), runtime.GOOS, runtime.GOARCH,
		runtime.NumCPU(), t.loadBefore, loadAverage(), t.opts.duration, t.opts.runs, len(t.ceilingRuns[ceilArgon2]))
	fmt.Fprintln(w, "| raw ceiling (in-process, every core) | per second |")
	fmt.Fprintln(w, "|---|---|")
	for _, c := range []string{ceilArgon2, ceilArgon2Lib, ceilSign, ceilVerify} {
		fmt.Fprintf(w, "| %s (%s) | %s |\n", strings.TrimSuffix(c, "/s"), ceilingDetail(c), num(ceilings[c]))
	}
	fmt.Fprintln(w)
	t.printHeader(w, []string{"scenario", "clients", "ceiling"}, "latch %s: req/s (of ceiling), p99")
	for _, sc := range scenarios {
		clients := flagValue(sc.args, "-c")
		if sc.name == "overload" {
			n, _ := strconv.Atoi(clients)
			clients = fmt.Sprintf("%d then %d", n, 2*n)
		}
		ceil := "-"
		if sc.ceiling != "" {
			ceil = num(ceilings[sc.ceiling]) + " " + strings.Fields(sc.ceiling)[0]
		}
		fmt.Fprintf(w, "| %s | %s | %s |", sc.name, clients, ceil)
		for i := range t.stores {
			fmt.Fprintf(w, " %s |", cell(sc, t.results[i][sc.name], ceilings[sc.ceiling], t.around[i][sc.name]))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "| RSS idle / max under load / %v after | | |", afterLoad)
	for i := range t.stores {
		fmt.Fprintf(w, " %s / %s / %s MiB |", mib(t.rss[i][0]), mib(t.rss[i][1]), mib(t.rss[i][2]))
	}
	fmt.Fprintln(w)
	// The rest of the RSS is the binary's pages the kernel mapped in.
	fmt.Fprint(w, "| of the idle RSS, anonymous memory (heap, stacks, runtime) | | |")
	for i := range t.stores {
		fmt.Fprintf(w, " %s MiB |", mib(t.idleAnon[i]))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| ready on the existing database (start to /readyz 200), median of %d | | |", restarts)
	for i := range t.stores {
		v := make([]float64, len(t.ready[i]))
		for j, d := range t.ready[i] {
			v[j] = float64(d) / float64(time.Millisecond)
		}
		if len(v) == 0 {
			fmt.Fprint(w, " - |")
			continue
		}
		fmt.Fprintf(w, " %s |", msStr(median(v)))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "\n\"around\": the median over the runs of each run's rate against the argon2id ceiling measured just before and just after it (%v each), the machine's speed in that minute.\n", t.opts.ceiling)
	t.printCPU(w)
}

// printHeader writes a Markdown table's header: the lead columns, then one
// column per store, named by storeCol with the store's name.
func (t *sitting) printHeader(w io.Writer, lead []string, storeCol string) {
	cols := slices.Clone(lead)
	for _, st := range t.stores {
		cols = append(cols, fmt.Sprintf(storeCol, st.name))
	}
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
}

// printCPU writes where the machine's CPU went during each scenario's
// runs: what latch, the database server and nothing (idle) took of every
// core while the load ran (not during latch-bench's setup). What is left
// is the load client and the rest of the machine.
func (t *sitting) printCPU(w io.Writer) {
	fmt.Fprintln(w)
	t.printHeader(w, []string{"CPU during the runs, share of all cores (median): latch / database server / idle"}, "%s")
	for _, sc := range scenarios {
		fmt.Fprintf(w, "| %s |", sc.name)
		for i := range t.stores {
			fmt.Fprintf(w, " %s |", cpuCell(t.cpu[i][sc.name]))
		}
		fmt.Fprintln(w)
	}
}

func ceilingDetail(c string) string {
	switch c {
	case ceilArgon2:
		cfg := password.NewHasher(password.Config{}).Config()
		return fmt.Sprintf("m=%d KiB, t=%d, p=%d, %d at a time", cfg.Memory, cfg.Time, cfg.Threads, cfg.MaxConcurrent)
	case ceilArgon2Lib:
		return "the same parameters, IDKey: new memory each hash; for reference"
	case ceilSign:
		return "a 300-byte message, what each token answer signs"
	default:
		return "the same message, what each bearer check verifies"
	}
}

// cell formats one scenario's runs on one store: medians of throughput and
// p99, the ratio to the ceiling, errors; for the overload row the admitted
// and refused logins. around, when it holds a ceiling per run (measured
// just before and after it), adds the median of each run's ratio to its
// own ceiling.
func cell(sc scenario, reps []*report, ceiling float64, around []float64) string {
	if len(reps) == 0 {
		return "-"
	}
	med := func(f func(*report) float64) float64 {
		v := make([]float64, len(reps))
		for i, r := range reps {
			v[i] = f(r)
		}
		return median(v)
	}
	errs := 0
	for _, r := range reps {
		errs += r.Total.Errors - r.Total.Refused
	}
	if sc.name == "overload" {
		admittedOf := func(r *report) float64 {
			return r.Total.Throughput * float64(r.Total.Requests-r.Total.Errors) / float64(max(r.Total.Requests, 1))
		}
		admitted := med(admittedOf)
		s := fmt.Sprintf("unloaded %s/s p99 %s; overloaded: admitted %s/s (%.0f%%%s) p99 %s (%.1fx the unloaded)",
			num(med(func(r *report) float64 { return r.Baseline.Throughput })),
			msStr(med(func(r *report) float64 { return r.Baseline.P99 })),
			num(admitted), 100*admitted/max(ceiling, 1e-9), aroundRatio(reps, around, admittedOf),
			msStr(med(func(r *report) float64 { return r.Total.P99 })),
			med(func(r *report) float64 { return r.AdmittedP99Ratio }))
		if refused := med(func(r *report) float64 { return float64(r.Total.Refused) }); refused > 0 {
			s += fmt.Sprintf(", refused %s (p99 %s, Retry-After on %s)", count(refused),
				msStr(med(func(r *report) float64 { return r.Total.RefusedP99 })),
				count(med(func(r *report) float64 { return float64(r.Total.RefusedRetryAfter) })))
		} else {
			s += ", none refused"
		}
		if errs > 0 {
			s += fmt.Sprintf(", %d other errors", errs)
		}
		return s
	}
	tput := med(func(r *report) float64 { return r.Total.Throughput })
	s := num(tput) + "/s"
	if ceiling > 0 {
		s += fmt.Sprintf(" (%.0f%%%s)", 100*tput/ceiling, aroundRatio(reps, around, func(r *report) float64 { return r.Total.Throughput }))
	}
	s += ", p99 " + msStr(med(func(r *report) float64 { return r.Total.P99 }))
	if errs > 0 {
		s += fmt.Sprintf(", %d errors", errs)
	}
	if ref := med(func(r *report) float64 { return float64(r.Total.Refused) }); ref > 0 {
		s += fmt.Sprintf(", %s refused", count(ref))
	}
	return s
}

// aroundRatio is ", around N%": the median over runs of rate(run) against
// the ceiling measured around that run; "" unless around has one per run.
func aroundRatio(reps []*report, around []float64, rate func(*report) float64) string {
	if len(around) == 0 || len(around) != len(reps) {
		return ""
	}
	v := make([]float64, len(reps))
	for i, r := range reps {
		v[i] = rate(r) / max(around[i], 1e-9)
	}
	return fmt.Sprintf(", around %.0f%%", 100*median(v))
}

func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// median returns the median of v, which is not empty (the upper one of an
// even count).
func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

// num formats a rate: thousands separated, one decimal below 100.
func num(v float64) string {
	if v < 100 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return count(v)
}

// count formats a whole number with thousands separated.
func count(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func msStr(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64) + " ms"
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " ms"
}

func mib(kib int64) string {
	if kib <= 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(kib)/1024, 'f', 1, 64)
}

// bench runs latch-bench once and decodes its report.
func bench(ctx context.Context, bin, base string, sc scenario, d time.Duration, running func()) (*report, error) {
	args := append([]string{"-url", base, "-json", "-d", d.String(), "-users", strconv.Itoa(sc.users)}, sc.args...)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout = &stdout
	cmd.Stderr = &markWatch{buf: &stderr, mark: []byte("; running "), fire: running}
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("latch-bench %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var r report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return nil, fmt.Errorf("latch-bench report: %v", err)
	}
	if sc.name == "overload" && r.Baseline == nil {
		return nil, errors.New("latch-bench -overload reported no baseline")
	}
	return &r, nil
}

// markWatch writes to buf and calls fire (once, when not nil) as soon as
// what was written holds mark: latch-bench's "setup took ...; running"
// line, written when its users exist and the measured load starts.
type markWatch struct {
	buf  *bytes.Buffer
	mark []byte
	fire func()
}

func (w *markWatch) Write(p []byte) (int, error) {
	n, err := w.buf.Write(p)
	if w.fire != nil && bytes.Contains(w.buf.Bytes(), w.mark) {
		f := w.fire
		w.fire = nil
		f()
	}
	return n, err
}

// server is a running latch.
type server struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
	// readyIn is the time from the process's start to its first 200 from
	// GET /readyz (the database reachable).
	readyIn time.Duration
}

// startLatch starts latch serve on a free loopback port with database
// dbURL and waits for its "listening" log line and then for GET /readyz to
// answer 200.
func startLatch(ctx context.Context, bin, dir, dbURL string) (*server, error) {
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
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
		"LATCH_DATABASE_URL="+dbURL,
	)
	logFile, err := os.Create(filepath.Join(dir, "latch-"+strconv.FormatInt(time.Now().UnixNano(), 36)+".log"))
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		defer close(s.done)
		defer logFile.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			logFile.Write(append(sc.Bytes(), '\n'))
			var line struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				select {
				case addr <- line.Addr:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case a := <-addr:
		s.url = "http://" + a
		if err := s.waitReady(ctx, started); err != nil {
			s.stop()
			return nil, err
		}
		return s, nil
	case <-s.done:
		cmd.Wait()
		return nil, fmt.Errorf("latch exited before listening; its log: %s", logFile.Name())
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	s.stop()
	return nil, errors.New("latch did not log \"listening\" within 30s")
}

// waitReady polls GET /readyz every 2 ms until it answers 200 and sets
// readyIn from started.
func (s *server) waitReady(ctx context.Context, started time.Time) error {
	client := &http.Client{Timeout: time.Second}
	deadline := started.Add(readyLimit)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.readyIn = time.Since(started)
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("latch's /readyz did not answer 200 within %v", readyLimit)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// stop interrupts latch and waits for it, killing it after 10 s.
func (s *server) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd.Wait()
}

// rss returns latch's resident set in KiB (0 where /proc is not there).
func (s *server) rss() int64 { return s.procKiB("status", "VmRSS:") }

// anonymous is the part of latch's resident set that is not file pages
// (the binary's): heap, stacks and the runtime's own, in KiB.
func (s *server) anonymous() int64 { return s.procKiB("smaps_rollup", "Anonymous:") }

// procKiB reads the KiB field named key from latch's /proc/PID/file.
func (s *server) procKiB(file, key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", s.cmd.Process.Pid, file))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// sampleRSS raises *peak to latch's resident set every 200 ms until the
// returned func is called.
func (s *server) sampleRSS(peak *int64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			if v := s.rss(); v > *peak {
				*peak = v
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// argon2Rate is how many argon2id hashes with latch's default parameters
// latch's hasher completes per second with every slot busy.
func argon2Rate(d time.Duration) float64 {
	h := password.NewHasher(password.Config{})
	return rate(d, h.Config().MaxConcurrent, func() {
		if _, err := h.Hash(context.Background(), "correct horse battery staple"); err != nil {
			panic(err)
		}
	})
}

// argon2LibRate is argon2Rate with x/crypto's IDKey, which allocates the
// hash's memory at every call, where latch's hasher reuses each slot's.
func argon2LibRate(d time.Duration) float64 {
	cfg := password.NewHasher(password.Config{}).Config()
	salt := make([]byte, 16)
	rand.Read(salt)
	return rate(d, cfg.MaxConcurrent, func() {
		xargon2.IDKey([]byte("correct horse battery staple"), salt, cfg.Time, cfg.Memory, cfg.Threads, 32)
	})
}

// ed25519Rate is how many Ed25519 signatures (or verifications) of a
// token-sized message every core completes per second.
func ed25519Rate(d time.Duration, verify bool) float64 {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := make([]byte, 300)
	rand.Read(msg)
	sig := ed25519.Sign(priv, msg)
	return rate(d, runtime.GOMAXPROCS(0), func() {
		if verify {
			if !ed25519.Verify(pub, msg, sig) {
				panic("ed25519: verification failed")
			}
			return
		}
		ed25519.Sign(priv, msg)
	})
}

// rate runs fn in workers goroutines for d and returns calls per second.
func rate(d time.Duration, workers int, fn func()) float64 {
	var n atomic.Int64
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				fn()
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

// newSchema creates a fresh schema in the PostgreSQL database at raw and
// returns a URL that uses it, and a func that drops it.
func newSchema(ctx context.Context, raw string) (string, func(), error) {
	db, err := sql.Open("pgx", raw)
	if err != nil {
		return "", nil, fmt.Errorf("postgres: %w", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "latch_table_" + hex.EncodeToString(b)
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("postgres: create schema (is PostgreSQL running at the -postgres URL?): %w", err)
	}
	u, _ := url.Parse(raw)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		if _, err := db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			fmt.Fprintf(os.Stderr, "table: drop schema %s: %v\n", schema, err)
		}
		db.Close()
	}, nil
}

// checkLoopbackURL refuses a database URL whose host is not loopback: the
// table sends load to this machine only.
func checkLoopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("-postgres: malformed URL")
	}
	h := u.Hostname()
	if a, err := netip.ParseAddr(h); (err != nil || !a.Unmap().IsLoopback()) && !strings.EqualFold(h, "localhost") {
		return fmt.Errorf("-postgres: host %q is not loopback: the table runs against this machine only", h)
	}
	return nil
}

// loadAverage returns the 1-minute load average, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
