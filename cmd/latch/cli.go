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
	"github.com/latchauth/latch/internal/limit"
	"github.com/latchauth/latch/internal/mail"
	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/sqlstore"
	"github.com/latchauth/latch/internal/wire"
)

// userCommands are the commands of latch user, in the order help lists
// them (USER is a user id or an email address).
var userCommands = []struct{ name, args, doc string }{
	{"create", "--email EMAIL [--password PW | --password-file FILE] [--roles a,b] [--confirmed]",
		"create an account (a password is generated and printed when none is given)"},
	{"list", "[--email PREFIX] [--limit N] [--cursor C] [--all]",
		"list accounts, oldest first (email: case-insensitive prefix)"},
	{"show", "USER", "show an account and its live sessions"},
	{"set-roles", "USER ROLE...", "replace the roles (comma or space separated; --none for no roles);\nends the user's sessions"},
	{"set-email", "USER NEW_EMAIL", "change the address at once; the old address is told by mail"},
	{"set-password", "USER [--password PW | --password-file FILE]",
		"set the password (generated and printed when none is given); ends every session"},
	{"send-reset", "USER", "mail a password reset link"},
	{"resend-confirmation", "USER", "mail a new confirmation link to an unconfirmed address"},
	{"disable", "USER", "disable the account and end its sessions"},
	{"enable", "USER", "enable the account"},
	{"logout", "USER", "end every session and cut off its access tokens"},
	{"delete", "USER", "delete the account, its sessions and tokens"},
}

// userUsage is what latch user help prints.
var userUsage = func() string {
	var b strings.Builder
	b.WriteString("usage: latch user <command> [flags]\n\ncommands (USER is a user id or an email address):\n")
	for _, c := range userCommands {
		fmt.Fprintf(&b, "  %s %s\n", c.name, c.args)
		for _, l := range strings.Split(c.doc, "\n") {
			fmt.Fprintf(&b, "        %s\n", l)
		}
	}
	b.WriteString("\nevery command takes --json for machine-readable output;\nlatch user <command> -h shows its flags.\n")
	return b.String()
}()

// userCommandUsage is the usage of one latch user command.
func userCommandUsage(name string) string {
	for _, c := range userCommands {
		if c.name == name {
			u := fmt.Sprintf("usage: latch user %s %s\n\n%s\n", c.name, c.args, c.doc)
			if strings.Contains(c.args, "USER") {
				u += "(USER is a user id or an email address)\n"
			}
			return u
		}
	}
	return userUsage
}

const auditUsage = `usage: latch audit [--user USER] [--type TYPE] [--since T] [--until T] [--limit N] [--cursor C] [--json]

Lists audit events, newest first. T is an RFC 3339 time or a duration back
from now (e.g. 24h).
`

// cliEnv is what an administration command works with.
type cliEnv struct {
	svc    *auth.Service
	db     *sqlstore.DB
	hasher *password.Hasher
	stdout io.Writer
	stderr io.Writer
	json   bool
}

func (e *cliEnv) close() {
	e.svc.Close()
	e.db.Close()
}

// openCLI builds the service on the configured database, as serve does but
// without a listener or mail worker: commands send no mail.
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
	// Security events still go to the log, but only warnings reach the
	// terminal; the audit log keeps every event.
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if c.LogFormat == "json" {
		log = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	db, err := openStore(ctx, c)
	if err != nil {
		return nil, err
	}
	secret, secretFrom, err := loadSecret(c)
	if err != nil {
		db.Close()
		return nil, err
	}
	hasher := password.NewHasher(password.Config{})
	svc, err := auth.New(ctx, c.authConfig(secret), auth.Deps{
		Store:    db,
		Limiter:  limit.New(),
		Composer: mail.NewComposer(),
		Hasher:   hasher,
		Policy:   password.Policy{MinLength: c.PasswordMin},
		Logger:   log,
	})
	if err != nil {
		db.Close()
		return nil, explainServiceError(err, c, secretFrom)
	}
	return &cliEnv{svc: svc, db: db, hasher: hasher, stdout: stdout, stderr: stderr}, nil
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

// userCmd runs latch user <command>.
func userCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, userUsage)
		return nil
	}
	sub, args := args[0], args[1:]
	fs := newFlags("latch user " + sub)
	jsonOut := fs.Bool("json", false, "machine-readable output")
	var run func(ctx context.Context, e *cliEnv, pos []string) error
	switch sub {
	case "create":
		email := fs.String("email", "", "the account's address")
		pw := fs.String("password", "", "the password (visible in the process list: prefer --password-file)")
		pwFile := fs.String("password-file", "", "read the password from the first line of this file")
		roles := fs.String("roles", "", "comma-separated roles (default user)")
		confirmed := fs.Bool("confirmed", false, "mark the address confirmed")
		run = func(ctx context.Context, e *cliEnv, pos []string) error {
			if len(pos) > 0 {
				return fmt.Errorf("latch user create: unexpected arguments %q", pos)
			}
			return cliCreate(ctx, e, *email, *pw, *pwFile, *roles, *confirmed)
		}
	case "list":
		email := fs.String("email", "", "case-insensitive prefix of the address")
		limit := fs.Int("limit", 0, "users per page (default 50, at most 200)")
		cursor := fs.String("cursor", "", "continue after a previous page")
		all := fs.Bool("all", false, "list every matching user, page after page")
		run = func(ctx context.Context, e *cliEnv, pos []string) error {
			if len(pos) > 0 {
				return fmt.Errorf("latch user list: unexpected arguments %q", pos)
			}
			return cliList(ctx, e, auth.UserFilter{Email: *email, Cursor: *cursor, Limit: *limit}, *all)
		}
	case "show":
		run = func(ctx context.Context, e *cliEnv, pos []string) error {
			u, err := oneUser(ctx, e, pos)
			if err != nil {
				return err
			}
			sessions, err := e.svc.AdminSessions(ctx, u.ID)
			if err != nil {
				return err
			}
			if sessions == nil {
				sessions = []*auth.Session{} // shown as none, not left out
			}
			return e.showUser(u, sessions)
		}
	case "set-roles":
		none := fs.Bool("none", false, "remove every role")
		run = func(ctx context.Context, e *cliEnv, pos []string) error {
			if len(pos) == 0 {
				return errors.New("latch user set-roles: give a user")
			}
			roles := splitRoles(strings.Join(pos[1:], ","))
			if len(roles) == 0 && !*none {
				return errors.New("latch user set-roles: give at least one role, or --none")
			}
			if len(roles) > 0 && *none {
				return errors.New("latch user set-roles: --none with roles")
			}
			return cliPatch(ctx, e, pos[:1], auth.UserPatch{Roles: &roles})
		}
	case "set-email":
		run = func(ctx context.Context, e *cliEnv, pos []string) error {
			if len(pos) != 2 {
				return errors.New("latch user set-email: give a user and the new address")
			}
			u, err := oneUser(ctx, e, pos[:1])
			if err != nil {
				return err
			}
			if u, err = e.svc.AdminSetEmail(ctx, auth.ActorCLI, u.ID, pos[1]); err != nil {
				return cliError(err)
			}
			return e.showUser(u, nil)
		}
	case "set-password":
		pw := fs.String("password", "", "the password (visible in the process list: prefer --password-file)")
		pwFile := fs.String("password-file", "", "read the password from the first line of this file")
		run = func(ctx context.Context, e *cliEnv, pos []string) error {
			u, err := oneUser(ctx, e, pos)
			if err != nil {
				return err
			}
			password, generated, err := cliPassword(*pw, *pwFile)
			if err != nil {
				return fmt.Errorf("latch user set-password: %w", err)
			}
			if _, err = e.svc.AdminSetPassword(ctx, auth.ActorCLI, u.ID, password); err != nil {
				return cliError(err)
			}
			if e.json {
				return e.writeJSON(struct {
					Status   string `json:"status"`
					ID       string `json:"id"`
					Password string `json:"password,omitempty"`
				}{"password_set", u.ID, generated})
			}
			fmt.Fprintf(e.stdout, "password set for %s (%s); every session ended\n", u.ID, u.Email)
			if generated != "" {
				fmt.Fprintf(e.stdout, "password: %s\n", generated)
			}
			return nil
		}
	case "send-reset", "resend-confirmation":
		run = func(ctx context.Context, e *cliEnv, pos []string) error {
			u, err := oneUser(ctx, e, pos)
			if err != nil {
				return err
			}
			if sub == "send-reset" {
				err = e.svc.AdminSendReset(ctx, auth.ActorCLI, u.ID)
			} else {
				err = e.svc.AdminResendConfirmation(ctx, auth.ActorCLI, u.ID)
			}
			if err != nil {
				return cliError(err)
			}
			status := map[string]string{"send-reset": "reset_sent", "resend-confirmation": "confirmation_sent"}[sub]
			if e.json {
				return e.done(status, u)
			}
			// The mail is in the database's outbox: a running server sends it.
			_, err = fmt.Fprintf(e.stdout, "mail queued for %s (%s); a running latch serve sends it\n", u.ID, u.Email)
			return err
		}
	case "disable", "enable":
		disabled := sub == "disable"
		run = func(ctx context.Context, e *cliEnv, pos []string) error {
			return cliPatch(ctx, e, pos, auth.UserPatch{Disabled: &disabled})
		}
	case "logout":
		run = func(ctx context.Context, e *cliEnv, pos []string) error {
			u, err := oneUser(ctx, e, pos)
			if err != nil {
				return err
			}
			if err := e.svc.AdminLogout(ctx, auth.ActorCLI, u.ID); err != nil {
				return err
			}
			return e.done("logged out", u)
		}
	case "delete":
		run = func(ctx context.Context, e *cliEnv, pos []string) error {
			u, err := oneUser(ctx, e, pos)
			if err != nil {
				return err
			}
			if err := e.svc.AdminDeleteUser(ctx, auth.ActorCLI, u.ID); err != nil {
				return err
			}
			return e.done("deleted", u)
		}
	default:
		return fmt.Errorf("unknown command \"user %s\"\n%s", sub, userUsage)
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagErr(fs, err, userCommandUsage(sub))
	}
	e, err := openCLI(ctx, getenv, stdout, stderr, sub == "create")
	if err != nil {
		return err
	}
	defer e.close()
	e.json = *jsonOut
	return run(cliContext(ctx), e, pos)
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
