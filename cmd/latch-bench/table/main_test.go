package main

import (
	"bytes"
	"context"
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
		"| of the idle RSS, anonymous memory (heap, stacks, runtime) | | | ",
		"| ready on the existing database (start to /readyz 200), median of 3 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
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
	got := cell(sc, []*report{r(50, 30, 0), r(70, 10, 1), r(60, 20, 0)}, 80)
	if want := "60.0/s (75%), p99 20.0 ms, 1 errors"; got != want {
		t.Errorf("cell = %q, want %q", got, want)
	}
	if got := cell(sc, nil, 80); got != "-" {
		t.Errorf("cell(no runs) = %q, want -", got)
	}
}
