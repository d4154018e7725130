package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/sqlstore"
	"github.com/latchauth/latch/internal/svctest"
	"golang.org/x/crypto/bcrypt"
)

// fixedBcrypt is a precomputed bcrypt hash (cost 4, of "imported password
// 0") shared by most generated rows, so that generating 100,000 users is
// fast.
const fixedBcrypt = "$2a$04$UskdxHH.AmDOnTKxdoYUlenLTRWlJ3SWMC040V.hjZaVpZ5TDF8Ri"

type importOut struct {
	Rows     int `json:"rows"`
	Created  int `json:"created"`
	Existing int `json:"existing"`
	Invalid  int `json:"invalid"`
	Errors   []struct {
		Line   int    `json:"line"`
		Reason string `json:"reason"`
	} `json:"errors"`
}

// TestImportDevise100k imports a Devise export of 100,000 users (20,000
// under the race detector: importRows) plus bad rows, re-runs it
// (everything skipped), then logs some of them in over the API: their
// bcrypt hashes become argon2id.
func TestImportDevise100k(t *testing.T) {
	svctest.ParallelUnlessTiming(t)
	const n = importRows
	dir := t.TempDir()
	file := filepath.Join(dir, "users.csv")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(bufio.NewWriter(f))
	w.Write([]string{"id", "email", "encrypted_password", "sign_in_count", "created_at", "confirmed_at"})
	line := 1
	// Real users with their own hashes; they log in later.
	type real struct{ id, email, pw string }
	var reals []real
	for i := range 3 {
		pw := fmt.Sprintf("imported password %d!", i+1)
		h, err := bcrypt.GenerateFromPassword([]byte(pw), 4)
		if err != nil {
			t.Fatal(err)
		}
		r := real{fmt.Sprintf("%d", 900000+i), fmt.Sprintf("Real%d@Example.com", i), pw}
		reals = append(reals, r)
		w.Write([]string{r.id, r.email, string(h), "3", "2018-04-01 10:00:00.123456", "2018-04-01 10:05:00"})
		line++
	}
	// Bad rows, each with the reason it must be reported with.
	bad := map[int]string{}
	badRow := func(reason string, rec ...string) {
		line++
		bad[line] = reason
		w.Write(rec)
	}
	for i := range n {
		if i%(n/5) == 5 { // five groups, in different batches
			badRow("email is not a valid address", fmt.Sprintf("b%d", i), "not-an-email", fixedBcrypt, "0", "2020-01-01 00:00:00", "")
			badRow("password hash is not recognised", fmt.Sprintf("c%d", i), fmt.Sprintf("pbkdf2-%d@example.com", i), "pbkdf2_sha256$260000$salt$hash", "0", "", "")
			badRow("password hash is not recognised", fmt.Sprintf("d%d", i), fmt.Sprintf("plain-%d@example.com", i), "hunter2-plaintext", "0", "", "")
			badRow("has 3 fields", fmt.Sprintf("e%d", i), "short@example.com", fixedBcrypt)
			badRow("created_at", fmt.Sprintf("f%d", i), fmt.Sprintf("when-%d@example.com", i), fixedBcrypt, "0", "someday", "")
		}
		confirmed := ""
		if i%2 == 0 {
			confirmed = "2020-01-02 03:04:05"
		}
		w.Write([]string{fmt.Sprint(i + 1), fmt.Sprintf("user%d@example.com", i), fixedBcrypt, "1",
			time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute).Format("2006-01-02 15:04:05"), confirmed})
		line++
	}
	// A duplicate of an earlier email with another id: skipped as existing.
	w.Write([]string{"dup-1", "USER7@example.com", fixedBcrypt, "0", "", ""})
	line++
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	env := map[string]string{
		"LATCH_ADDR":         "127.0.0.1:0",
		"LATCH_DATABASE_URL": "sqlite:" + filepath.Join(dir, "latch.db"),
		"LATCH_LOG_FORMAT":   "json",
		"LATCH_PUBLIC_URL":   "http://latch.test",
		"LATCH_ADMIN_KEY":    testAdminKey,
		"LATCH_RATE_LIMITS":  "false",
	}
	start := time.Now()
	var got importOut
	cliJSON(t, env, &got, "import", file)
	took := time.Since(start)
	t.Logf("imported %d rows in %v", got.Rows, took)
	wantRows := n + 3 + len(bad) + 1
	if got.Rows != wantRows || got.Created != n+3 || got.Existing != 1 || got.Invalid != len(bad) {
		t.Fatalf("import: %+v, want %d rows, %d created, 1 existing, %d invalid", got, wantRows, n+3, len(bad))
	}
	for _, e := range got.Errors {
		want, ok := bad[e.Line]
		if !ok || !strings.Contains(e.Reason, want) {
			t.Errorf("line %d: reason %q, want one containing %q", e.Line, e.Reason, want)
		}
		if strings.Contains(e.Reason, "hunter2") || strings.Contains(e.Reason, "pbkdf2_sha256") || strings.Contains(e.Reason, "$2a$") {
			t.Errorf("line %d: the reason repeats the hash: %q", e.Line, e.Reason)
		}
	}

	// Again: nothing new, everything counted as present. The human summary
	// goes to stdout, bad rows to stderr.
	out, errOut, err := runCLI(t, env, "import", file)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d rows: 0 created, %d already present (skipped), %d invalid", wantRows, n+3+1, len(bad)); !strings.Contains(out, want) {
		t.Errorf("re-run summary %q, want %q", out, want)
	}
	firstShort := line
	for l, reason := range bad {
		if reason == "has 3 fields" {
			firstShort = min(firstShort, l)
		}
	}
	if c := strings.Count(errOut, "\n"); c != len(bad) || !strings.Contains(errOut, fmt.Sprintf("line %d: has 3 fields, the header has 6\n", firstShort)) {
		t.Errorf("re-run stderr (%d lines):\n%s", c, errOut)
	}

	// Ids and created_at are kept; every row is listed.
	var one cliUserOut
	cliJSON(t, env, &one, "user", "show", "user41@example.com")
	if one.ID != "42" || one.CreatedAt != "2020-01-01T00:41:00Z" || one.EmailConfirmed {
		t.Errorf("imported user %+v", one)
	}

	// The real users log in over the API; their hashes are upgraded. The
	// prune latch runs at start goes through confirmation links in short
	// transactions (conformance PruneUnconfirmedBatches), so the import
	// does not hold logins up; on a starved machine a login can still run
	// out of its database budget and be answered 503 unavailable: the
	// logins ask again then, as clients do.
	s := startWith(t, env)
	login := func(email, pw string) *response {
		return s.doThroughBusy("POST", "/v1/login", "", map[string]string{"email": email, "password": pw})
	}
	for _, r := range reals {
		l := login(strings.ToLower(r.email), r.pw).want(t, 200, "")
		if l.Body["user"].(map[string]any)["id"] != r.id {
			t.Errorf("login of %s: %s", r.email, l.Raw)
		}
		login(r.email, "not "+r.pw).want(t, 401, "invalid_credentials")
	}
	db, err := sqlstore.Open(context.Background(), env["LATCH_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, r := range reals {
		u, err := db.UserByID(context.Background(), r.id)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
			t.Errorf("%s: hash not upgraded (%.7s...)", r.email, u.PasswordHash)
		}
		login(r.email, r.pw).want(t, 200, "") // and the new hash works
	}
	// An unconfirmed imported account answers like any unconfirmed one.
	login("user1@example.com", "imported password 0").want(t, 403, "email_not_confirmed")
	login("user0@example.com", "imported password 0").want(t, 200, "")
	r := s.do("GET", "/admin/v1/users?limit=200", testAdminKey, nil).want(t, 200, "")
	if len(r.Body["users"].([]any)) != 200 || r.str("next_cursor") == "" {
		t.Errorf("admin listing of the import: %d users", len(r.Body["users"].([]any)))
	}
	if svctest.Timing() && took > 20*time.Second && !raceEnabled {
		t.Errorf("importing %d rows took %v, want well under 20s", wantRows, took)
	}
}

// TestImportFormats: JSON Lines from Passport / bcryptjs and MongoDB
// exports, argon2 hashes, roles, and bad lines reported by number.
func TestImportFormats(t *testing.T) {
	t.Parallel()
	env := cliEnvVars(t)
	argon, err := password.NewHasher(password.Config{}).Hash(context.Background(), "argon imported pw")
	if err != nil {
		t.Fatal(err)
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("bcryptjs imported"), 4)
	bcryptjs := strings.Replace(string(bc), "$2a$", "$2b$", 1)
	if err != nil {
		t.Fatal(err)
	}
	rows := []string{
		"\xef\xbb\xbf" + `{"_id":{"$oid":"5f1d7c9e8b3e4a0017a1b2c3"},"email":"mongo@example.com","password":"` + bcryptjs + `","createdAt":{"$date":"2021-02-03T04:05:06.789Z"},"emailVerified":true,"roles":["user","editor"]}`,
		`{"email":"argon@example.com","password_hash":"` + argon + `","created_at":1600000000,"confirmed":"t","role":"admin"}`,
		``,
		`{"email":"ms@example.com","hash":"` + string(bc) + `","createdAt":{"$date":{"$numberLong":"1612325106789"}}}`,
		`not json at all`,
		`["an array"]`,
		`{"email":"trail@example.com","hash":"` + string(bc) + `"} {}`,
		`{"email":"nohash@example.com"}`,
		`{"hash":"` + string(bc) + `"}`,
		`{"email":"secret@example.com","password":"my plain secret"}`,
		`{"email":"roles@example.com","hash":"` + string(bc) + `","roles":"Admin"}`,
		`{"id":"has space","email":"id@example.com","hash":"` + string(bc) + `"}`,
		`{"email":"mongo@example.com","password":"` + bcryptjs + `"}`,
	}
	file := filepath.Join(t.TempDir(), "export.ndjson")
	if err := os.WriteFile(file, []byte(strings.Join(rows, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var got importOut
	cliJSON(t, env, &got, "import", file)
	if got.Rows != 12 || got.Created != 3 || got.Existing != 1 || got.Invalid != 8 {
		t.Errorf("import: %+v", got)
	}
	wantLines := []int{5, 6, 7, 8, 9, 10, 11, 12}
	var lines []int
	for _, e := range got.Errors {
		lines = append(lines, e.Line)
		if strings.Contains(e.Reason, "my plain secret") || strings.Contains(e.Reason, "$2") {
			t.Errorf("line %d: the reason repeats the hash: %q", e.Line, e.Reason)
		}
	}
	if !slices.Equal(lines, wantLines) {
		t.Errorf("bad lines %v, want %v (%+v)", lines, wantLines, got.Errors)
	}

	var u cliUserOut
	cliJSON(t, env, &u, "user", "show", "mongo@example.com")
	if u.ID != "5f1d7c9e8b3e4a0017a1b2c3" || u.CreatedAt != "2021-02-03T04:05:06Z" || !u.EmailConfirmed || !slices.Equal(u.Roles, []string{"user", "editor"}) {
		t.Errorf("mongo user %+v", u)
	}
	cliJSON(t, env, &u, "user", "show", "argon@example.com")
	if u.CreatedAt != "2020-09-13T12:26:40Z" || !u.EmailConfirmed || !slices.Equal(u.Roles, []string{"admin"}) {
		t.Errorf("argon user %+v", u)
	}
	cliJSON(t, env, &u, "user", "show", "ms@example.com")
	if u.CreatedAt != "2021-02-03T04:05:06Z" || u.EmailConfirmed {
		t.Errorf("ms user %+v", u)
	}

	// --confirmed marks every row confirmed; a CSV without an email column
	// is refused whole.
	csvFile := filepath.Join(t.TempDir(), "x.csv")
	os.WriteFile(csvFile, []byte("Email,Password_Digest\nnew@example.com,"+string(bc)+"\n"), 0o600)
	cliJSON(t, env, &got, "import", "--confirmed", csvFile)
	cliJSON(t, env, &u, "user", "show", "new@example.com")
	if got.Created != 1 || !u.EmailConfirmed {
		t.Errorf("--confirmed: %+v %+v", got, u)
	}
	os.WriteFile(csvFile, []byte("mail,hash\nx@example.com,"+string(bc)+"\n"), 0o600)
	if _, _, err := runCLI(t, env, "import", csvFile); err == nil || !strings.Contains(err.Error(), "no email column") {
		t.Errorf("CSV without email: %v", err)
	}
	if _, _, err := runCLI(t, env, "import", filepath.Join(t.TempDir(), "missing.csv")); err == nil {
		t.Error("missing file imported")
	}
	if _, _, err := runCLI(t, env, "import", "--format", "xml", csvFile); err == nil || !strings.Contains(err.Error(), "unknown format") {
		t.Errorf("--format xml: %v", err)
	}
}

func TestTimeValue(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		in   any
		want time.Time
	}{
		{"2020-01-02T03:04:05Z", utc("2020-01-02T03:04:05Z")},
		{"2020-01-02T03:04:05.5+02:00", utc("2020-01-02T01:04:05.5Z")},
		{"2020-01-02 03:04:05", utc("2020-01-02T03:04:05Z")},
		{"2020-01-02 03:04:05.123456", utc("2020-01-02T03:04:05.123456Z")},
		{"2020-01-02 03:04:05 UTC", utc("2020-01-02T03:04:05Z")},
		{"2020-01-02 03:04:05.1+00", utc("2020-01-02T03:04:05.1Z")},
		{"2020-01-02 03:04:05 -0500", utc("2020-01-02T08:04:05Z")},
		{"2020-01-02", utc("2020-01-02T00:00:00Z")},
		{"1600000000", utc("2020-09-13T12:26:40Z")},
		{json.Number("1600000000000"), utc("2020-09-13T12:26:40Z")},
		{map[string]any{"$date": "2021-02-03T04:05:06Z"}, utc("2021-02-03T04:05:06Z")},
		{map[string]any{"$date": json.Number("1612325106000")}, utc("2021-02-03T04:05:06Z")},
	}
	for _, tt := range tests {
		got, err := timeValue(tt.in)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("timeValue(%v) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []any{"someday", "", true, []any{}, map[string]any{"x": 1}} {
		if _, err := timeValue(bad); err == nil {
			t.Errorf("timeValue(%v) accepted", bad)
		}
	}
}

// FuzzImportJSONRow feeds arbitrary lines to the JSON Lines row parser:
// it must not panic, and its errors never repeat the line.
func FuzzImportJSONRow(f *testing.F) {
	f.Add(`{"email":"a@b.co","encrypted_password":"$2a$04$UskdxHH.AmDOnTKxdoYUlenLTRWlJ3SWMC040V.hjZaVpZ5TDF8Ri"}`)
	f.Add(`{"_id":{"$oid":"x"},"createdAt":{"$date":{"$numberLong":"1"}},"roles":"{a,b}","confirmed_at":"2020-01-01"}`)
	f.Add(`{"roles":[1],"created_at":[],"email":1}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, line string) {
		m, err := decodeJSONRow([]byte(line))
		if err != nil {
			return
		}
		if _, err := userFromFields(m, false); err != nil && len(line) > 20 && strings.Contains(err.Error(), line) {
			t.Errorf("error repeats the row: %v", err)
		}
	})
}

// FuzzImportCSV feeds arbitrary files to the CSV reader: it must not panic
// or loop.
func FuzzImportCSV(f *testing.F) {
	f.Add("email,hash\na@b.co,$2a$04$x\n")
	f.Add("\xef\xbb\xbfEmail,Encrypted_Password,created_at\n\"a@b.co\",\"x\",\"2020\"\n\"unterminated\n")
	f.Add("email\n,,,\n")
	f.Fuzz(func(t *testing.T, data string) {
		r, err := newCSVReader(strings.NewReader(data), false)
		if err != nil {
			return
		}
		for i := 0; i <= len(data)+1; i++ {
			if _, err := r.next(); err != nil {
				return
			}
		}
		t.Fatalf("the reader did not end on %d bytes", len(data))
	})
}

func TestProgressBar(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	if isTerminal(&b) {
		t.Fatal("a strings.Builder is no terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Fatal("a regular file is no terminal")
	}
	p := &progressBar{w: &b, total: 1000, start: time.Now()}
	p.update(500, 42)
	if got := b.String(); !strings.HasPrefix(got, "\r\033[K["+strings.Repeat("#", 15)+strings.Repeat(".", 15)+"]  50%  42 rows") {
		t.Errorf("half-way bar %q", got)
	}
	b.Reset()
	p.clear()
	p.clear() // only once
	if b.String() != "\r\033[K" {
		t.Errorf("clear wrote %q", b.String())
	}
	b.Reset()
	p.finish(1000, 84)
	if got := b.String(); !strings.Contains(got, "] 100%  84 rows") || !strings.HasSuffix(got, "\n") {
		t.Errorf("finished bar %q", got)
	}
	var nilBar *progressBar // not a terminal: draws nothing
	nilBar.update(1, 1)
	nilBar.clear()
	nilBar.finish(1, 1)
}
