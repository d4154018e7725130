package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/latchauth/latch/internal/auth"
)

// userCommands are the commands of latch user, in the order help lists
// them (USER is a user id or an email address).
var userCommands = []cliCommand{
	{"create", "--email EMAIL [--password PW | --password-file FILE] [--roles a,b] [--confirmed]",
		"create an account (a password is generated and printed when none is given)", userCreate},
	{"list", "[--email PREFIX] [--limit N] [--cursor C] [--all]",
		"list accounts, oldest first (email: case-insensitive prefix)", userList},
	{"show", "USER", "show an account and its live sessions", userShow},
	{"set-roles", "USER ROLE...", "replace the roles (comma or space separated; --none for no roles);\nends the user's sessions", userSetRoles},
	{"set-email", "USER NEW_EMAIL", "change the address at once; the old address is told by mail", userSetEmail},
	{"set-password", "USER [--password PW | --password-file FILE]",
		"set the password (generated and printed when none is given); ends every session", userSetPassword},
	{"set-app-metadata", "USER (JSON | --file FILE)",
		"replace the app_metadata object (in the next access token; {} clears it)", userSetAppMetadata},
	{"send-reset", "USER", "mail a password reset link", userSendMail},
	{"resend-confirmation", "USER", "mail a new confirmation link to an unconfirmed address", userSendMail},
	{"disable", "USER", "disable the account and end its sessions", userSetDisabled},
	{"enable", "USER", "enable the account", userSetDisabled},
	{"logout", "USER", "end every session and cut off its access tokens", userLogout},
	{"reset-mfa", "USER", "remove every second factor and recovery code (the user is told by mail)", userResetMFA},
	{"delete", "USER", "delete the account, its sessions and tokens", userDelete},
}

// userGroup is latch user.
var userGroup = &cliGroup{
	name:     "user",
	heading:  "commands (USER is a user id or an email address):",
	footer:   "every command takes --json for machine-readable output;\nlatch user <command> -h shows its flags.\n",
	argsNote: "USER: USER is a user id or an email address",
	creates:  "create",
	commands: userCommands,
}

// userCmd runs latch user <command>.
func userCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return userGroup.run(ctx, args, getenv, stdout, stderr)
}

// passwordFlags declares --password and --password-file.
func passwordFlags(fs *flag.FlagSet) (pw, pwFile *string) {
	pw = fs.String("password", "", "the password (visible in the process list: prefer --password-file)")
	pwFile = fs.String("password-file", "", "read the password from the first line of this file")
	return pw, pwFile
}

func userCreate(_ string, fs *flag.FlagSet) cliRun {
	email := fs.String("email", "", "the account's address")
	pw, pwFile := passwordFlags(fs)
	roles := fs.String("roles", "", "comma-separated roles (default user)")
	confirmed := fs.Bool("confirmed", false, "mark the address confirmed")
	return func(ctx context.Context, e *cliEnv, pos []string) error {
		if len(pos) > 0 {
			return fmt.Errorf("latch user create: unexpected arguments %q", pos)
		}
		return cliCreate(ctx, e, *email, *pw, *pwFile, *roles, *confirmed)
	}
}

func userList(_ string, fs *flag.FlagSet) cliRun {
	email := fs.String("email", "", "case-insensitive prefix of the address")
	limit := fs.Int("limit", 0, "users per page (default 50, at most 200)")
	cursor := fs.String("cursor", "", "continue after a previous page")
	all := fs.Bool("all", false, "list every matching user, page after page")
	return func(ctx context.Context, e *cliEnv, pos []string) error {
		if len(pos) > 0 {
			return fmt.Errorf("latch user list: unexpected arguments %q", pos)
		}
		return cliList(ctx, e, auth.UserFilter{Email: *email, Cursor: *cursor, Limit: *limit}, *all)
	}
}

func userShow(_ string, _ *flag.FlagSet) cliRun {
	return func(ctx context.Context, e *cliEnv, pos []string) error {
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
}

func userSetRoles(_ string, fs *flag.FlagSet) cliRun {
	none := fs.Bool("none", false, "remove every role")
	return func(ctx context.Context, e *cliEnv, pos []string) error {
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
}

func userSetEmail(_ string, _ *flag.FlagSet) cliRun {
	return func(ctx context.Context, e *cliEnv, pos []string) error {
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
}

func userSetPassword(_ string, fs *flag.FlagSet) cliRun {
	pw, pwFile := passwordFlags(fs)
	return func(ctx context.Context, e *cliEnv, pos []string) error {
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
}

func userSetAppMetadata(_ string, fs *flag.FlagSet) cliRun {
	file := fs.String("file", "", "read the JSON object from this file")
	return func(ctx context.Context, e *cliEnv, pos []string) error {
		var meta []byte
		switch {
		case *file != "" && len(pos) == 1:
			var err error
			if meta, err = readSmallFile(*file); err != nil {
				return fmt.Errorf("latch user set-app-metadata: %w", err)
			}
		case *file == "" && len(pos) == 2:
			meta = []byte(pos[1])
		default:
			return errors.New("latch user set-app-metadata: give a user and a JSON object (or --file)")
		}
		return cliPatch(ctx, e, pos[:1], auth.UserPatch{AppMetadata: meta})
	}
}

// readSmallFile reads a file given on the command line that holds at
// most a request body's worth (64 KiB): anything larger is a mistake.
func readSmallFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<10+1))
	if err != nil {
		return nil, err
	}
	if len(b) > 64<<10 {
		return nil, fmt.Errorf("%s is larger than 64 KiB", name)
	}
	return b, nil
}

// userSendMail is send-reset and resend-confirmation: the mail goes into
// the database's outbox, which a running server sends.
func userSendMail(sub string, _ *flag.FlagSet) cliRun {
	return func(ctx context.Context, e *cliEnv, pos []string) error {
		u, err := oneUser(ctx, e, pos)
		if err != nil {
			return err
		}
		status := "reset_sent"
		if sub == "send-reset" {
			err = e.svc.AdminSendReset(ctx, auth.ActorCLI, u.ID)
		} else {
			status = "confirmation_sent"
			err = e.svc.AdminResendConfirmation(ctx, auth.ActorCLI, u.ID)
		}
		if err != nil {
			return cliError(err)
		}
		if e.json {
			return e.done(status, u)
		}
		_, err = fmt.Fprintf(e.stdout, "mail queued for %s (%s); a running latch serve sends it\n", u.ID, u.Email)
		return err
	}
}

// userSetDisabled is disable and enable.
func userSetDisabled(sub string, _ *flag.FlagSet) cliRun {
	disabled := sub == "disable"
	return func(ctx context.Context, e *cliEnv, pos []string) error {
		return cliPatch(ctx, e, pos, auth.UserPatch{Disabled: &disabled})
	}
}

func userLogout(_ string, _ *flag.FlagSet) cliRun {
	return func(ctx context.Context, e *cliEnv, pos []string) error {
		u, err := oneUser(ctx, e, pos)
		if err != nil {
			return err
		}
		if err := e.svc.AdminLogout(ctx, auth.ActorCLI, u.ID); err != nil {
			return err
		}
		return e.done("logged out", u)
	}
}

func userResetMFA(_ string, _ *flag.FlagSet) cliRun {
	return func(ctx context.Context, e *cliEnv, pos []string) error {
		u, err := oneUser(ctx, e, pos)
		if err != nil {
			return err
		}
		if err := e.svc.AdminResetMFA(ctx, auth.ActorCLI, u.ID); err != nil {
			return err
		}
		return e.done("second factors removed", u)
	}
}

func userDelete(_ string, _ *flag.FlagSet) cliRun {
	return func(ctx context.Context, e *cliEnv, pos []string) error {
		u, err := oneUser(ctx, e, pos)
		if err != nil {
			return err
		}
		if err := e.svc.AdminDeleteUser(ctx, auth.ActorCLI, u.ID); err != nil {
			return err
		}
		return e.done("deleted", u)
	}
}
