package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/svctest"
)

// Metrics are served on LATCH_METRICS_ADDR only: the public API address
// answers GET /metrics like any unknown path, and without the setting no
// metrics are served at all.
func TestMetricsListener(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"LATCH_METRICS_ADDR": "127.0.0.1:0"})
	s.do("GET", "/metrics", "", nil).want(t, 404, "not_found")
	s.do("GET", "/readyz", "", nil).want(t, 200, "")
	if m := s.metrics(); !strings.Contains(m, `latch_http_requests_total{method="GET",route="GET /readyz",status="200"} 1`) {
		t.Errorf("metrics listener does not count the API's requests:\n%s", m)
	}
	// The metrics listener serves nothing else.
	resp, err := http.Get(s.MetricsURL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("GET /healthz on the metrics listener: %d, want 404", resp.StatusCode)
	}

	plain := startServer(t, nil)
	if plain.MetricsURL != "" {
		t.Errorf("metrics listener %s without LATCH_METRICS_ADDR", plain.MetricsURL)
	}
	plain.do("GET", "/metrics", "", nil).want(t, 404, "not_found")
}

// relevantSeries reads the latch_* samples of a scrape, leaving out what
// measures time (latency buckets and sums) and the database pool gauges
// (they move with any database work, see docs/operations.md).
func relevantSeries(text string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "latch_") || strings.HasPrefix(line, "latch_db_") ||
			strings.HasPrefix(line, "latch_http_request_duration_seconds_bucket") ||
			strings.HasPrefix(line, "latch_http_request_duration_seconds_sum") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		var v float64
		if _, err := fmt.Sscan(line[i+1:], &v); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// waitOutboxEmpty waits until every queued mail was delivered (the outbox
// worker counts deliveries before it removes them).
func waitOutboxEmpty(t *testing.T, s *server) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := relevantSeries(s.metrics())
		if m["latch_outbox_depth"] == 0 {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox not empty after 10s: %v", m["latch_outbox_depth"])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A forgot-password for an address with an account and for one without
// leave the same metrics (latency aside): the metrics are no account
// oracle. The unknown address's background work leaves nothing to wait
// for, so it runs before a second known address's request, whose mail is
// waited for; then (unknown + known) must have moved every series exactly
// twice as much as known alone, i.e. unknown exactly as much as known.
// On SQLite and PostgreSQL.
func TestMetricsTellNoAccount(t *testing.T) {
	t.Parallel()
	for _, flavour := range []string{"sqlite", "postgres"} {
		t.Run(flavour, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"LATCH_METRICS_ADDR": "127.0.0.1:0"}
			if flavour == "postgres" {
				env["LATCH_DATABASE_URL"] = svctest.PostgresURL(t) // skips, saying why, without PostgreSQL
			}
			metricsTellNoAccount(t, startServer(t, env))
		})
	}
}

func metricsTellNoAccount(t *testing.T, s *server) {
	const known1, known2 = "known1@example.com", "known2@example.com"
	s.signupConfirmed(known1, goodPassword)
	s.signupConfirmed(known2, goodPassword)
	forgot := func(addr string) {
		s.do("POST", "/v1/password/forgot", "", map[string]string{"email": addr}).want(t, 202, "")
	}

	s0 := waitOutboxEmpty(t, s)
	forgot(known1)
	s.mailTo(known1, 2) // the reset link
	s1 := waitOutboxEmpty(t, s)
	forgot("nobody-here@example.com")
	forgot(known2)
	s.mailTo(known2, 2)
	s2 := waitOutboxEmpty(t, s)

	series := map[string]bool{}
	for _, m := range []map[string]float64{s0, s1, s2} {
		for k := range m {
			series[k] = true
		}
	}
	for k := range series {
		known := s1[k] - s0[k]
		both := s2[k] - s1[k]
		if both != 2*known {
			t.Errorf("%s moved by %v for a known address, by %v for an unknown and a known one (want %v): the metric tells whether an address has an account",
				k, known, both, 2*known)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", s.metrics())
	}
	// The requests are counted, alike for every address.
	if got := s2[`latch_http_requests_total{method="POST",route="POST /v1/password/forgot",status="202"}`]; got != 3 {
		t.Errorf("forgot requests counted: %v, want 3", got)
	}
}
