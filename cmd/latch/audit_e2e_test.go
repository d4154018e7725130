package main

import (
	"database/sql"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// TestAuditRowCommitsWithTheChange: a login's audit row is written in the
// login's own transaction, so there is never a session the audit log does
// not know of. With the audit table refusing writes, the login fails and
// leaves no session; once it takes them again, the login and its row land
// together.
func TestAuditRowCommitsWithTheChange(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, map[string]string{
		"LATCH_DATABASE_URL": "sqlite:" + filepath.Join(dir, "latch.db"),
		"LATCH_ADMIN_KEY":    testAdminKey,
		"LATCH_RATE_LIMITS":  "false",
	})
	const addr = "audited@example.com"
	id := s.adminCreate(addr)

	db, err := sql.Open("sqlite", filepath.Join(dir, "latch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TRIGGER audit_down BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END`); err != nil {
		t.Fatal(err)
	}
	// Not s.do, which fails a test on any 500: this one is the point.
	resp, err := http.Post(s.URL+"/v1/login", "application/json",
		strings.NewReader(`{"email":"`+addr+`","password":"`+goodPassword+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 500 || strings.Contains(string(raw), "access_token") {
		t.Fatalf("login with the audit log refusing writes: %d %s; want a server error and no tokens", resp.StatusCode, raw)
	}
	sessions := func() int {
		r := s.do("GET", "/admin/v1/users/"+id+"/sessions", testAdminKey, nil).want(t, 200, "")
		list, _ := r.Body["sessions"].([]any)
		return len(list)
	}
	if n := sessions(); n != 0 {
		t.Fatalf("%d sessions after a login whose audit row was refused; want none", n)
	}

	if _, err := db.Exec(`DROP TRIGGER audit_down`); err != nil {
		t.Fatal(err)
	}
	s.login(addr, goodPassword)
	if n := sessions(); n != 1 {
		t.Fatalf("%d sessions after one login; want 1", n)
	}
	logins := 0
	for _, e := range s.events("user_id=" + id) {
		if e["type"] == "login" {
			logins++
		}
	}
	if logins != 1 {
		t.Errorf("%d login rows in the audit log; want 1 (the login that made the session)", logins)
	}
}
