package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/wire"
)

// latch clients: registered OAuth clients, on the database directly (the
// admin API's /admin/v1/clients without a running server).

// clientSetup is the setup of a latch clients command: create and update
// take the client's flags.
func clientSetup(run func(ctx context.Context, e *cliEnv, fs *flag.FlagSet, pos []string, f *clientFlags) error) func(string, *flag.FlagSet) cliRun {
	return func(sub string, fs *flag.FlagSet) cliRun {
		f := &clientFlags{}
		if sub == "create" || sub == "update" {
			fs.StringVar(&f.name, "name", "", "the client's name, shown on the login page")
			if sub == "create" {
				fs.StringVar(&f.typ, "type", "", "public (SPA, native app) or confidential (server-side app with a secret)")
			}
			fs.Var(&f.redirect, "redirect-uri", "a redirect URI (repeat, or comma-separate)")
			fs.Var(&f.postLogout, "post-logout-redirect-uri", "a post-logout redirect URI (repeat, or comma-separate)")
			fs.Var(&f.grant, "grant-type", "a grant type (repeat, or comma-separate)")
		}
		if sub == "rotate-secret" {
			fs.DurationVar(&f.previousValidFor, "previous-valid-for", 0,
				"how long the replaced secret stays accepted, at most 168h (default 0: it ends now)")
		}
		return func(ctx context.Context, e *cliEnv, pos []string) error { return run(ctx, e, fs, pos, f) }
	}
}

// clientFlags are the flags create and update share; a list flag given
// with an empty value clears the list (update).
type clientFlags struct {
	name, typ                   string
	redirect, postLogout, grant listFlag
	previousValidFor            time.Duration
}

// listFlag collects a repeatable flag; each value may also be a
// comma-separated list.
type listFlag struct {
	set    bool
	values []string
}

func (l *listFlag) String() string { return strings.Join(l.values, ",") }

func (l *listFlag) Set(v string) error {
	l.set = true
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			l.values = append(l.values, x)
		}
	}
	return nil
}

var clientsCommands = []cliCommand{
	{"create", "--name NAME --type public|confidential [--redirect-uri URI]... [--post-logout-redirect-uri URI]... [--grant-type G]...",
		"register a client (a confidential client's secret is printed once)", clientSetup(clientsCreate)},
	{"list", "", "list the registered clients", clientSetup(clientsList)},
	{"get", "CLIENT_ID", "show a client", clientSetup(clientsGet)},
	{"update", "CLIENT_ID [--name NAME] [--redirect-uri URI]... [--post-logout-redirect-uri URI]... [--grant-type G]...",
		"change a client; each list given replaces the old one (an empty value clears it)", clientSetup(clientsUpdate)},
	{"rotate-secret", "CLIENT_ID [--previous-valid-for DURATION]",
		"give a confidential client a new secret (printed once); the old one stays accepted for the duration", clientSetup(clientsRotateSecret)},
	{"delete", "CLIENT_ID", "delete a client and its unused codes", clientSetup(clientsDelete)},
}

// clientsGroup is latch clients.
var clientsGroup = &cliGroup{
	name:     "clients",
	heading:  "commands:",
	footer:   "grant types: authorization_code, refresh_token (the default pair), password;\nevery command takes --json for machine-readable output.\n",
	commands: clientsCommands,
}

// clientsCmd runs latch clients <command>.
func clientsCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return clientsGroup.run(ctx, args, getenv, stdout, stderr)
}

func oneClientID(sub string, pos []string) (string, error) {
	if len(pos) != 1 {
		return "", fmt.Errorf("latch clients %s: give one client id", sub)
	}
	return pos[0], nil
}

func clientsCreate(ctx context.Context, e *cliEnv, _ *flag.FlagSet, pos []string, f *clientFlags) error {
	if len(pos) > 0 {
		return fmt.Errorf("latch clients create: unexpected arguments %q", pos)
	}
	if f.name == "" || f.typ == "" {
		return errors.New("latch clients create: --name and --type are required")
	}
	in := auth.NewClient{Name: f.name, Type: f.typ, RedirectURIs: f.redirect.values,
		PostLogoutRedirectURIs: f.postLogout.values}
	if f.grant.set {
		in.GrantTypes = f.grant.values
		if in.GrantTypes == nil {
			in.GrantTypes = []string{}
		}
	}
	c, secret, err := e.svc.AdminCreateClient(ctx, auth.ActorCLI, in)
	if err != nil {
		return cliError(err)
	}
	return e.showClient(c, secret)
}

func clientsList(ctx context.Context, e *cliEnv, _ *flag.FlagSet, pos []string, _ *clientFlags) error {
	if len(pos) > 0 {
		return fmt.Errorf("latch clients list: unexpected arguments %q", pos)
	}
	cs, err := e.svc.AdminClients(ctx)
	if err != nil {
		return cliError(err)
	}
	if e.json {
		return e.writeJSON(wire.NewClients(cs))
	}
	w := e.table()
	fmt.Fprintln(w, "CLIENT_ID\tNAME\tTYPE\tGRANT_TYPES\tREDIRECT_URIS")
	for _, c := range cs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, c.Type, strings.Join(c.GrantTypes, ","),
			orDash(strings.Join(c.RedirectURIs, " ")))
	}
	return w.Flush()
}

func clientsGet(ctx context.Context, e *cliEnv, _ *flag.FlagSet, pos []string, _ *clientFlags) error {
	id, err := oneClientID("get", pos)
	if err != nil {
		return err
	}
	c, err := e.svc.AdminClient(ctx, id)
	if err != nil {
		return cliError(err)
	}
	return e.showClient(c, "")
}

func clientsUpdate(ctx context.Context, e *cliEnv, fs *flag.FlagSet, pos []string, f *clientFlags) error {
	id, err := oneClientID("update", pos)
	if err != nil {
		return err
	}
	var p auth.ClientPatch
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "name" {
			p.Name = &f.name
		}
	})
	list := func(l *listFlag) *[]string {
		if !l.set {
			return nil
		}
		v := l.values
		if v == nil {
			v = []string{}
		}
		return &v
	}
	p.RedirectURIs, p.PostLogoutRedirectURIs, p.GrantTypes = list(&f.redirect), list(&f.postLogout), list(&f.grant)
	c, err := e.svc.AdminUpdateClient(ctx, auth.ActorCLI, id, p)
	if err != nil {
		return cliError(err)
	}
	return e.showClient(c, "")
}

func clientsRotateSecret(ctx context.Context, e *cliEnv, _ *flag.FlagSet, pos []string, f *clientFlags) error {
	id, err := oneClientID("rotate-secret", pos)
	if err != nil {
		return err
	}
	c, secret, err := e.svc.AdminRotateClientSecret(ctx, auth.ActorCLI, id, f.previousValidFor)
	if err != nil {
		return cliError(err)
	}
	return e.showClient(c, secret)
}

func clientsDelete(ctx context.Context, e *cliEnv, _ *flag.FlagSet, pos []string, _ *clientFlags) error {
	id, err := oneClientID("delete", pos)
	if err != nil {
		return err
	}
	if err := e.svc.AdminDeleteClient(ctx, auth.ActorCLI, id); err != nil {
		return cliError(err)
	}
	if e.json {
		return e.writeJSON(map[string]string{"deleted": id})
	}
	fmt.Fprintf(e.stdout, "deleted client %s\n", id)
	return nil
}

// showClient prints c and, right after its creation or a rotation, its
// secret.
func (e *cliEnv) showClient(c *auth.Client, secret string) error {
	if e.json {
		out := wire.NewClient(c)
		out.ClientSecret = secret
		return e.writeJSON(out)
	}
	w := e.table()
	fmt.Fprintf(w, "client_id\t%s\n", c.ID)
	if secret != "" {
		fmt.Fprintf(w, "client_secret\t%s\t(shown once: store it now)\n", secret)
	}
	fmt.Fprintf(w, "name\t%s\n", c.Name)
	fmt.Fprintf(w, "type\t%s\n", c.Type)
	fmt.Fprintf(w, "grant_types\t%s\n", strings.Join(c.GrantTypes, " "))
	fmt.Fprintf(w, "redirect_uris\t%s\n", orDash(strings.Join(c.RedirectURIs, " ")))
	fmt.Fprintf(w, "post_logout_redirect_uris\t%s\n", orDash(strings.Join(c.PostLogoutRedirectURIs, " ")))
	if !c.PreviousSecretUntil.IsZero() {
		fmt.Fprintf(w, "previous_secret_expires\t%s\n", wire.Time(c.PreviousSecretUntil))
	}
	fmt.Fprintf(w, "created\t%s\n", wire.Time(c.CreatedAt))
	return w.Flush()
}
