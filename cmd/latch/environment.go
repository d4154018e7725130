package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
)

// knownVariables are the LATCH_* variables latch reads: the names of
// settings (settings.go). A variable set in the environment but missing
// here is warned about at start, with the closest known name.
var knownVariables = func() []string {
	names := make([]string, len(settings))
	for i, s := range settings {
		names[i] = s.name
	}
	return names
}()

// testVariablePrefix marks the variables of latch's own test suite, which
// a developer's shell may export; they are not configuration.
const testVariablePrefix = "LATCH_TEST_"

type envNamesKey struct{}

// withEnvNames gives run the names of the variables in the environment
// (KEY or KEY=VALUE entries, as os.Environ returns them): getenv can look a
// name up but not list them, and a typo is only found by listing.
func withEnvNames(ctx context.Context, environ []string) context.Context {
	names := make([]string, 0, len(environ))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		names = append(names, k)
	}
	return context.WithValue(ctx, envNamesKey{}, names)
}

// unknownVariables returns a warning for each LATCH_* name in ctx's
// environment that latch does not read, with a did-you-mean.
func unknownVariables(ctx context.Context) []string {
	names, _ := ctx.Value(envNamesKey{}).([]string)
	var out []string
	for _, n := range names {
		if !strings.HasPrefix(n, "LATCH_") || strings.HasPrefix(n, testVariablePrefix) || isKnownVariable(n) {
			continue
		}
		msg := fmt.Sprintf("%s is not a latch setting and is ignored", n)
		if s := closestVariable(n); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		out = append(out, msg)
	}
	return out
}

func isKnownVariable(name string) bool {
	for _, k := range knownVariables {
		if k == name {
			return true
		}
	}
	return false
}

// closestVariable is the known variable nearest to name by edit distance,
// if it is near enough to be a typo (a few edits, or a case slip).
func closestVariable(name string) string {
	best, bestD := "", 1<<30
	for _, k := range knownVariables {
		if d := editDistance(strings.ToUpper(name), k); d < bestD {
			best, bestD = k, d
		}
	}
	limit := 3
	if len(best) < 14 {
		limit = 2
	}
	if bestD <= limit {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// publicURLForAddr is the public URL when LATCH_PUBLIC_URL is not set: the
// listen address itself, with localhost for a loopback or unspecified host,
// so that mailed links reach this server.
func publicURLForAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://localhost:8080"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// describeDatabase names a database URL for logs and errors: the driver
// and the file or host, never a user name or password.
func describeDatabase(dbURL string) string {
	if p := sqlitePath(dbURL); p != "" {
		p, _, _ = strings.Cut(p, "?")
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		return "sqlite " + p
	}
	u, err := url.Parse(dbURL)
	if err != nil || u.Host == "" {
		return "(unparsable LATCH_DATABASE_URL)"
	}
	return u.Scheme + " " + u.Host + u.Path
}

// describeRedis names a Redis URL without its password.
func describeRedis(redisURL string) string {
	if redisURL == "" {
		return "none (in-process limits)"
	}
	u, err := url.Parse(redisURL)
	if err != nil || u.Host == "" {
		return "(unparsable LATCH_REDIS_URL)"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// describeMail names where mail goes: an SMTP server (no credentials) or
// the log.
func describeMail(smtpURL string) string {
	if smtpURL == "" {
		return "log (LATCH_SMTP_URL is not set)"
	}
	u, err := url.Parse(smtpURL)
	if err != nil {
		return "smtp"
	}
	return u.Scheme + "://" + u.Host
}
