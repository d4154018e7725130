// Command latch-bench is a bounded HTTP load generator for a latch server
// running on this machine.
//
// It creates its own users through the public API, then sends one of these
// request mixes for a bounded time or number of requests and reports
// throughput, latency percentiles and errors by status:
//
//	login    confirmed users logging in again and again (argon2id verify)
//	refresh  sessions rotating their refresh tokens
//	me       GET /v1/me with a bearer token (the bearer-verification path)
//	signup   new accounts (argon2id hash, user and session writes)
//	forgot   password-reset requests for existing accounts
//	mixed    70% me, 25% refresh, 5% login
//
// With -overload (login only) it runs twice: at -c, then at twice -c, and
// reports for the second run how many logins were refused (429 or 503) and
// how fast, and the admitted logins' p99 against the first run's.
//
// Command latch-bench/table runs every scenario against latch on SQLite
// and PostgreSQL and prints the results table of docs/benchmarks.md.
//
// It refuses every address that is not loopback (127.0.0.0/8, ::1,
// localhost): load is only ever sent to this machine. Run latch with email
// confirmation and rate limits off, for example
//
//	LATCH_CONFIRM_EMAIL=false LATCH_RATE_LIMITS=false LATCH_DATABASE_URL=sqlite:/tmp/bench.db go run ./cmd/latch serve
//	go run ./cmd/latch-bench -scenario mixed -d 20s
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "latch-bench:", err)
		os.Exit(1)
	}
}

// Bounds on one run: the harness always stops by itself.
const (
	maxDuration    = 60 * time.Second
	maxRequests    = 200000
	maxConcurrency = 256
	maxUsers       = 10000
	requestTimeout = 10 * time.Second
)

// Operation names, as they appear in the report.
const (
	opLogin   = "login"
	opRefresh = "refresh"
	opMe      = "me"
	opSignup  = "signup"
	opForgot  = "forgot"
)

// scenarios maps a scenario name to its operations and their weights in
// percent.
var scenarios = map[string][]weighted{
	"login":   {{opLogin, 100}},
	"refresh": {{opRefresh, 100}},
	"me":      {{opMe, 100}},
	"signup":  {{opSignup, 100}},
	"forgot":  {{opForgot, 100}},
	"mixed":   {{opMe, 70}, {opRefresh, 25}, {opLogin, 5}},
}

type weighted struct {
	op     string
	weight int
}

const usage = `usage: latch-bench [flags]

Sends a bounded load to a latch server on this machine (loopback only) and
reports throughput and latency. Start latch for benchmarks with:

  LATCH_CONFIRM_EMAIL=false LATCH_RATE_LIMITS=false LATCH_DATABASE_URL=sqlite:/tmp/bench.db go run ./cmd/latch serve

scenarios: login, refresh, me, signup, forgot, mixed (70% me, 25% refresh,
5% login); -overload (login only) runs at -c and then at twice -c and reports
the refusals and the admitted logins' p99 against the first run's.

flags:
`

// options are the parsed flags.
type options struct {
	base        *url.URL
	scenario    string
	concurrency int
	requests    int
	duration    time.Duration
	users       int
	json        bool
	overload    bool
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("latch-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	var o options
	rawURL := fs.String("url", "http://127.0.0.1:8080", "base URL of latch (loopback hosts only)")
	fs.StringVar(&o.scenario, "scenario", "me", "login, refresh, me, signup, forgot or mixed")
	fs.IntVar(&o.concurrency, "c", 8, "concurrent requests (1 to 256)")
	fs.IntVar(&o.requests, "n", maxRequests, "stop after this many requests (at most 200000)")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "stop after this long (at most 60s)")
	fs.IntVar(&o.users, "users", 16, "users created for the run (at least -c for refresh and mixed)")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	fs.BoolVar(&o.overload, "overload", false, "login only: run at -c, then at twice -c (each bounded by -n and -d), and report refusals and p99 against the first run")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	base, err := checkBaseURL(*rawURL)
	if err != nil {
		return nil, err
	}
	o.base = base
	if _, ok := scenarios[o.scenario]; !ok {
		return nil, fmt.Errorf("-scenario %q: want login, refresh, me, signup, forgot or mixed", o.scenario)
	}
	if o.overload && o.scenario != "login" {
		return nil, fmt.Errorf("-overload is for -scenario login, not %s", o.scenario)
	}
	switch {
	case o.concurrency < 1 || o.concurrency > maxConcurrency:
		return nil, fmt.Errorf("-c %d: want 1 to %d", o.concurrency, maxConcurrency)
	case o.overload && 2*o.concurrency > maxConcurrency:
		return nil, fmt.Errorf("-c %d with -overload: want 1 to %d (twice -c is sent)", o.concurrency, maxConcurrency/2)
	case o.requests < 1 || o.requests > maxRequests:
		return nil, fmt.Errorf("-n %d: want 1 to %d", o.requests, maxRequests)
	case o.duration <= 0 || o.duration > maxDuration:
		return nil, fmt.Errorf("-d %v: want more than 0 and at most %v", o.duration, maxDuration)
	case o.users < 1 || o.users > maxUsers:
		return nil, fmt.Errorf("-users %d: want 1 to %d", o.users, maxUsers)
	case o.users < o.concurrency && (o.scenario == "refresh" || o.scenario == "mixed"):
		// Each session's refresh token rotates one request at a time.
		return nil, fmt.Errorf("-users %d is less than -c %d: scenario %s needs a session per concurrent request", o.users, o.concurrency, o.scenario)
	}
	return &o, nil
}

// checkBaseURL parses the base URL and refuses every host that is not
// loopback: this workplace forbids sending load to other addresses.
func checkBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("-url: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("-url %q: want an http or https URL", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("-url %q: want scheme, host, port and path only", raw)
	}
	if !isLoopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("-url %q: refusing host %q: load may only be sent to loopback (127.0.0.0/8, ::1 or localhost) on this workplace", raw, u.Hostname())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

// isLoopbackHost reports whether host is localhost or a loopback IP
// address (127.0.0.0/8, ::1, also as an IPv4-mapped IPv6 address).
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return a.Unmap().IsLoopback()
}

// loopbackDial dials like net.Dialer but closes, with an error, any
// connection whose remote address is not loopback: "localhost" resolving
// elsewhere still sends nothing.
func loopbackDial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil || !ap.Addr().Unmap().IsLoopback() {
		c.Close()
		return nil, fmt.Errorf("refusing to send load to %s: not a loopback address", c.RemoteAddr())
	}
	return c, nil
}

// Report is the outcome of one run; durations are in milliseconds.
type Report struct {
	Scenario     string  `json:"scenario"`
	URL          string  `json:"url"`
	Concurrency  int     `json:"concurrency"`
	Users        int     `json:"users"`
	SetupSeconds float64 `json:"setup_seconds"`
	Seconds      float64 `json:"seconds"`
	// Total covers every operation; Ops has one entry per operation in
	// the scenario.
	Total OpReport   `json:"total"`
	Ops   []OpReport `json:"ops"`
	// Relogins counts sessions replaced with a fresh login (not counted
	// as requests) after their refresh failed with 401.
	Relogins int `json:"relogins,omitempty"`
	// Baseline, with -overload, is the run at -c; the report itself is
	// the run at twice -c. AdmittedP99Ratio is the admitted logins' p99
	// over the baseline's.
	Baseline         *OpReport `json:"baseline,omitempty"`
	AdmittedP99Ratio float64   `json:"admitted_p99_ratio,omitempty"`
}

// OpReport is the outcome of one kind of request. Latencies are those of
// successful requests.
type OpReport struct {
	Op       string `json:"op"`
	Requests int    `json:"requests"`
	Errors   int    `json:"errors"`
	// ErrorsByStatus counts failures by HTTP status, or "transport" (no
	// answer) and "bad_answer" (a success status with an unreadable body).
	ErrorsByStatus map[string]int `json:"errors_by_status"`
	Throughput     float64        `json:"requests_per_second"`
	P50            float64        `json:"p50_ms"`
	P90            float64        `json:"p90_ms"`
	P99            float64        `json:"p99_ms"`
	Max            float64        `json:"max_ms"`
	Mean           float64        `json:"mean_ms"`
	// Refused counts the answers 429 and 503 (also in Errors): the
	// server shedding load. RefusedRetryAfter counts those that said when
	// to come back; RefusedP50 and RefusedP99 are their latencies.
	Refused           int     `json:"refused"`
	RefusedRetryAfter int     `json:"refused_retry_after"`
	RefusedP50        float64 `json:"refused_p50_ms"`
	RefusedP99        float64 `json:"refused_p99_ms"`
}

// stats collects one worker's observations of one operation.
type stats struct {
	requests   int
	latencies  []time.Duration // successful requests
	errors     map[string]int
	refused    []time.Duration // 429 and 503 answers
	retryAfter int             // refusals with a Retry-After
}

func (s *stats) fail(key string) {
	if s.errors == nil {
		s.errors = make(map[string]int)
	}
	s.errors[key]++
}

// session is a logged-in user whose refresh token rotates; it is held by
// one worker at a time.
type session struct {
	user    int
	refresh string
}

// bench is one run against one server.
type bench struct {
	opts     *options
	client   *http.Client
	password string
	emails   []string
	access   []string      // an access token per user, for GET /v1/me
	sessions chan *session // refresh tokens, one per user
	relogins atomic.Int64
	run      string       // random part of this run's addresses
	signups  atomic.Int64 // accounts created by the signup scenario
}

// tokenAnswer is the part of latch's token answer the harness uses.
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// run is latch-bench's whole program with the operating system passed in.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	tr := &http.Transport{
		DialContext:         loopbackDial,
		MaxIdleConns:        2 * opts.concurrency,
		MaxIdleConnsPerHost: 2 * opts.concurrency,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	b := &bench{
		opts: opts,
		client: &http.Client{
			Transport: tr,
			Timeout:   requestTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse // never follow a redirect elsewhere
			},
		},
		password: "bench " + randomHex(12),
		sessions: make(chan *session, opts.users),
	}

	fmt.Fprintf(stderr, "latch-bench: creating %d users on %s\n", opts.users, opts.base)
	setupStart := time.Now()
	if err := b.setup(ctx); err != nil {
		return err
	}
	setup := time.Since(setupStart)
	fmt.Fprintf(stderr, "latch-bench: setup took %.1fs; running %s for at most %v or %d requests at -c %d\n",
		setup.Seconds(), opts.scenario, opts.duration, opts.requests, opts.concurrency)

	var rep *Report
	if opts.overload {
		rep, err = b.overload(ctx, stderr)
	} else {
		rep, err = b.load(ctx, opts.concurrency)
	}
	if err != nil {
		return err
	}
	rep.SetupSeconds = setup.Seconds()
	if opts.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return writeTable(stdout, rep)
}

// setup signs up opts.users users, opts.concurrency at a time, keeping an
// access token and a session of each.
func (b *bench) setup(ctx context.Context) error {
	n := b.opts.users
	b.run = randomHex(6)
	b.emails = make([]string, n)
	b.access = make([]string, n)
	refresh := make([]string, n)
	for i := range b.emails {
		b.emails[i] = fmt.Sprintf("bench-%s-%d@example.com", b.run, i)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range min(b.opts.concurrency, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				tok, err := b.signup(ctx, b.emails[i])
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					return
				}
				b.access[i], refresh[i] = tok.AccessToken, tok.RefreshToken
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for i, rt := range refresh {
		b.sessions <- &session{user: i, refresh: rt}
	}
	return nil
}

// setupRetries is how many 503s one setup signup waits through.
const setupRetries = 30

// signup creates one account and returns its tokens, retrying while the
// server's hashing queue is full (503).
func (b *bench) signup(ctx context.Context, email string) (*tokenAnswer, error) {
	body := map[string]string{"email": email, "password": b.password}
	for attempt := 0; ; attempt++ {
		a, err := b.post(ctx, "/v1/signup", body)
		status, raw := a.status, a.body
		if err != nil {
			return nil, fmt.Errorf("setup: signup: %w", err)
		}
		switch {
		case status == http.StatusCreated:
			var tok tokenAnswer
			if err := json.Unmarshal(raw, &tok); err != nil || tok.AccessToken == "" || tok.RefreshToken == "" {
				return nil, errors.New("setup: signup answered 201 without a token pair")
			}
			return &tok, nil
		case status == http.StatusAccepted:
			return nil, errors.New("setup: signup answered 202 (confirmation mail sent): run latch with LATCH_CONFIRM_EMAIL=false for benchmarks")
		case status == http.StatusTooManyRequests:
			return nil, errors.New("setup: signup answered 429 (rate limited): run latch with LATCH_RATE_LIMITS=false for benchmarks")
		case status == http.StatusServiceUnavailable && attempt < setupRetries:
			// Setup is not measured: wait as the server asks (Retry-After),
			// at least a growing pause, so that a busy machine slows the
			// setup down instead of failing it.
			wait := time.Duration(min(attempt+1, 5)) * 200 * time.Millisecond
			if secs, err := strconv.Atoi(a.retryAfter); err == nil && secs > 0 {
				wait = max(wait, time.Duration(secs)*time.Second)
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(wait):
			}
		default:
			return nil, fmt.Errorf("setup: signup answered %d: %s", status, problemCode(raw))
		}
	}
}

// load runs the scenario with c requests in flight until the request
// count or the duration is reached, or ctx ends.
func (b *bench) load(ctx context.Context, c int) (*Report, error) {
	mix := scenarios[b.opts.scenario]
	perWorker := make([]map[string]*stats, c)
	var (
		issued atomic.Int64
		wg     sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(b.opts.duration)
	for w := range c {
		st := make(map[string]*stats, len(mix))
		for _, m := range mix {
			st[m.op] = &stats{latencies: make([]time.Duration, 0, 1024)}
		}
		perWorker[w] = st
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(mrand.Uint64(), uint64(w)))
			for ctx.Err() == nil && time.Now().Before(deadline) && issued.Add(1) <= int64(b.opts.requests) {
				op := pick(mix, rng.IntN(100))
				b.do(ctx, op, rng, st[op])
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	rep := &Report{
		Scenario:    b.opts.scenario,
		URL:         b.opts.base.String(),
		Concurrency: c,
		Users:       b.opts.users,
		Seconds:     elapsed.Seconds(),
		Relogins:    int(b.relogins.Load()),
	}
	var all stats
	for _, m := range mix {
		var merged stats
		for _, st := range perWorker {
			merge(&merged, st[m.op])
			merge(&all, st[m.op])
		}
		rep.Ops = append(rep.Ops, summarize(m.op, &merged, elapsed))
	}
	rep.Total = summarize("total", &all, elapsed)
	return rep, nil
}

// pick returns the operation whose weight band holds roll (0 to 99).
func pick(mix []weighted, roll int) string {
	for _, m := range mix {
		if roll < m.weight {
			return m.op
		}
		roll -= m.weight
	}
	return mix[len(mix)-1].op
}

// wantStatus is the status of a successful answer to op.
func wantStatus(op string) int {
	switch op {
	case opSignup:
		return http.StatusCreated
	case opForgot:
		return http.StatusAccepted
	}
	return http.StatusOK
}

// do sends one request of operation op and records it in st, unless ctx
// ended meanwhile (an interrupted run reports nothing).
func (b *bench) do(ctx context.Context, op string, rng *mrand.Rand, st *stats) {
	var (
		a    answer
		err  error
		sess *session
	)
	t0 := time.Now()
	switch op {
	case opLogin:
		u := rng.IntN(len(b.emails))
		a, err = b.post(ctx, "/v1/login", map[string]string{"email": b.emails[u], "password": b.password})
	case opRefresh:
		select {
		case sess = <-b.sessions:
		case <-ctx.Done():
			return
		}
		defer func() { b.sessions <- sess }()
		t0 = time.Now()
		a, err = b.post(ctx, "/v1/token/refresh", map[string]string{"refresh_token": sess.refresh})
	case opMe:
		a.status, err = b.get(ctx, "/v1/me", b.access[rng.IntN(len(b.access))])
	case opSignup:
		email := fmt.Sprintf("bench-%s-new-%d@example.com", b.run, b.signups.Add(1))
		a, err = b.post(ctx, "/v1/signup", map[string]string{"email": email, "password": b.password})
	case opForgot:
		a, err = b.post(ctx, "/v1/password/forgot", map[string]string{"email": b.emails[rng.IntN(len(b.emails))]})
	}
	lat := time.Since(t0)
	if ctx.Err() != nil {
		return
	}
	st.requests++
	switch {
	case err != nil:
		st.fail("transport")
	case a.status != wantStatus(op):
		st.fail(strconv.Itoa(a.status))
		if a.status == http.StatusTooManyRequests || a.status == http.StatusServiceUnavailable {
			st.refused = append(st.refused, lat)
			if a.retryAfter != "" {
				st.retryAfter++
			}
		}
		if op == opRefresh && a.status == http.StatusUnauthorized {
			b.relogin(ctx, sess)
		}
	case op == opMe, op == opForgot:
		st.latencies = append(st.latencies, lat)
	default:
		var tok tokenAnswer
		if json.Unmarshal(a.body, &tok) != nil || tok.RefreshToken == "" {
			st.fail("bad_answer")
			return
		}
		if sess != nil {
			sess.refresh = tok.RefreshToken
		}
		st.latencies = append(st.latencies, lat)
	}
}

// relogin gives a session whose refresh token was refused a fresh one, so
// that one failure does not turn every later use into another.
func (b *bench) relogin(ctx context.Context, s *session) {
	a, err := b.post(ctx, "/v1/login", map[string]string{"email": b.emails[s.user], "password": b.password})
	var tok tokenAnswer
	if err == nil && a.status == http.StatusOK && json.Unmarshal(a.body, &tok) == nil && tok.RefreshToken != "" {
		s.refresh = tok.RefreshToken
		b.relogins.Add(1)
	}
}

// answer is what post keeps of an answer.
type answer struct {
	status     int
	body       []byte // at most 1 MiB
	retryAfter string // the Retry-After header
}

// post sends a JSON body and returns the answer.
func (b *bench) post(ctx context.Context, path string, body any) (answer, error) {
	buf, err := json.Marshal(body)
	if err != nil {
		return answer{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.opts.base.String()+path, bytes.NewReader(buf))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "latch-bench")
	resp, err := b.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return answer{}, err
	}
	return answer{status: resp.StatusCode, body: raw, retryAfter: resp.Header.Get("Retry-After")}, nil
}

// get sends a GET with a bearer token and discards the answer.
func (b *bench) get(ctx context.Context, path, bearer string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.opts.base.String()+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("User-Agent", "latch-bench")
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

func merge(dst, src *stats) {
	dst.requests += src.requests
	dst.latencies = append(dst.latencies, src.latencies...)
	dst.refused = append(dst.refused, src.refused...)
	dst.retryAfter += src.retryAfter
	for k, v := range src.errors {
		if dst.errors == nil {
			dst.errors = make(map[string]int)
		}
		dst.errors[k] += v
	}
}

// summarize sorts the latencies of s and computes its report.
func summarize(op string, s *stats, elapsed time.Duration) OpReport {
	r := OpReport{Op: op, Requests: s.requests, ErrorsByStatus: map[string]int{}}
	for k, v := range s.errors {
		r.ErrorsByStatus[k] = v
		r.Errors += v
	}
	if elapsed > 0 {
		r.Throughput = float64(s.requests) / elapsed.Seconds()
	}
	r.Refused, r.RefusedRetryAfter = len(s.refused), s.retryAfter
	if len(s.refused) > 0 {
		slices.Sort(s.refused)
		r.RefusedP50 = ms(percentile(s.refused, 50))
		r.RefusedP99 = ms(percentile(s.refused, 99))
	}
	lat := s.latencies
	if len(lat) == 0 {
		return r
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	r.P50 = ms(percentile(lat, 50))
	r.P90 = ms(percentile(lat, 90))
	r.P99 = ms(percentile(lat, 99))
	r.Max = ms(lat[len(lat)-1])
	r.Mean = ms(sum / time.Duration(len(lat)))
	return r
}

// percentile returns the nearest-rank p-th percentile of sorted, which is
// not empty.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(rank, 1)-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// writeTable prints the report for a terminal.
func writeTable(w io.Writer, r *Report) error {
	fmt.Fprintf(w, "scenario %s  url %s  -c %d  users %d  %.1fs (setup %.1fs)\n",
		r.Scenario, r.URL, r.Concurrency, r.Users, r.Seconds, r.SetupSeconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\trequests\terrors\treq/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\t")
	rows := r.Ops
	if len(rows) > 1 {
		rows = append(rows[:len(rows):len(rows)], r.Total)
	}
	for _, o := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t\n",
			o.Op, o.Requests, o.Errors, o.Throughput, o.P50, o.P90, o.P99, o.Max)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "errors by status: %s\n", formatErrors(r.Total.ErrorsByStatus))
	if r.Relogins > 0 {
		fmt.Fprintf(w, "sessions logged in again after a refused refresh: %d\n", r.Relogins)
	}
	if t := r.Total; t.Refused > 0 {
		fmt.Fprintf(w, "refused (429/503): %d, %d with Retry-After; p50 %.2f ms, p99 %.2f ms\n",
			t.Refused, t.RefusedRetryAfter, t.RefusedP50, t.RefusedP99)
	}
	if bl := r.Baseline; bl != nil {
		fmt.Fprintf(w, "overload: -c %d after a baseline at -c %d (%.1f req/s, p99 %.2f ms): admitted p99 %.2fx the baseline's\n",
			r.Concurrency, r.Concurrency/2, bl.Throughput, bl.P99, r.AdmittedP99Ratio)
	}
	fmt.Fprintln(w, "latencies are of successful requests")
	return nil
}

func formatErrors(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// problemCode returns the "code" of a problem details answer, or "".
func problemCode(raw []byte) string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(raw, &p)
	return p.Code
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
