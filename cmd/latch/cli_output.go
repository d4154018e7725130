package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// The --json shapes are those of the admin API.

type cliUser struct {
	ID             string   `json:"id"`
	Email          string   `json:"email"`
	EmailConfirmed bool     `json:"email_confirmed"`
	Roles          []string `json:"roles"`
	CreatedAt      string   `json:"created_at"`
	Disabled       bool     `json:"disabled"`
	UpdatedAt      string   `json:"updated_at"`
}

func newCLIUser(u *auth.User) cliUser {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return cliUser{
		ID: u.ID, Email: u.Email, EmailConfirmed: u.EmailConfirmed, Roles: roles,
		CreatedAt: rfc3339(u.CreatedAt), Disabled: u.Disabled, UpdatedAt: rfc3339(u.UpdatedAt),
	}
}

type cliSession struct {
	ID         string `json:"id"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at"`
	ExpiresAt  string `json:"expires_at"`
	UserAgent  string `json:"user_agent"`
	IP         string `json:"ip"`
}

type cliEvent struct {
	ID        string            `json:"id"`
	Type      string            `json:"type"`
	UserID    string            `json:"user_id"`
	SessionID string            `json:"session_id"`
	Actor     string            `json:"actor"`
	IP        string            `json:"ip"`
	UserAgent string            `json:"user_agent"`
	CreatedAt string            `json:"created_at"`
	Details   map[string]string `json:"details"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

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
		out := struct {
			Users      []cliUser `json:"users"`
			NextCursor string    `json:"next_cursor"`
		}{Users: make([]cliUser, 0, len(users)), NextCursor: next}
		for _, u := range users {
			out.Users = append(out.Users, newCLIUser(u))
		}
		return e.writeJSON(out)
	}
	w := e.table()
	fmt.Fprintln(w, "ID\tEMAIL\tCONFIRMED\tDISABLED\tROLES\tCREATED")
	for _, u := range users {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Email, yesNo(u.EmailConfirmed), yesNo(u.Disabled),
			orDash(strings.Join(u.Roles, ",")), rfc3339(u.CreatedAt))
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
			return e.writeJSON(newCLIUser(u))
		}
		out := struct {
			cliUser
			Sessions []cliSession `json:"sessions"`
		}{cliUser: newCLIUser(u), Sessions: make([]cliSession, 0, len(sessions))}
		for _, s := range sessions {
			out.Sessions = append(out.Sessions, cliSession{
				ID: s.ID, CreatedAt: rfc3339(s.CreatedAt), LastUsedAt: rfc3339(s.LastUsedAt),
				ExpiresAt: rfc3339(s.ExpiresAt), UserAgent: s.UserAgent, IP: s.IP,
			})
		}
		return e.writeJSON(out)
	}
	w := e.table()
	fmt.Fprintf(w, "id\t%s\n", u.ID)
	fmt.Fprintf(w, "email\t%s\n", u.Email)
	fmt.Fprintf(w, "confirmed\t%s\n", yesNo(u.EmailConfirmed))
	fmt.Fprintf(w, "disabled\t%s\n", yesNo(u.Disabled))
	fmt.Fprintf(w, "roles\t%s\n", orDash(strings.Join(u.Roles, ",")))
	fmt.Fprintf(w, "created\t%s\n", rfc3339(u.CreatedAt))
	fmt.Fprintf(w, "updated\t%s\n", rfc3339(u.UpdatedAt))
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
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.ID, rfc3339(s.CreatedAt), rfc3339(s.LastUsedAt), orDash(s.IP), orDash(s.UserAgent))
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
		out := struct {
			Events     []cliEvent `json:"events"`
			NextCursor string     `json:"next_cursor"`
		}{Events: make([]cliEvent, 0, len(page.Events)), NextCursor: page.NextCursor}
		for _, ev := range page.Events {
			d := ev.Details
			if d == nil {
				d = map[string]string{}
			}
			out.Events = append(out.Events, cliEvent{
				ID: strconv.FormatInt(ev.ID, 10), Type: ev.Type, UserID: ev.UserID, SessionID: ev.SessionID,
				Actor: ev.Actor, IP: ev.IP, UserAgent: ev.UserAgent, CreatedAt: rfc3339(ev.CreatedAt), Details: d,
			})
		}
		return e.writeJSON(out)
	}
	w := e.table()
	fmt.Fprintln(w, "ID\tTIME\tTYPE\tUSER\tACTOR\tIP\tDETAILS")
	for _, ev := range page.Events {
		var details []string
		for _, k := range slices.Sorted(maps.Keys(ev.Details)) {
			details = append(details, k+"="+ev.Details[k])
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.ID, rfc3339(ev.CreatedAt), ev.Type, orDash(ev.UserID),
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
