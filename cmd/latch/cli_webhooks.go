package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/wire"
)

// webhookCommands are the commands of latch webhooks, in the order help
// lists them (ID is a webhook id).
var webhookCommands = []cliCommand{
	{"create", "--url URL --events TYPE,TYPE...", "add a webhook; its signing secret is printed once", webhookCreate},
	{"list", "", "list the webhooks", webhookList},
	{"get", "ID", "show a webhook", webhookGet},
	{"update", "ID [--url URL] [--events TYPE,...]", "change a webhook's URL or events", webhookUpdate},
	{"delete", "ID", "delete a webhook and its deliveries", webhookDelete},
	{"deliveries", "ID [--limit N] [--cursor C]", "list a webhook's deliveries, newest first", webhookDeliveries},
	{"retry", "ID DELIVERY_ID", "send a delivered or failed delivery again (same webhook-id)", webhookRetry},
}

// webhookGroup is latch webhooks.
var webhookGroup = &cliGroup{
	name:     "webhooks",
	heading:  "commands:",
	footer:   "event types: " + strings.Join(auth.WebhookEventTypes, ", ") + "\nevery command takes --json for machine-readable output.\n",
	commands: webhookCommands,
}

// webhooksCmd runs latch webhooks <command>.
func webhooksCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return webhookGroup.run(ctx, args, getenv, stdout, stderr)
}

// splitEvents reads a comma- or space-separated list of event types.
func splitEvents(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

func oneID(pos []string, what string) (string, error) {
	if len(pos) != 1 {
		return "", fmt.Errorf("latch webhooks %s: give exactly one webhook id", what)
	}
	return pos[0], nil
}

func webhookCreate(_ string, fs *flag.FlagSet) cliRun {
	u := fs.String("url", "", "where deliveries are POSTed (https in production)")
	events := fs.String("events", "", "comma-separated event types")
	return func(ctx context.Context, e *cliEnv, pos []string) error {
		if len(pos) > 0 {
			return fmt.Errorf("latch webhooks create: unexpected arguments %q", pos)
		}
		if *u == "" || *events == "" {
			return errors.New("latch webhooks create: --url and --events are required")
		}
		h, secret, err := e.svc.CreateWebhook(ctx, auth.ActorCLI, *u, splitEvents(*events))
		if err != nil {
			return err
		}
		if e.json {
			out := wire.NewWebhook(h)
			out.Secret = secret
			return e.writeJSON(out)
		}
		fmt.Fprintf(e.stdout, "created %s\nsecret %s (shown once: store it with the receiver)\n", h.ID, secret)
		return nil
	}
}

func (e *cliEnv) showWebhooks(list []*auth.WebhookEndpoint) error {
	w := e.table()
	fmt.Fprintln(w, "ID\tURL\tEVENTS\tCREATED")
	for _, h := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", h.ID, h.URL, strings.Join(h.Events, ","), wire.Time(h.CreatedAt))
	}
	return w.Flush()
}

func webhookList(string, *flag.FlagSet) cliRun {
	return func(ctx context.Context, e *cliEnv, pos []string) error {
		if len(pos) > 0 {
			return fmt.Errorf("latch webhooks list: unexpected arguments %q", pos)
		}
		list, err := e.svc.Webhooks(ctx)
		if err != nil {
			return err
		}
		if e.json {
			return e.writeJSON(wire.NewWebhooks(list))
		}
		return e.showWebhooks(list)
	}
}

func webhookGet(string, *flag.FlagSet) cliRun {
	return func(ctx context.Context, e *cliEnv, pos []string) error {
		id, err := oneID(pos, "get")
		if err != nil {
			return err
		}
		h, err := e.svc.Webhook(ctx, id)
		if err != nil {
			return err
		}
		if e.json {
			return e.writeJSON(wire.NewWebhook(h))
		}
		return e.showWebhooks([]*auth.WebhookEndpoint{h})
	}
}

func webhookUpdate(_ string, fs *flag.FlagSet) cliRun {
	u := fs.String("url", "", "the new URL")
	events := fs.String("events", "", "the new comma-separated event types")
	return func(ctx context.Context, e *cliEnv, pos []string) error {
		id, err := oneID(pos, "update")
		if err != nil {
			return err
		}
		var p auth.WebhookPatch
		if *u != "" {
			p.URL = u
		}
		if *events != "" {
			ev := splitEvents(*events)
			p.Events = &ev
		}
		if p.URL == nil && p.Events == nil {
			return errors.New("latch webhooks update: give --url or --events")
		}
		h, err := e.svc.UpdateWebhook(ctx, auth.ActorCLI, id, p)
		if err != nil {
			return err
		}
		if e.json {
			return e.writeJSON(wire.NewWebhook(h))
		}
		return e.showWebhooks([]*auth.WebhookEndpoint{h})
	}
}

func webhookDelete(string, *flag.FlagSet) cliRun {
	return func(ctx context.Context, e *cliEnv, pos []string) error {
		id, err := oneID(pos, "delete")
		if err != nil {
			return err
		}
		if err := e.svc.DeleteWebhook(ctx, auth.ActorCLI, id); err != nil {
			return err
		}
		if e.json {
			return e.writeJSON(map[string]string{"status": "deleted", "id": id})
		}
		fmt.Fprintf(e.stdout, "deleted %s\n", id)
		return nil
	}
}

func (e *cliEnv) showDeliveries(list []*auth.WebhookDelivery, next string) error {
	w := e.table()
	fmt.Fprintln(w, "ID\tTYPE\tSTATE\tATTEMPTS\tSTATUS\tLATENCY\tNEXT ATTEMPT\tERROR")
	for _, d := range list {
		x := wire.NewDelivery(d)
		status, latency := "-", "-"
		if x.StatusCode != nil {
			status = fmt.Sprint(*x.StatusCode)
		}
		if x.LatencyMS != nil {
			latency = fmt.Sprintf("%dms", *x.LatencyMS)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", x.ID, x.Type, x.State, x.Attempts, status, latency,
			orDash(x.NextAttemptAt), orDash(x.Error))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if next != "" {
		fmt.Fprintf(e.stdout, "more: --cursor %s\n", next)
	}
	return nil
}

func webhookDeliveries(_ string, fs *flag.FlagSet) cliRun {
	limit := fs.Int("limit", 0, "deliveries per page (default 50, at most 200)")
	cursor := fs.String("cursor", "", "continue after a previous page")
	return func(ctx context.Context, e *cliEnv, pos []string) error {
		id, err := oneID(pos, "deliveries")
		if err != nil {
			return err
		}
		page, err := e.svc.WebhookDeliveries(ctx, id, *cursor, *limit)
		if err != nil {
			return err
		}
		if e.json {
			return e.writeJSON(wire.NewDeliveries(page))
		}
		return e.showDeliveries(page.Deliveries, page.NextCursor)
	}
}

func webhookRetry(string, *flag.FlagSet) cliRun {
	return func(ctx context.Context, e *cliEnv, pos []string) error {
		if len(pos) != 2 {
			return errors.New("latch webhooks retry: give a webhook id and a delivery id")
		}
		d, err := e.svc.RetryWebhookDelivery(ctx, auth.ActorCLI, pos[0], pos[1])
		if err != nil {
			return err
		}
		if e.json {
			return e.writeJSON(wire.NewDelivery(d))
		}
		return e.showDeliveries([]*auth.WebhookDelivery{d}, "")
	}
}
