package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/wire"
)

const keysUsage = `usage: latch keys <command> [--json]

commands:
  list     list the signing keys: current, next, retired and expired
  rotate   rotate now: the next key starts signing, the current key is
           retired (published until every token it signed has expired)
           and a new next key is generated

Run it with the servers' configuration (LATCH_DATABASE_URL, LATCH_SECRET,
LATCH_ACCESS_TTL, LATCH_KEY_ALG). Running servers pick the change up within
a minute, and at once when they see a token of a key they do not know.
`

// keysCmd is `latch keys`.
func keysCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, keysUsage)
		return nil
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("latch keys "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "machine-readable output")
	if sub != "list" && sub != "rotate" {
		return fmt.Errorf("latch keys: unknown command %q\n%s", sub, keysUsage)
	}
	if err := fs.Parse(args); err != nil {
		return flagErr(fs, err, keysUsage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("latch keys %s: unexpected arguments %q\n%s", sub, fs.Args(), keysUsage)
	}
	// A rotation runs on the server's settings: the access token lifetime
	// sets how long a retired key stays published.
	e, err := openCLI(ctx, getenv, stdout, stderr, true)
	if err != nil {
		return err
	}
	defer e.close()
	if sub == "rotate" {
		return keysRotate(ctx, e.svc, stdout, *asJSON)
	}
	return keysList(ctx, e.svc, stdout, *asJSON)
}

// keysRotate is `latch keys rotate`.
func keysRotate(ctx context.Context, svc *auth.Service, stdout io.Writer, asJSON bool) error {
	rot, err := svc.RotateKeys(ctx)
	if errors.Is(err, auth.ErrRotationConflict) {
		return errors.New("another rotation ran at the same moment; nothing changed (run latch keys list)")
	}
	if err != nil {
		return err
	}
	if asJSON {
		return writeKeysJSON(stdout, map[string]string{
			"retired": rot.Retired, "current": rot.Current, "next": rot.Next,
			"retired_until": wire.Time(rot.RetiredUntil),
		})
	}
	if rot.Retired != "" {
		fmt.Fprintf(stdout, "retired %s (published until %s)\n", rot.Retired, wire.Time(rot.RetiredUntil))
	}
	fmt.Fprintf(stdout, "current %s\nnext    %s\n", rot.Current, rot.Next)
	return nil
}

// keysList is `latch keys list`: a table, or JSON.
func keysList(ctx context.Context, svc *auth.Service, stdout io.Writer, asJSON bool) error {
	keys, err := svc.Keys(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		type key struct {
			KID       string `json:"kid"`
			Alg       string `json:"alg"`
			State     string `json:"state"`
			CreatedAt string `json:"created_at"`
			ActiveAt  string `json:"active_at,omitempty"`
			RetiredAt string `json:"retired_at,omitempty"`
			ExpiresAt string `json:"expires_at,omitempty"`
		}
		out := struct {
			Keys []key `json:"keys"`
		}{Keys: []key{}}
		for _, k := range keys {
			out.Keys = append(out.Keys, key{k.KID, k.Alg, k.State, wire.Time(k.CreatedAt), wire.Time(k.ActiveAt), wire.Time(k.RetiredAt), wire.Time(k.ExpiresAt)})
		}
		return writeKeysJSON(stdout, out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tSIGNS SINCE\tRETIRED\tPUBLISHED UNTIL")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.KID, k.Alg, k.State, wire.Time(k.CreatedAt),
			keyTime(k.ActiveAt), keyTime(k.RetiredAt), keyTime(k.ExpiresAt))
	}
	return tw.Flush()
}

// keyTime is wire.Time with "-" for the zero time, for tables.
func keyTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return wire.Time(t)
}

func writeKeysJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
