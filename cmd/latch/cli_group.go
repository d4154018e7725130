package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// cliRun runs one command of a group on its positional arguments.
type cliRun func(ctx context.Context, e *cliEnv, pos []string) error

// cliCommand is one command of a group. setup declares its flags on fs and
// returns what runs once they are parsed; sub is the command's name, for
// the commands that share a setup.
type cliCommand struct {
	name, args, doc string
	setup           func(sub string, fs *flag.FlagSet) cliRun
}

// cliGroup is a command made of commands (latch user, clients, webhooks):
// latch NAME <command> [flags] [args]. Each command's flags are parsed
// before the database is opened, so that a usage error needs no
// configuration; every command takes --json.
type cliGroup struct {
	name     string
	heading  string // the line above the list of commands
	footer   string // what follows the list
	argsNote string // a line added to a command's usage when its args name the placeholder before the colon, e.g. "USER: USER is a user id or an email address"
	creates  string // the command that may create a new SQLite database
	commands []cliCommand
}

func (g *cliGroup) usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: latch %s <command> [flags]\n\n%s\n", g.name, g.heading)
	for _, c := range g.commands {
		fmt.Fprintf(&b, "  %s %s\n", c.name, c.args)
		for _, l := range strings.Split(c.doc, "\n") {
			fmt.Fprintf(&b, "        %s\n", l)
		}
	}
	b.WriteString("\n" + g.footer)
	return b.String()
}

// find is the command called name, or nil.
func (g *cliGroup) find(name string) *cliCommand {
	for i := range g.commands {
		if g.commands[i].name == name {
			return &g.commands[i]
		}
	}
	return nil
}

// commandUsage is the usage of one command.
func (g *cliGroup) commandUsage(c *cliCommand) string {
	u := fmt.Sprintf("usage: latch %s %s %s\n\n%s\n", g.name, c.name, c.args, c.doc)
	if word, note, ok := strings.Cut(g.argsNote, ": "); ok && strings.Contains(c.args, word) {
		u += "(" + note + ")\n"
	}
	return u
}

// run runs latch NAME with args.
func (g *cliGroup) run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, g.usage())
		return nil
	}
	sub, args := args[0], args[1:]
	c := g.find(sub)
	if c == nil {
		return fmt.Errorf("unknown command \"%s %s\"\n%s", g.name, sub, g.usage())
	}
	fs := newFlags("latch " + g.name + " " + sub)
	jsonOut := fs.Bool("json", false, "machine-readable output")
	run := c.setup(sub, fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagErr(fs, err, g.commandUsage(c))
	}
	e, err := openCLI(ctx, getenv, stdout, stderr, sub == g.creates)
	if err != nil {
		return err
	}
	defer e.close()
	e.json = *jsonOut
	return cliError(run(cliContext(ctx), e, pos))
}
