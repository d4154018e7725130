package main

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/svctest"
)

// runWithEnviron runs latch as main does: env is both looked up and
// listed.
func runWithEnviron(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var names []string
	for k := range env {
		names = append(names, k)
	}
	var out, errOut bytes.Buffer
	ctx := withEnvNames(context.Background(), names)
	err := run(ctx, args, func(k string) string { return env[k] }, &out, &errOut)
	return out.String(), errOut.String(), err
}

// TestConfigUnknownVariables: a LATCH_* variable latch does not read is
// named at start, with the setting it probably meant.
func TestConfigUnknownVariables(t *testing.T) {
	t.Parallel()
	env := cliEnvVars(t)
	env["LATCH_DATABSE_URL"] = "sqlite:/elsewhere.db"
	env["LATCH_SMTPURL"] = "smtp://x"
	env["LATCH_FROBNICATE"] = "1"
	env["LATCH_TEST_REQUIRE_SERVICES"] = "1" // the test suite's own, not a setting
	_, errOut, err := runWithEnviron(t, env, "migrate")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"LATCH_DATABSE_URL is not a latch setting and is ignored (did you mean LATCH_DATABASE_URL?)",
		"LATCH_SMTPURL is not a latch setting and is ignored (did you mean LATCH_SMTP_URL?)",
		"LATCH_FROBNICATE is not a latch setting and is ignored\n",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "LATCH_TEST_") || strings.Contains(errOut, "LATCH_PUBLIC_URL") {
		t.Errorf("warned about a variable latch knows:\n%s", errOut)
	}
	if got := closestVariable("latch_log_levle"); got != "LATCH_LOG_LEVEL" {
		t.Errorf("closestVariable(latch_log_levle) = %q", got)
	}
}

// TestKnownVariablesMatchTheCode: every LATCH_* name the code reads is in
// knownVariables (else it would be warned about), and every listed name
// is read somewhere.
func TestKnownVariablesMatchTheCode(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	lit := regexp.MustCompile(`"(LATCH_[A-Z0-9_]+)"`)
	read := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "environment.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range lit.FindAllStringSubmatch(string(src), -1) {
			read[m[1]] = true
		}
	}
	for name := range read {
		if !slices.Contains(knownVariables, name) {
			t.Errorf("%s is read but not in knownVariables (environment.go): latch would warn that it is unknown", name)
		}
	}
	for _, name := range knownVariables {
		if !read[name] {
			t.Errorf("%s is in knownVariables but never read", name)
		}
	}
}

// TestConfigValidatesEveryValue: a bad value stops the start and names
// its variable.
func TestConfigValidatesEveryValue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, value, want string }{
		{"LATCH_LOG_LEVEL", "verbose", `LATCH_LOG_LEVEL: "verbose" is not debug, info, warn or error`},
		{"LATCH_MAIL_FROM", "notanemail", `LATCH_MAIL_FROM: "notanemail" is not an email address`},
		{"LATCH_ADDR", "localhost", `LATCH_ADDR: "localhost" is not HOST:PORT`},
		{"LATCH_ADDR", "127.0.0.1:99999", `LATCH_ADDR: "127.0.0.1:99999" has no port number`},
		{"LATCH_REDIS_URL", "http://redis:6379", "LATCH_REDIS_URL"},
		{"LATCH_SMTP_URL", "ftp://mail.example.com", "LATCH_SMTP_URL"},
		{"LATCH_PRODUCT_NAME", "Acme\nBcc: x@example.com", "LATCH_PRODUCT_NAME"},
		{"LATCH_REVOCATION_KEY", "has spaces in it", "LATCH_REVOCATION_KEY"},
		{"LATCH_SESSION_IDLE", "a week", "LATCH_SESSION_IDLE"},
	} {
		env := cliEnvVars(t)
		env[tc.name] = tc.value
		for _, cmd := range []string{"serve", "migrate"} {
			_, _, err := runCLI(t, env, cmd)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("latch %s with %s=%q: %v, want an error containing %q", cmd, tc.name, tc.value, err, tc.want)
			}
		}
	}
	// Good values still pass.
	env := cliEnvVars(t)
	env["LATCH_LOG_LEVEL"] = "warn"
	env["LATCH_MAIL_FROM"] = "Acme <no-reply@acme.example>"
	env["LATCH_ADDR"] = ":8080"
	mustCLI(t, env, "migrate")
}

// TestPublicURLFollowsAddr: without LATCH_PUBLIC_URL, mailed links point
// at the address latch listens on, not at another server's default; the
// start-up line names the address, public URL, database, mail and Redis.
func TestPublicURLFollowsAddr(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"LATCH_PUBLIC_URL": ""})
	_, port, _ := strings.Cut(strings.TrimPrefix(s.URL, "http://"), ":")
	s.do("POST", "/v1/signup", "", map[string]string{"email": "ada@example.com", "password": goodPassword}).want(t, 202, "")
	text, _ := s.mailTo("ada@example.com", 1)["text"].(string)
	if want := "http://localhost:" + port + "/confirm?token="; !strings.Contains(text, want) {
		t.Errorf("confirmation mail does not link to %s:\n%s", want, text)
	}
	line, _ := s.logs.wait(0, func(m map[string]any) bool { return m["msg"] == "listening" })
	dbPath := sqlitePath(s.env["LATCH_DATABASE_URL"])
	for k, want := range map[string]string{
		"public_url": "http://localhost:" + port,
		"database":   "sqlite " + dbPath,
		"mail":       "log (LATCH_SMTP_URL is not set)",
		"redis":      "none (in-process limits)",
	} {
		if line[k] != want {
			t.Errorf("start-up line %s = %v, want %q (line %v)", k, line[k], want, line)
		}
	}
	if got := publicURLForAddr("192.0.2.7:9000"); got != "http://192.0.2.7:9000" {
		t.Errorf("publicURLForAddr(192.0.2.7:9000) = %q", got)
	}
	if got := publicURLForAddr(":9000"); got != "http://localhost:9000" {
		t.Errorf("publicURLForAddr(:9000) = %q", got)
	}
}

// TestStartupLineHidesPasswords: the start-up line names PostgreSQL's
// host and Redis's, never their passwords.
func TestStartupLineHidesPasswords(t *testing.T) {
	// Sequential: latch with Redis in this process (see startServer).
	u, err := url.Parse(svctest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "pg-pass-7781") // trust auth ignores it
	redisURL, prefix := svctest.Redis(t)
	r, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	r.User = url.UserPassword("default", "redis-pass-3391")
	s := startServer(t, map[string]string{
		"LATCH_DATABASE_URL": u.String(),
		"LATCH_REDIS_URL":    r.String(),
		"LATCH_REDIS_PREFIX": prefix,
		"LATCH_SMTP_URL":     "smtp://mailer:smtp-pass-5521@127.0.0.1:1",
	})
	line, _ := s.logs.wait(0, func(m map[string]any) bool { return m["msg"] == "listening" })
	if got, want := line["database"], "postgres "+u.Host+u.Path; got != want {
		t.Errorf("database %v, want %q", got, want)
	}
	if got, want := line["mail"], "smtp://127.0.0.1:1"; got != want {
		t.Errorf("mail %v, want %q", got, want)
	}
	if got, _ := line["redis"].(string); !strings.Contains(got, r.Host) {
		t.Errorf("redis %v, want its host %s", got, r.Host)
	}
	if all := s.logs.all(); strings.Contains(all, "pg-pass-7781") || strings.Contains(all, "smtp-pass-5521") || strings.Contains(all, "redis-pass-3391") {
		t.Errorf("a password reached the log:\n%s", all)
	}
}

// TestDatabaseErrorsNameThePath: a database that cannot be opened is named
// with what to do, not the secret file beside it or an SQLite code alone.
func TestDatabaseErrorsNameThePath(t *testing.T) {
	t.Parallel()
	env := cliEnvVars(t)
	env["LATCH_ADDR"] = "127.0.0.1:0"
	env["LATCH_DATABASE_URL"] = "sqlite:/nonexistent/dir/latch.db"
	for _, cmd := range []string{"serve", "migrate"} {
		_, _, err := runCLI(t, env, cmd)
		if err == nil || !strings.Contains(err.Error(), "directory /nonexistent/dir does not exist") ||
			!strings.Contains(err.Error(), "LATCH_DATABASE_URL") || strings.Contains(err.Error(), "secret") {
			t.Errorf("latch %s on a missing directory: %v", cmd, err)
		}
	}
	dir := filepath.Join(t.TempDir(), "a-directory.db")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	env["LATCH_DATABASE_URL"] = "sqlite:" + dir
	_, _, err := runCLI(t, env, "serve")
	if err == nil || !strings.Contains(err.Error(), "database sqlite "+dir) || !strings.Contains(err.Error(), "may read and write") {
		t.Errorf("serve on a directory: %v", err)
	}
}

// TestSecretMismatchSaysWhichSecret: keys sealed with one secret and
// opened with another name the secret that was used and the fix.
func TestSecretMismatchSaysWhichSecret(t *testing.T) {
	t.Parallel()
	env := cliEnvVars(t)
	env["LATCH_ADDR"] = "127.0.0.1:0"
	env["LATCH_SECRET"] = strings.Repeat("a", 40)
	mustCLI(t, env, "keys", "list")

	// A second instance without LATCH_SECRET: a development secret file
	// is created, and cannot open the keys.
	delete(env, "LATCH_SECRET")
	secretFile := sqlitePath(env["LATCH_DATABASE_URL"]) + ".secret"
	for _, cmd := range []string{"serve", "keys"} {
		args := []string{cmd}
		if cmd == "keys" {
			args = append(args, "list")
		}
		_, _, err := runCLI(t, env, args...)
		if err == nil || !strings.Contains(err.Error(), "cannot be opened with the development secret file "+secretFile) ||
			!strings.Contains(err.Error(), "LATCH_SECRET is not set") || !strings.Contains(err.Error(), "set LATCH_SECRET on every instance") {
			t.Errorf("latch %s without LATCH_SECRET: %v", cmd, err)
		}
	}
	env["LATCH_SECRET"] = strings.Repeat("b", 40)
	_, _, err := runCLI(t, env, "user", "list")
	if err == nil || !strings.Contains(err.Error(), "cannot be opened with LATCH_SECRET") ||
		!strings.Contains(err.Error(), "set LATCH_SECRET to the secret the database was first started with") {
		t.Errorf("user list with another LATCH_SECRET: %v", err)
	}
}
