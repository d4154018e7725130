package main

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// unitFile is a parsed systemd unit: section -> key -> values in order.
type unitFile map[string]map[string][]string

// parseUnit parses systemd's unit syntax: [Section] headers, Key=Value
// lines, # and ; comments, and backslash continuations.
func parseUnit(t *testing.T, text string) unitFile {
	t.Helper()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	pending := ""
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if pending != "" {
			line, pending = pending+" "+line, ""
		}
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			pending = strings.TrimSuffix(line, `\`)
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				t.Fatalf("line %d: bad section header %q", n, line)
			}
			section = line[1 : len(line)-1]
			if u[section] != nil {
				t.Fatalf("line %d: section [%s] twice", n, section)
			}
			u[section] = map[string][]string{}
			continue
		}
		if section == "" {
			t.Fatalf("line %d: %q outside a section", n, line)
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" || strings.ContainsAny(strings.TrimSpace(k), " \t") {
			t.Fatalf("line %d: %q is not Key=Value", n, line)
		}
		k = strings.TrimSpace(k)
		u[section][k] = append(u[section][k], strings.TrimSpace(v))
	}
	if pending != "" {
		t.Fatal("the unit ends in a continuation")
	}
	return u
}

func (u unitFile) last(section, key string) (string, bool) {
	vs := u[section][key]
	if len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// TestSystemdUnit: the unit in docs/operations.md parses, runs `latch
// serve` with a command line latch accepts, names only known variables,
// and confines the service.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "## Running under systemd")
	if !ok {
		t.Fatal(`docs/operations.md has no "Running under systemd" section`)
	}
	_, after, ok = strings.Cut(after, "```ini\n")
	body, _, ok2 := strings.Cut(after, "```")
	if !ok || !ok2 {
		t.Fatal("no ```ini block in the systemd section")
	}
	u := parseUnit(t, body)
	var sections []string
	for s := range u {
		sections = append(sections, s)
	}
	slices.Sort(sections)
	if !slices.Equal(sections, []string{"Install", "Service", "Unit"}) {
		t.Errorf("sections %v, want Install, Service, Unit", sections)
	}

	execs := u["Service"]["ExecStart"]
	if len(execs) != 1 {
		t.Fatalf("ExecStart %q, want one", execs)
	}
	argv := strings.Fields(execs[0])
	if len(argv) < 2 || !filepath.IsAbs(argv[0]) || filepath.Base(argv[0]) != "latch" || argv[1] != "serve" {
		t.Fatalf("ExecStart=%s: want /path/to/latch serve ...", execs[0])
	}
	// latch accepts the command line: its flags are real.
	if out := mustCLI(t, cliEnvVars(t), append(argv[1:], "-h")...); !strings.HasPrefix(out, "usage: latch serve") {
		t.Errorf("%s -h: %s", execs[0], out)
	}

	// Environment= names only settings latch reads, with valid values.
	env := map[string]string{}
	for _, e := range u["Service"]["Environment"] {
		k, v, ok := strings.Cut(strings.Trim(e, `"`), "=")
		if !ok || !isKnownVariable(k) {
			t.Errorf("Environment=%s: not a latch setting", e)
		}
		env[k] = v
	}
	if _, ok := u.last("Service", "EnvironmentFile"); !ok {
		t.Error("no EnvironmentFile: secrets would sit in the world-readable unit")
	}
	if _, ok := env["LATCH_SECRET"]; ok {
		t.Error("LATCH_SECRET in the unit file: put it in the EnvironmentFile")
	}

	// The database directory is writable under ProtectSystem=strict.
	if p := sqlitePath(env["LATCH_DATABASE_URL"]); p != "" {
		dir := filepath.Dir(p)
		sd, _ := u.last("Service", "StateDirectory")
		rw := u["Service"]["ReadWritePaths"]
		if dir != "/var/lib/"+sd && !slices.Contains(rw, dir) {
			t.Errorf("the database directory %s is neither the StateDirectory nor in ReadWritePaths", dir)
		}
	}

	for key, allowed := range map[string][]string{
		"NoNewPrivileges":       {"yes", "true"},
		"ProtectSystem":         {"strict"},
		"ProtectHome":           {"yes", "true", "read-only", "tmpfs"},
		"PrivateTmp":            {"yes", "true"},
		"PrivateDevices":        {"yes", "true"},
		"CapabilityBoundingSet": {""},
		"RestrictSUIDSGID":      {"yes", "true"},
		"Restart":               {"on-failure", "always"},
	} {
		v, ok := u.last("Service", key)
		if !ok || !slices.Contains(allowed, v) {
			t.Errorf("Service %s=%q, want one of %q", key, v, allowed)
		}
	}
	if user, _ := u.last("Service", "User"); user == "" || user == "root" || user == "0" {
		t.Errorf("User=%q: latch needs no root", user)
	}
	if v, _ := u.last("Install", "WantedBy"); v != "multi-user.target" {
		t.Errorf("WantedBy=%q", v)
	}
	if v, _ := u.last("Unit", "After"); !strings.Contains(v, "network-online.target") {
		t.Errorf("After=%q: start after the network is up", v)
	}
}

// TestReadmeInstall: the README's install command names this module's
// command and a static build, and the commands it runs exist.
func TestReadmeInstall(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	module := ""
	for _, l := range strings.Split(string(gomod), "\n") {
		if m, ok := strings.CutPrefix(l, "module "); ok {
			module = strings.TrimSpace(m)
		}
	}
	want := "CGO_ENABLED=0 go install " + module + "/cmd/latch@latest"
	if module == "" || !strings.Contains(string(readme), want) {
		t.Errorf("README lacks %q", want)
	}
	for _, cmd := range []string{"serve", "migrate", "version", "help"} {
		if !strings.Contains(string(readme), "latch "+cmd) {
			t.Errorf("README does not mention latch %s", cmd)
		}
		if cmd != "help" && findCommand(cmd) == nil {
			t.Errorf("README mentions latch %s, which does not exist", cmd)
		}
	}
}
