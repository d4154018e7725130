package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// cliEnvVars is the environment of CLI tests: a fresh database.
func cliEnvVars(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{
		"LATCH_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "latch.db"),
		"LATCH_PUBLIC_URL":   "http://latch.test",
	}
}

// runCLI runs latch with args and env, returning stdout and stderr.
func runCLI(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut)
	return out.String(), errOut.String(), err
}

// mustCLI runs latch and fails the test on an error.
func mustCLI(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	out, errOut, err := runCLI(t, env, args...)
	if err != nil {
		t.Fatalf("latch %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// cliJSON runs latch with --json and decodes its output into v.
func cliJSON(t *testing.T, env map[string]string, v any, args ...string) {
	t.Helper()
	out := mustCLI(t, env, append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("latch %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

type cliUserOut struct {
	ID             string   `json:"id"`
	Email          string   `json:"email"`
	EmailConfirmed bool     `json:"email_confirmed"`
	Roles          []string `json:"roles"`
	Disabled       bool     `json:"disabled"`
	CreatedAt      string   `json:"created_at"`
	Password       string   `json:"password"`
	Sessions       []any    `json:"sessions"`
}

func TestCLIUserCommands(t *testing.T) {
	t.Parallel()
	env := cliEnvVars(t)
	// A mistyped database is not created empty.
	if _, _, err := runCLI(t, env, "user", "list"); err == nil || !strings.Contains(err.Error(), "no database at") {
		t.Fatalf("list on a missing database: %v", err)
	}

	// create: a generated password is printed once; the policy applies.
	var ops cliUserOut
	cliJSON(t, env, &ops, "user", "create", "--email", "ops@example.com", "--roles", "admin,user,admin", "--confirmed")
	if ops.ID == "" || len(ops.Password) < 20 || !ops.EmailConfirmed || !slices.Equal(ops.Roles, []string{"admin", "user"}) {
		t.Fatalf("created %+v", ops)
	}
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(goodPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustCLI(t, env, "user", "create", "--email", "Bob@Example.com", "--password-file", pwFile)
	if !strings.HasPrefix(out, "created ") || strings.Contains(out, "password") {
		t.Errorf("create output %q", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "create", "--email", "bob@example.com", "--password", goodPassword}, "email_taken"},
		{[]string{"user", "create", "--email", "weak@example.com", "--password", "password"}, "weak_password"},
		{[]string{"user", "create", "--email", "nope", "--password", goodPassword}, "invalid_email"},
		{[]string{"user", "create", "--email", "r@example.com", "--roles", "Bad Role"}, "invalid_request"},
		{[]string{"user", "create"}, "--email is required"},
		{[]string{"user", "show", "ghost@example.com"}, `no user "ghost@example.com"`},
		{[]string{"user", "show"}, "exactly one user"},
		{[]string{"user", "set-roles", "bob@example.com"}, "at least one role"},
		{[]string{"user", "frobnicate"}, "unknown command"},
		{[]string{"user", "list", "--bogus"}, "flag provided but not defined"},
		{[]string{"audit", "--since", "last week"}, "neither an RFC 3339 time nor a duration"},
	} {
		out, errOut, err := runCLI(t, env, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("latch %s: error %v, want one containing %q (stdout %q, stderr %q)", strings.Join(tc.args, " "), err, tc.want, out, errOut)
		}
	}

	// list: a table by default, pages in --json.
	out = mustCLI(t, env, "user", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[1], "ops@example.com") ||
		!strings.Contains(lines[1], "admin,user") || !strings.Contains(lines[2], "Bob@Example.com") {
		t.Errorf("user list:\n%s", out)
	}
	var page struct {
		Users      []cliUserOut `json:"users"`
		NextCursor string       `json:"next_cursor"`
	}
	cliJSON(t, env, &page, "user", "list", "--limit", "1")
	if len(page.Users) != 1 || page.NextCursor == "" {
		t.Fatalf("list --limit 1: %+v", page)
	}
	cliJSON(t, env, &page, "user", "list", "--limit", "1", "--cursor", page.NextCursor)
	if len(page.Users) != 1 || page.Users[0].Email != "Bob@Example.com" || page.NextCursor != "" {
		t.Errorf("second page: %+v", page)
	}
	cliJSON(t, env, &page, "user", "list", "--limit", "1", "--all")
	if len(page.Users) != 2 {
		t.Errorf("list --all: %+v", page)
	}
	cliJSON(t, env, &page, "user", "list", "--email", "BOB")
	if len(page.Users) != 1 {
		t.Errorf("list --email BOB: %+v", page)
	}

	// show, by address or id; flags may follow the user.
	var bob cliUserOut
	cliJSON(t, env, &bob, "user", "show", "bob@example.com")
	if bob.Email != "Bob@Example.com" || bob.Sessions == nil || len(bob.Sessions) != 0 || !slices.Equal(bob.Roles, []string{"user"}) {
		t.Fatalf("show: %+v", bob)
	}
	out = mustCLI(t, env, "user", "show", bob.ID)
	if !regexp.MustCompile(`(?m)^email +Bob@Example\.com$`).MatchString(out) || !strings.Contains(out, "0 live session(s)") {
		t.Errorf("show table:\n%s", out)
	}

	var got cliUserOut
	cliJSON(t, env, &got, "user", "set-roles", bob.ID, "support,user", "billing")
	if !slices.Equal(got.Roles, []string{"support", "user", "billing"}) {
		t.Errorf("set-roles: %v", got.Roles)
	}
	cliJSON(t, env, &got, "user", "set-roles", bob.ID, "--none")
	if len(got.Roles) != 0 {
		t.Errorf("set-roles --none: %v", got.Roles)
	}
	cliJSON(t, env, &got, "user", "disable", bob.ID)
	if !got.Disabled {
		t.Errorf("disable: %+v", got)
	}
	out = mustCLI(t, env, "user", "enable", "bob@example.com")
	if !regexp.MustCompile(`(?m)^disabled +no$`).MatchString(out) {
		t.Errorf("enable:\n%s", out)
	}
	out = mustCLI(t, env, "user", "logout", "bob@example.com")
	if !strings.HasPrefix(out, "logged out "+bob.ID) {
		t.Errorf("logout: %q", out)
	}
	var del struct{ Status, ID string }
	cliJSON(t, env, &del, "user", "delete", bob.ID)
	if del.Status != "deleted" || del.ID != bob.ID {
		t.Errorf("delete: %+v", del)
	}
	if _, _, err := runCLI(t, env, "user", "show", bob.ID); err == nil {
		t.Error("deleted user still shown")
	}

	// Every action is in the audit log, by the CLI.
	var audit struct {
		Events []struct {
			Type      string            `json:"type"`
			UserID    string            `json:"user_id"`
			Actor     string            `json:"actor"`
			UserAgent string            `json:"user_agent"`
			Details   map[string]string `json:"details"`
		} `json:"events"`
	}
	cliJSON(t, env, &audit, "audit", "--user", bob.ID)
	var types []string
	for _, e := range audit.Events {
		types = append(types, e.Type)
		if e.Actor != "cli" || e.UserAgent != "latch-cli" || e.UserID != bob.ID {
			t.Errorf("event %+v", e)
		}
	}
	want := []string{"user_deleted", "force_logout", "enabled", "disabled", "role_changed", "role_changed", "user_created"}
	if !slices.Equal(types, want) {
		t.Errorf("audit: %v, want %v", types, want)
	}
	out = mustCLI(t, env, "audit", "--type", "role_changed", "--since", "1h")
	if n := strings.Count(out, "role_changed"); n != 2 || !strings.Contains(out, "to=support,user,billing") {
		t.Errorf("audit table:\n%s", out)
	}
	if out := mustCLI(t, env, "audit", "--until", "1h"); strings.Count(out, "\n") != 1 {
		t.Errorf("audit --until 1h ago should list nothing:\n%s", out)
	}
	// Help.
	if out := mustCLI(t, env, "user", "help"); !strings.Contains(out, "set-roles USER ROLE...") {
		t.Errorf("user help: %s", out)
	}
}

// TestCLIAgainstRunningServer: the CLI works on the database of a running
// server; a demotion by the CLI cuts off the admin's token (at once for
// the database; the server, which keeps sessions and users in memory and
// hears nothing from the CLI, once its copy ages out, within a second).
func TestCLIAgainstRunningServer(t *testing.T) {
	t.Parallel()
	s := startAdmin(t)
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(goodPassword), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := s.cli("user", "create", "--email", "chief@example.com", "--password-file", pwFile, "--roles", "user,admin", "--confirmed"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	at := s.login("chief@example.com", goodPassword).str("access_token")
	s.do("GET", "/admin/v1/users", at, nil).want(t, 200, "")
	if out, err := s.cli("user", "set-roles", "chief@example.com", "user"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	refusedEventually(t, s, at)
	s.do("GET", "/admin/v1/users", at, nil).want(t, 401, "invalid_token")
	// What the CLI did shows in the API's audit log.
	evs := s.events("type=role_changed")
	if len(evs) != 1 || evs[0]["actor"] != "cli" {
		t.Errorf("role_changed events %v", evs)
	}
}

func TestAdminKeyMustWorkAsBearer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key string
		ok  bool
	}{
		{"0123456789abcdef", true},
		{"base64+/key_with-all.chars~==", true},
		{"short", false},
		{"has a space in it 0123", false},
		{"quote\"0123456789abcdef", false},
		{"================", false},
		{"0123456789abcdef=x", false},
	}
	for _, tt := range tests {
		if got := validAdminKey(tt.key); got != tt.ok {
			t.Errorf("validAdminKey(%q) = %v, want %v", tt.key, got, tt.ok)
		}
	}
	env := cliEnvVars(t)
	env["LATCH_ADMIN_KEY"] = "short"
	_, _, err := runCLI(t, env, "serve")
	if err == nil || !strings.Contains(err.Error(), "LATCH_ADMIN_KEY") {
		t.Errorf("serve with a short admin key: %v", err)
	}
}
