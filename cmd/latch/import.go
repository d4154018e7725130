package main

// latch import: move users in from another system (Devise, Passport /
// bcryptjs, anything with bcrypt or argon2 hashes) from a JSON Lines or CSV
// file. See docs/admin.md for the formats.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

const importUsage = `usage: latch import [--format jsonl|csv] [--confirmed] [--batch N] [--json] FILE

Imports users from a JSON Lines (.jsonl, .ndjson) or CSV (.csv, with a
header row) file. Columns / keys (case and _ do not matter):
  id                optional; kept as the user id (else a new UUID)
  email             required
  encrypted_password | password_hash | password_digest | hash | password
                    required: a bcrypt ($2a$, $2b$, $2y$) or argon2 PHC hash
  confirmed_at | email_confirmed | email_verified | confirmed
                    optional: a time or true marks the address confirmed
  created_at        optional: RFC 3339, "2006-01-02 15:04:05[.ffffff][ UTC|+00]" or unix seconds
  roles | role      optional: a JSON array or a comma-separated list (default user)

Rows whose id or email already exists are skipped, so a re-run is safe. Bad
rows are reported (line number and reason) and skipped. bcrypt hashes are
replaced by argon2id when each user next logs in.
`

// importBatch is how many rows go into one transaction.
const importBatch = 1000

// maxImportLine is the longest JSON line read.
const maxImportLine = 1 << 20

// importRow is one parsed row: a user to import, or why the row is bad.
type importRow struct {
	line int
	user auth.ImportUser
	err  error
}

// rowReader yields rows until io.EOF. An error other than io.EOF stops the
// import (the file cannot be read on).
type rowReader interface {
	next() (importRow, error)
}

// importSummary is the outcome of an import (the --json output).
type importSummary struct {
	Rows     int           `json:"rows"`
	Created  int           `json:"created"`
	Existing int           `json:"existing"`
	Invalid  int           `json:"invalid"`
	Errors   []importIssue `json:"errors"`
	Seconds  float64       `json:"seconds"`
}

type importIssue struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// importCmd runs latch import.
func importCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("latch import")
	format := fs.String("format", "", "jsonl or csv (default: from the file name, else its first byte)")
	confirmed := fs.Bool("confirmed", false, "mark every imported address confirmed")
	batch := fs.Int("batch", importBatch, "rows per transaction")
	jsonOut := fs.Bool("json", false, "print the summary (and every bad row) as JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagErr(fs, err, importUsage)
	}
	if len(pos) != 1 {
		return fmt.Errorf("latch import: give one file\n%s", importUsage)
	}
	if *batch < 1 {
		return errors.New("latch import: --batch must be at least 1")
	}
	in, err := openImportFile(pos[0], *format, *confirmed)
	if err != nil {
		return fmt.Errorf("latch import: %w", err)
	}
	defer in.close()

	e, err := openCLI(ctx, getenv, stdout, stderr, true)
	if err != nil {
		return err
	}
	defer e.close()
	e.json = *jsonOut
	im := &importer{e: e, in: in, batch: *batch, sum: importSummary{Errors: []importIssue{}}}
	if isTerminal(stderr) && !*jsonOut {
		im.bar = &progressBar{w: stderr, total: in.size, start: time.Now()}
	}
	start := time.Now()
	if err := im.run(cliContext(ctx)); err != nil {
		return err
	}
	im.bar.finish(in.counted.n, im.sum.Rows)
	im.sum.Seconds = time.Since(start).Seconds()
	if e.json {
		return e.writeJSON(im.sum)
	}
	fmt.Fprintf(stdout, "%d rows: %d created, %d already present (skipped), %d invalid (%.1fs)\n",
		im.sum.Rows, im.sum.Created, im.sum.Existing, im.sum.Invalid, im.sum.Seconds)
	return nil
}

// importFile is the file being imported, read row by row; counted tells
// the progress bar how far into size it is.
type importFile struct {
	f       *os.File
	size    int64 // 0 when not a regular file
	counted *countingReader
	rows    rowReader
}

func openImportFile(name, format string, confirmed bool) (*importFile, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	in := &importFile{f: f, counted: &countingReader{r: f}}
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		in.size = fi.Size()
	}
	in.rows, err = newRowReader(bufio.NewReaderSize(in.counted, 64<<10), format, name, confirmed)
	if err != nil {
		f.Close()
		return nil, err
	}
	return in, nil
}

func (in *importFile) close() { in.f.Close() }

// importer moves the rows of a file into the store, batch by batch, and
// reports each bad row.
type importer struct {
	e       *cliEnv
	in      *importFile
	batch   int
	bar     *progressBar // nil: no terminal
	sum     importSummary
	pending []importRow
	// unreported are the bad rows of the current batch: rows refused
	// while reading and rows the store refuses are reported together at
	// each batch, in line order.
	unreported []importIssue
}

// run reads every row, importing a batch whenever one is full.
func (im *importer) run(ctx context.Context) error {
	for {
		r, err := im.in.rows.next()
		if err == io.EOF {
			return im.flush(ctx)
		}
		if err != nil {
			if ferr := im.flush(ctx); ferr != nil {
				return ferr
			}
			im.bar.clear()
			return fmt.Errorf("latch import: %w (rows before it were imported; fix the file and run again)", err)
		}
		im.sum.Rows++
		if r.err != nil {
			im.report(r.line, r.err.Error())
			continue
		}
		im.pending = append(im.pending, r)
		if len(im.pending) == im.batch {
			if err := im.flush(ctx); err != nil {
				return err
			}
		}
	}
}

// flush imports the pending rows in one transaction, then reports the bad
// rows of the batch.
func (im *importer) flush(ctx context.Context) error {
	defer im.printReports()
	if len(im.pending) == 0 {
		return nil
	}
	users := make([]auth.ImportUser, len(im.pending))
	for i, r := range im.pending {
		users[i] = r.user
	}
	res, err := im.e.svc.ImportUsers(ctx, auth.ActorCLI, users)
	if err != nil {
		return fmt.Errorf("latch import: rows %d to %d not imported: %w", im.pending[0].line, im.pending[len(im.pending)-1].line, cliError(err))
	}
	for i, r := range res {
		switch r.Status {
		case auth.ImportCreated:
			im.sum.Created++
		case auth.ImportExists:
			im.sum.Existing++
		default:
			im.report(im.pending[i].line, r.Err.Error())
		}
	}
	im.pending = im.pending[:0]
	im.bar.update(im.in.counted.n, im.sum.Rows)
	return nil
}

// report counts a bad row, to be printed with its batch.
func (im *importer) report(line int, reason string) {
	im.sum.Invalid++
	im.unreported = append(im.unreported, importIssue{Line: line, Reason: reason})
}

// printReports adds the batch's bad rows to the summary, in line order,
// and prints them unless the output is JSON.
func (im *importer) printReports() {
	slices.SortStableFunc(im.unreported, func(a, b importIssue) int { return a.Line - b.Line })
	for _, is := range im.unreported {
		im.sum.Errors = append(im.sum.Errors, is)
		if !im.e.json {
			im.bar.clear()
			fmt.Fprintf(im.e.stderr, "line %d: %s\n", is.Line, is.Reason)
		}
	}
	im.unreported = im.unreported[:0]
}

// newRowReader picks the format: the flag, else the file name, else the
// first non-blank byte ('{' for JSON Lines).
func newRowReader(br *bufio.Reader, format, name string, confirmed bool) (rowReader, error) {
	if format == "" {
		switch strings.ToLower(filepath.Ext(name)) {
		case ".csv":
			format = "csv"
		case ".jsonl", ".ndjson", ".json":
			format = "jsonl"
		default:
			format = "csv"
			if b, _ := br.Peek(512); bytes.HasPrefix(bytes.TrimLeft(trimBOM(b), " \t\r\n"), []byte("{")) {
				format = "jsonl"
			}
		}
	}
	switch format {
	case "jsonl":
		sc := bufio.NewScanner(br)
		sc.Buffer(make([]byte, 64<<10), maxImportLine)
		return &jsonlReader{sc: sc, confirmed: confirmed}, nil
	case "csv":
		return newCSVReader(br, confirmed)
	}
	return nil, fmt.Errorf("unknown format %q (jsonl or csv)", format)
}

func trimBOM(b []byte) []byte { return bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) }

// jsonlReader reads one JSON object per line; blank lines are skipped.
type jsonlReader struct {
	sc        *bufio.Scanner
	line      int
	confirmed bool
}

func (j *jsonlReader) next() (importRow, error) {
	for j.sc.Scan() {
		j.line++
		b := j.sc.Bytes()
		if j.line == 1 {
			b = trimBOM(b)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		row := importRow{line: j.line}
		fields, err := decodeJSONRow(b)
		if err != nil {
			row.err = err
			return row, nil
		}
		row.user, row.err = userFromFields(fields, j.confirmed)
		return row, nil
	}
	if err := j.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return importRow{}, fmt.Errorf("line %d: longer than %d bytes", j.line+1, maxImportLine)
		}
		return importRow{}, err
	}
	return importRow{}, io.EOF
}

// decodeJSONRow decodes one line holding exactly one JSON object. Its
// errors never quote the line.
func decodeJSONRow(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, errors.New("not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return m, nil
}

// csvReader reads CSV with a header row naming the columns.
type csvReader struct {
	r         *csv.Reader
	header    []string
	confirmed bool
}

func newCSVReader(r io.Reader, confirmed bool) (*csvReader, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("the CSV file is empty: a header row is expected")
	}
	if err != nil {
		return nil, fmt.Errorf("CSV header: %w", err)
	}
	header := make([]string, len(head))
	for i, h := range head {
		if i == 0 {
			h = string(trimBOM([]byte(h)))
		}
		header[i] = fieldKey(h)
	}
	if !containsKey(header, "email") {
		if len(head) == 1 && strings.Contains(head[0], ";") {
			return nil, errors.New("the CSV header has no email column: the header looks semicolon-separated; latch reads comma-separated CSV (export with commas, or use JSON Lines)")
		}
		if len(head) == 1 && strings.Contains(head[0], "\t") {
			return nil, errors.New("the CSV header has no email column: the header looks tab-separated; latch reads comma-separated CSV (export with commas, or use JSON Lines)")
		}
		return nil, errors.New("the CSV header has no email column")
	}
	return &csvReader{r: cr, header: header, confirmed: confirmed}, nil
}

func containsKey(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

func (c *csvReader) next() (importRow, error) {
	rec, err := c.r.Read()
	if err == io.EOF {
		return importRow{}, io.EOF
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		// The reader goes on with the next record.
		return importRow{line: pe.StartLine, err: fmt.Errorf("malformed CSV: %v", pe.Err)}, nil
	}
	if err != nil {
		return importRow{}, err
	}
	line, _ := c.r.FieldPos(0)
	row := importRow{line: line}
	if len(rec) != len(c.header) {
		row.err = fmt.Errorf("has %d fields, the header has %d", len(rec), len(c.header))
		return row, nil
	}
	fields := make(map[string]any, len(rec))
	for i, v := range rec {
		if v != "" {
			fields[c.header[i]] = v
		}
	}
	row.user, row.err = userFromFields(fields, c.confirmed)
	return row, nil
}

// fieldKey is a column or key name as matched: lower case, without '_',
// '-' and spaces ("encrypted_password", "createdAt", "_id" become
// "encryptedpassword", "createdat", "id").
func fieldKey(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', ' ':
			return -1
		}
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, strings.TrimSpace(s))
}

// Names a field may go by, after fieldKey, in order of preference.
var (
	idKeys        = []string{"id"}
	emailKeys     = []string{"email", "emailaddress"}
	hashKeys      = []string{"encryptedpassword", "passwordhash", "passworddigest", "hash", "password"}
	confirmedKeys = []string{"confirmedat", "emailconfirmed", "emailverified", "confirmed", "verified"}
	createdKeys   = []string{"createdat", "created"}
	rolesKeys     = []string{"roles", "role"}
)

// userFromFields builds the user of one row. Keys may be in any case and
// carry '_'; its errors name the field, never its value.
func userFromFields(raw map[string]any, confirmedAll bool) (auth.ImportUser, error) {
	fields := make(map[string]any, len(raw))
	for k, v := range raw {
		if v != nil {
			fields[fieldKey(k)] = v
		}
	}
	pick := func(keys []string) (string, any) {
		for _, k := range keys {
			if v, ok := fields[k]; ok {
				return k, v
			}
		}
		return "", nil
	}
	var u auth.ImportUser
	var err error
	if k, v := pick(idKeys); k != "" {
		if u.ID, err = stringValue(v); err != nil {
			return u, fmt.Errorf("id: %w", err)
		}
	}
	k, v := pick(emailKeys)
	if k == "" {
		return u, errors.New("email is missing")
	}
	if u.Email, err = stringValue(v); err != nil || u.Email == "" {
		return u, errors.New("email is missing or not a string")
	}
	k, v = pick(hashKeys)
	if k == "" {
		return u, errors.New("password hash is missing (encrypted_password, password_hash, password_digest, hash or password)")
	}
	if u.PasswordHash, err = stringValue(v); err != nil {
		return u, errors.New("password hash is not a string")
	}
	u.EmailConfirmed = confirmedAll
	if k, v := pick(confirmedKeys); k != "" && !confirmedAll {
		if u.EmailConfirmed, err = confirmedValue(k, v); err != nil {
			return u, fmt.Errorf("%s: %w", k, err)
		}
	}
	if k, v := pick(createdKeys); k != "" {
		if u.CreatedAt, err = timeValue(v); err != nil {
			return u, fmt.Errorf("created_at: %w", err)
		}
	}
	if k, v := pick(rolesKeys); k != "" {
		if u.Roles, err = rolesValue(v); err != nil {
			return u, fmt.Errorf("roles: %w", err)
		}
	}
	return u, nil
}

// stringValue reads a string, a number, or MongoDB's {"$oid": "..."}.
func stringValue(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v), nil
	case json.Number:
		return v.String(), nil
	case map[string]any:
		if s, ok := v["$oid"].(string); ok && len(v) == 1 {
			return s, nil
		}
	}
	return "", errors.New("not a string")
}

// confirmedValue reads a confirmation: a time (Devise's confirmed_at) is
// confirmed, as are true, "true", "t", "1" and "yes".
func confirmedValue(key string, v any) (bool, error) {
	if b, ok := v.(bool); ok {
		return b, nil
	}
	s, err := stringValue(v)
	if err != nil {
		if _, terr := timeValue(v); terr == nil {
			return true, nil
		}
		return false, errors.New("not a time or boolean")
	}
	switch strings.ToLower(s) {
	case "", "false", "f", "0", "no", "null":
		return false, nil
	case "true", "t", "1", "yes":
		return true, nil
	}
	if key == "confirmedat" {
		if _, err := timeValue(s); err == nil {
			return true, nil
		}
	}
	return false, errors.New("not a time or boolean")
}

// Time layouts of exports: RFC 3339, Rails / MySQL / PostgreSQL text.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999-07",
	"2006-01-02 15:04:05.999999999 -0700",
	"2006-01-02 15:04:05.999999999 MST",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// timeValue reads a time: text in one of timeLayouts (UTC when it has no
// zone), unix seconds (or milliseconds, when larger than 1e11), or
// MongoDB's {"$date": ...}.
func timeValue(v any) (time.Time, error) {
	switch v := v.(type) {
	case string:
		s := strings.TrimSpace(v)
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, s); err == nil {
				return t.UTC(), nil
			}
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return unixTime(n), nil
		}
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return unixTime(n), nil
		}
	case map[string]any:
		if d, ok := v["$date"]; ok && len(v) == 1 {
			switch d := d.(type) {
			case json.Number: // milliseconds
				if n, err := d.Int64(); err == nil {
					return time.UnixMilli(n).UTC(), nil
				}
			case map[string]any:
				if s, ok := d["$numberLong"].(string); ok {
					if n, err := strconv.ParseInt(s, 10, 64); err == nil {
						return time.UnixMilli(n).UTC(), nil
					}
				}
			default:
				return timeValue(d)
			}
		}
	}
	return time.Time{}, errors.New("not a recognised time")
}

func unixTime(n int64) time.Time {
	if n > 1e11 || n < -1e11 {
		return time.UnixMilli(n).UTC()
	}
	return time.Unix(n, 0).UTC()
}

// rolesValue reads roles: a JSON array of strings, or a string with roles
// separated by commas, semicolons or spaces (a PostgreSQL array literal
// "{a,b}" included).
func rolesValue(v any) ([]string, error) {
	switch v := v.(type) {
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, errors.New("not a list of strings")
			}
			out = append(out, s)
		}
		return out, nil
	case string:
		s := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(v), "{"), "}")
		if strings.HasPrefix(s, "[") {
			var out []string
			if err := json.Unmarshal([]byte(s), &out); err != nil {
				return nil, errors.New("not a list of strings")
			}
			return out, nil
		}
		out := []string{}
		for _, r := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
			out = append(out, strings.Trim(r, `"`))
		}
		return out, nil
	}
	return nil, errors.New("not a list of strings")
}

// countingReader counts the bytes read through it (for the progress bar).
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressBar draws "[#####.....]  45%  45000 rows  3.1s" on one terminal
// line. A nil bar draws nothing.
type progressBar struct {
	w     io.Writer
	total int64 // bytes; 0 when unknown
	start time.Time
	shown bool
}

const barWidth = 30

func (p *progressBar) update(done int64, rows int) {
	if p == nil {
		return
	}
	elapsed := time.Since(p.start).Seconds()
	if p.total <= 0 {
		fmt.Fprintf(p.w, "\r\033[Kimporting: %d rows  %.1fs", rows, elapsed)
		p.shown = true
		return
	}
	frac := min(float64(done)/float64(p.total), 1)
	n := int(frac * barWidth)
	fmt.Fprintf(p.w, "\r\033[K[%s%s] %3.0f%%  %d rows  %.1fs",
		strings.Repeat("#", n), strings.Repeat(".", barWidth-n), frac*100, rows, elapsed)
	p.shown = true
}

// clear erases the bar so that a message can take its line.
func (p *progressBar) clear() {
	if p == nil || !p.shown {
		return
	}
	fmt.Fprint(p.w, "\r\033[K")
	p.shown = false
}

func (p *progressBar) finish(done int64, rows int) {
	if p == nil {
		return
	}
	p.update(done, rows)
	fmt.Fprintln(p.w)
	p.shown = false
}
