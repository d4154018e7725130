package main

// The administration commands: latch user ..., latch audit. They work on the
// configured database directly (LATCH_DATABASE_URL; no server needed)
// through the same auth.Service methods as the admin API, and record their
// actions in the audit log with the actor "cli".

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/wire"
)

const auditUsage = `usage: latch audit [--user USER] [--type TYPE] [--since T] [--until T] [--limit N] [--cursor C] [--json]

Lists audit events, newest first. T is an RFC 3339 time or a duration back
from now (e.g. 24h).
`

// cliEnv is what an administration command works with.
type cliEnv struct {
	*app
	stdout io.Writer
	stderr io.Writer
	json   bool
}

// openCLI builds latch as serve does (openApp, startService) but without
// a listener, shared limits or mail worker: mail a command queues is sent
// by a running server.
// Unless create is set, an SQLite file that does not exist is an error
// rather than a new empty database (a mistyped LATCH_DATABASE_URL).
func openCLI(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer, create bool) (*cliEnv, error) {
	c, err := loadConfig(nil, getenv)
	if err != nil {
		return nil, err
	}
	if p := sqlitePath(c.DatabaseURL); p != "" && !create {
		p, _, _ = strings.Cut(p, "?")
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s: check LATCH_DATABASE_URL (latch migrate creates one)", p)
		}
	}
	warnUnknownVariables(ctx, stderr)
	a, err := openApp(ctx, c, cliLogger(c, stderr))
	if err != nil {
		return nil, err
	}
	if err := a.startService(ctx, serviceHooks{}); err != nil {
		a.close()
		return nil, err
	}
	return &cliEnv{app: a, stdout: stdout, stderr: stderr}, nil
}

// cliLogger is a command's log: security events still go to it, but only
// warnings reach the terminal; the audit log keeps every event.
func cliLogger(c *config, stderr io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelWarn}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(stderr, opts))
	}
	return slog.New(slog.NewTextHandler(stderr, opts))
}

// cliContext marks the command line as the client of every event.
func cliContext(ctx context.Context) context.Context {
	return auth.ContextWithClient(ctx, auth.ClientInfo{UserAgent: "latch-cli"})
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments, which it returns.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// newFlags returns a flag set for a subcommand whose errors carry usage.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// flagErr explains a flag error with the usage and flags; -h is a
// request for them.
func flagErr(fs *flag.FlagSet, err error, usage string) error {
	var b strings.Builder
	b.WriteString(usage)
	fs.SetOutput(&b)
	b.WriteString("\nflags:\n")
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	if errors.Is(err, flag.ErrHelp) {
		return &helpRequest{b.String()}
	}
	return fmt.Errorf("%s: %w\n%s", fs.Name(), err, b.String())
}

// oneUser finds the single user named by pos: an id, else an address.
func oneUser(ctx context.Context, e *cliEnv, pos []string) (*auth.User, error) {
	if len(pos) != 1 {
		return nil, errors.New("give exactly one user (an id or an email address)")
	}
	u, err := e.svc.AdminUser(ctx, pos[0])
	if auth.ErrorCode(err) == auth.CodeNotFound && strings.Contains(pos[0], "@") {
		u, err = e.svc.AdminUserByEmail(ctx, pos[0])
	}
	if auth.ErrorCode(err) == auth.CodeNotFound {
		return nil, fmt.Errorf("no user %q", pos[0])
	}
	return u, err
}

func splitRoles(s string) []string {
	roles := []string{}
	return append(roles, strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })...)
}

func cliCreate(ctx context.Context, e *cliEnv, email, pw, pwFile, roles string, confirmed bool) error {
	if email == "" {
		return errors.New("latch user create: --email is required")
	}
	if pw != "" && pwFile != "" {
		return errors.New("latch user create: give --password or --password-file, not both")
	}
	pw, generated, err := cliPassword(pw, pwFile)
	if err != nil {
		return fmt.Errorf("latch user create: %w", err)
	}
	in := auth.NewUser{Email: email, Password: pw, EmailConfirmed: confirmed}
	if roles != "" {
		in.Roles = splitRoles(roles)
	}
	u, err := e.svc.AdminCreateUser(ctx, auth.ActorCLI, in)
	if err != nil {
		return cliError(err)
	}
	if e.json {
		out := struct {
			wire.AdminUser
			Password string `json:"password,omitempty"`
		}{wire.NewAdminUser(u), generated}
		return e.writeJSON(out)
	}
	fmt.Fprintf(e.stdout, "created %s (%s)\n", u.ID, u.Email)
	if generated != "" {
		fmt.Fprintf(e.stdout, "password: %s\n", generated)
	}
	return nil
}

// cliPassword is the password of --password or --password-file, or a
// generated one (then also returned as generated, to be shown once).
func cliPassword(pw, pwFile string) (password, generated string, err error) {
	switch {
	case pw != "" && pwFile != "":
		return "", "", errors.New("give --password or --password-file, not both")
	case pwFile != "":
		b, err := os.ReadFile(pwFile)
		if err != nil {
			return "", "", err
		}
		pw, _, _ = strings.Cut(string(b), "\n")
		return strings.TrimSuffix(pw, "\r"), "", nil
	case pw == "":
		generated = rand.Text() // 26 base32 characters, 128 bits
		return generated, generated, nil
	}
	return pw, "", nil
}

func cliList(ctx context.Context, e *cliEnv, f auth.UserFilter, all bool) error {
	var users []*auth.User
	next := ""
	for {
		page, err := e.svc.AdminListUsers(ctx, f)
		if err != nil {
			return cliError(err)
		}
		users = append(users, page.Users...)
		next = page.NextCursor
		if !all || next == "" {
			break
		}
		f.Cursor = next
	}
	return e.listUsers(users, next)
}

func cliPatch(ctx context.Context, e *cliEnv, pos []string, p auth.UserPatch) error {
	u, err := oneUser(ctx, e, pos)
	if err != nil {
		return err
	}
	u, err = e.svc.AdminUpdateUser(ctx, auth.ActorCLI, u.ID, p)
	if err != nil {
		return cliError(err)
	}
	return e.showUser(u, nil)
}

// cliError turns a domain error into its client message.
func cliError(err error) error {
	var de *auth.Error
	if errors.As(err, &de) && de.Code != auth.CodeInternal {
		return fmt.Errorf("%s (%s)", de.Message, de.Code)
	}
	return err
}

// auditCmd runs latch audit.
func auditCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlags("latch audit")
	jsonOut := fs.Bool("json", false, "machine-readable output")
	user := fs.String("user", "", "only events of this user (id or email)")
	typ := fs.String("type", "", "only events of this type (e.g. login_failed)")
	since := fs.String("since", "", "only events at or after (RFC 3339 or a duration back, e.g. 24h)")
	until := fs.String("until", "", "only events before (RFC 3339 or a duration back)")
	limit := fs.Int("limit", 0, "events per page (default 50, at most 200)")
	cursor := fs.String("cursor", "", "continue after a previous page")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagErr(fs, err, auditUsage)
	}
	if len(pos) > 0 {
		return fmt.Errorf("latch audit: unexpected arguments %q\n%s", pos, auditUsage)
	}
	f := auth.AuditFilter{Type: *typ, Cursor: *cursor, Limit: *limit}
	now := time.Now()
	if f.Since, err = cliTime(*since, now); err != nil {
		return fmt.Errorf("latch audit: --since: %w", err)
	}
	if f.Until, err = cliTime(*until, now); err != nil {
		return fmt.Errorf("latch audit: --until: %w", err)
	}
	e, err := openCLI(ctx, getenv, stdout, stderr, false)
	if err != nil {
		return err
	}
	defer e.close()
	e.json = *jsonOut
	ctx = cliContext(ctx)
	if *user != "" {
		f.UserID = *user
		if u, err := oneUser(ctx, e, []string{*user}); err == nil {
			f.UserID = u.ID // a deleted user's id still finds their events
		}
	}
	page, err := e.svc.Audit(ctx, f)
	if err != nil {
		return cliError(err)
	}
	return e.listAudit(page)
}

// cliTime parses an RFC 3339 time or a duration back from now.
func cliTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration like 24h", s)
}

// validAdminKey reports whether key can work as LATCH_ADMIN_KEY: long
// enough, and made of RFC 6750 b64token characters so that it survives
// the Authorization header.
func validAdminKey(key string) bool {
	return len(key) >= 16 && bearerSafe(key)
}

// bearerSafe reports whether key is an RFC 6750 b64token, which an
// Authorization header can carry.
func bearerSafe(key string) bool {
	body := strings.TrimRight(key, "=") // b64token allows trailing '='
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			return false
		}
	}
	return body != ""
}
