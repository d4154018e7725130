package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestImportErrorsInLineOrder: rows refused while reading and rows the
// service refuses come out together in line order, on stderr and in
// --json.
func TestImportErrorsInLineOrder(t *testing.T) {
	t.Parallel()
	env := cliEnvVars(t)
	bc, err := bcrypt.GenerateFromPassword([]byte("imported pw"), 4)
	if err != nil {
		t.Fatal(err)
	}
	h := string(bc)
	rows := []string{
		`{"email":"ok1@example.com","hash":"` + h + `"}`,
		`{"email":"not an address","hash":"` + h + `"}`, // refused by the service
		`not json`, // refused while reading
		`{"email":"ok2@example.com","hash":"` + h + `"}`,
		`{"email":"also bad@","hash":"` + h + `"}`,
		`{"email":"nohash@example.com"}`,
	}
	file := filepath.Join(t.TempDir(), "users.jsonl")
	if err := os.WriteFile(file, []byte(strings.Join(rows, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := runCLI(t, env, "import", file)
	if err != nil {
		t.Fatal(err)
	}
	var lines []int
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var n int
		var rest string
		if _, err := fmtSscanLine(l, &n, &rest); err == nil {
			lines = append(lines, n)
		}
	}
	want := []int{2, 3, 5, 6}
	if !slices.Equal(lines, want) {
		t.Errorf("stderr reports lines %v, want %v:\n%s", lines, want, stderr)
	}

	env2 := cliEnvVars(t)
	out := mustCLI(t, env2, "import", "--json", file)
	var sum struct {
		Errors []struct{ Line int } `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatal(err)
	}
	lines = nil
	for _, e := range sum.Errors {
		lines = append(lines, e.Line)
	}
	if !slices.Equal(lines, want) {
		t.Errorf("--json errors at lines %v, want %v", lines, want)
	}
}

// TestImportSemicolonCSV: a CSV export with semicolons gets a hint.
func TestImportSemicolonCSV(t *testing.T) {
	t.Parallel()
	env := cliEnvVars(t)
	file := filepath.Join(t.TempDir(), "users.csv")
	if err := os.WriteFile(file, []byte("email;encrypted_password\nada@example.com;$2a$04$x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCLI(t, env, "import", file)
	if err == nil || !strings.Contains(err.Error(), "the header looks semicolon-separated; latch reads comma-separated CSV") {
		t.Errorf("semicolon CSV: %v", err)
	}
}

// fmtSscanLine reads "line N: reason".
func fmtSscanLine(l string, n *int, rest *string) (int, error) {
	return fmt.Sscanf(l, "line %d: %s", n, rest)
}
