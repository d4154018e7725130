package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/wire"
)

// The --json shapes are those of the admin API (package wire).

func (e *cliEnv) writeJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", b)
	return err
}

func (e *cliEnv) table() *tabwriter.Writer {
	return tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (e *cliEnv) listUsers(users []*auth.User, next string) error {
	if e.json {
		return e.writeJSON(wire.NewUsers(users, next))
	}
	w := e.table()
	fmt.Fprintln(w, "ID\tEMAIL\tCONFIRMED\tDISABLED\tROLES\tCREATED")
	for _, u := range users {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Email, yesNo(u.EmailConfirmed), yesNo(u.Disabled),
			orDash(strings.Join(u.Roles, ",")), wire.Time(u.CreatedAt))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if next != "" {
		fmt.Fprintf(e.stdout, "more: --cursor %s\n", next)
	}
	return nil
}

// showUser prints u and, when not nil, its sessions.
func (e *cliEnv) showUser(u *auth.User, sessions []*auth.Session) error {
	if e.json {
		if sessions == nil {
			return e.writeJSON(wire.NewAdminUser(u))
		}
		return e.writeJSON(struct {
			wire.AdminUser
			Sessions []wire.Session `json:"sessions"`
		}{wire.NewAdminUser(u), wire.NewSessions(sessions)})
	}
	w := e.table()
	fmt.Fprintf(w, "id\t%s\n", u.ID)
	fmt.Fprintf(w, "email\t%s\n", u.Email)
	fmt.Fprintf(w, "confirmed\t%s\n", yesNo(u.EmailConfirmed))
	fmt.Fprintf(w, "disabled\t%s\n", yesNo(u.Disabled))
	fmt.Fprintf(w, "roles\t%s\n", orDash(strings.Join(u.Roles, ",")))
	fmt.Fprintf(w, "created\t%s\n", wire.Time(u.CreatedAt))
	fmt.Fprintf(w, "updated\t%s\n", wire.Time(u.UpdatedAt))
	fmt.Fprintf(w, "app_metadata\t%s\n", auth.MetadataJSON(u.AppMetadata))
	fmt.Fprintf(w, "user_metadata\t%s\n", auth.MetadataJSON(u.UserMetadata))
	if err := w.Flush(); err != nil {
		return err
	}
	if sessions == nil {
		return nil
	}
	fmt.Fprintf(e.stdout, "\n%d live session(s)\n", len(sessions))
	if len(sessions) == 0 {
		return nil
	}
	w = e.table()
	fmt.Fprintln(w, "SESSION\tCREATED\tLAST USED\tIP\tUSER AGENT")
	for _, s := range sessions {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.ID, wire.Time(s.CreatedAt), wire.Time(s.LastUsedAt), orDash(s.IP), orDash(s.UserAgent))
	}
	return w.Flush()
}

// done reports an action on u.
func (e *cliEnv) done(what string, u *auth.User) error {
	if e.json {
		return e.writeJSON(struct {
			Status string `json:"status"`
			ID     string `json:"id"`
			Email  string `json:"email"`
		}{strings.ReplaceAll(what, " ", "_"), u.ID, u.Email})
	}
	_, err := fmt.Fprintf(e.stdout, "%s %s (%s)\n", what, u.ID, u.Email)
	return err
}

func (e *cliEnv) listAudit(page *auth.AuditPage) error {
	if e.json {
		return e.writeJSON(wire.NewEvents(page))
	}
	w := e.table()
	fmt.Fprintln(w, "ID\tTIME\tTYPE\tUSER\tACTOR\tIP\tDETAILS")
	for _, ev := range page.Events {
		var details []string
		for _, k := range slices.Sorted(maps.Keys(ev.Details)) {
			details = append(details, k+"="+ev.Details[k])
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.ID, wire.Time(ev.CreatedAt), ev.Type, orDash(ev.UserID),
			orDash(ev.Actor), orDash(ev.IP), strings.Join(details, " "))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if page.NextCursor != "" {
		fmt.Fprintf(e.stdout, "more: --cursor %s\n", page.NextCursor)
	}
	return nil
}
