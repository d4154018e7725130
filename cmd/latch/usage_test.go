package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

// TestCLIUsage: latch, latch -h and latch help list every command, one
// line each, and succeed, as the go command does.
func TestCLIUsage(t *testing.T) {
	t.Parallel()
	env := cliEnvVars(t)
	for _, args := range [][]string{nil, {"-h"}, {"--help"}, {"help"}} {
		out, errOut, err := runCLI(t, env, args...)
		if err != nil {
			t.Fatalf("latch %s: %v (stderr %q)", strings.Join(args, " "), err, errOut)
		}
		for _, name := range []string{"serve", "migrate", "user", "audit", "import", "keys", "version", "help"} {
			if !strings.Contains(out, "\n  "+name+" ") {
				t.Errorf("latch %s does not list %s:\n%s", strings.Join(args, " "), name, out)
			}
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"help", "frobnicate"}, "unknown command"},
		{[]string{"-addr", "127.0.0.1:1"}, "latch serve -addr"},
		{[]string{"version", "extra"}, "unexpected arguments"},
	} {
		_, _, err := runCLI(t, env, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("latch %s: %v, want an error containing %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

// TestCLICommandHelp: each command's -h (and latch help CMD) prints its
// own usage and flags and succeeds.
func TestCLICommandHelp(t *testing.T) {
	t.Parallel()
	env := cliEnvVars(t)
	for _, tc := range []struct {
		args    []string
		usage   string // the first line starts with it
		flag    string // one of its flags
		notWant string
	}{
		{[]string{"serve", "-h"}, "usage: latch serve", "-public-url", ""},
		{[]string{"migrate", "-h"}, "usage: latch migrate", "-database-url", "latch serve [flags]"},
		{[]string{"help", "migrate"}, "usage: latch migrate", "-database-url", ""},
		{[]string{"user", "create", "-h"}, "usage: latch user create", "-password-file", "set-roles"},
		{[]string{"user", "list", "--help"}, "usage: latch user list", "-cursor", "create"},
		{[]string{"help", "user", "set-roles"}, "usage: latch user set-roles", "-none", ""},
		{[]string{"user", "-h"}, "usage: latch user <command>", "set-roles USER ROLE...", ""},
		{[]string{"audit", "-h"}, "usage: latch audit", "-since", ""},
		{[]string{"import", "-h"}, "usage: latch import", "-format", ""},
		{[]string{"keys", "rotate", "-h"}, "usage: latch keys", "-json", ""},
		{[]string{"version", "-h"}, "usage: latch version", "commit", ""},
	} {
		out, errOut, err := runCLI(t, env, tc.args...)
		name := "latch " + strings.Join(tc.args, " ")
		if err != nil {
			t.Errorf("%s: %v (stderr %q)", name, err, errOut)
			continue
		}
		if !strings.HasPrefix(out, tc.usage) || !strings.Contains(out, tc.flag) {
			t.Errorf("%s printed\n%s\nwant it to start with %q and show %q", name, out, tc.usage, tc.flag)
		}
		if tc.notWant != "" && strings.Contains(out, tc.notWant) {
			t.Errorf("%s printed %q:\n%s", name, tc.notWant, out)
		}
	}
	// A wrong flag is still an error, with the command's own usage.
	_, _, err := runCLI(t, env, "migrate", "-bogus")
	if err == nil || !strings.Contains(err.Error(), "usage: latch migrate") {
		t.Errorf("migrate -bogus: %v", err)
	}
}

// TestCLIVersion: latch version and latch --version print the same line
// with the version and the commit.
func TestCLIVersion(t *testing.T) {
	t.Parallel()
	env := cliEnvVars(t)
	a := mustCLI(t, env, "version")
	b := mustCLI(t, env, "--version")
	if a != b || !strings.HasPrefix(a, "latch ") || !strings.Contains(a, " commit ") {
		t.Errorf("latch version %q, latch --version %q", a, b)
	}
}

func TestFormatVersion(t *testing.T) {
	t.Parallel()
	bi := &debug.BuildInfo{
		GoVersion: "go1.24.2",
		Main:      debug.Module{Path: "github.com/latchauth/latch", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	for _, tc := range []struct {
		ld   string
		bi   *debug.BuildInfo
		want string
	}{
		{"dev", bi, "latch v1.4.0 commit 0123456789abcdef0123456789abcdef01234567 (modified: built with uncommitted changes) go1.24.2"},
		{"v2.0.0", bi, "latch v2.0.0 commit 0123456789abcdef0123456789abcdef01234567 (modified: built with uncommitted changes) go1.24.2"},
		{"dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, GoVersion: "go1.24.2"}, "latch dev commit unknown go1.24.2"},
		{"dev", nil, "latch dev commit unknown unknown Go"},
	} {
		if got := formatVersion(tc.ld, tc.bi); got != tc.want {
			t.Errorf("formatVersion(%q) = %q, want %q", tc.ld, got, tc.want)
		}
	}
}
