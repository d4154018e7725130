// Package wire is the JSON view of latch's users, sessions and audit events
// (api.md): the shapes the admin API answers and `latch ... --json` prints,
// kept once so that the two cannot drift apart.
package wire

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// Time formats t as RFC 3339 in UTC, whole seconds ("" for the zero time):
// every time latch answers or prints.
func Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// User is api.md's user object.
type User struct {
	ID             string          `json:"id"`
	Email          string          `json:"email"`
	EmailConfirmed bool            `json:"email_confirmed"`
	Roles          []string        `json:"roles"`
	CreatedAt      string          `json:"created_at"`
	AppMetadata    json.RawMessage `json:"app_metadata"`
	UserMetadata   json.RawMessage `json:"user_metadata"`
}

// NewUser is u's user object; nil gives an empty one (roles [] and
// metadata {}, never null).
func NewUser(u *auth.User) User {
	if u == nil {
		return User{Roles: []string{}, AppMetadata: auth.MetadataJSON(nil), UserMetadata: auth.MetadataJSON(nil)}
	}
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return User{
		ID:             u.ID,
		Email:          u.Email,
		EmailConfirmed: u.EmailConfirmed,
		Roles:          roles,
		CreatedAt:      Time(u.CreatedAt),
		AppMetadata:    auth.MetadataJSON(u.AppMetadata),
		UserMetadata:   auth.MetadataJSON(u.UserMetadata),
	}
}

// AdminUser is the user object of the admin API: User plus what only
// admins see.
type AdminUser struct {
	User
	Disabled  bool   `json:"disabled"`
	UpdatedAt string `json:"updated_at"`
}

// NewAdminUser is u's admin user object.
func NewAdminUser(u *auth.User) AdminUser {
	return AdminUser{User: NewUser(u), Disabled: u.Disabled, UpdatedAt: Time(u.UpdatedAt)}
}

// Users is a page of the user listing.
type Users struct {
	Users      []AdminUser `json:"users"`
	NextCursor string      `json:"next_cursor"`
}

// NewUsers is the listing of users (never null) with the cursor of the
// next page ("" for none).
func NewUsers(users []*auth.User, next string) Users {
	out := Users{Users: make([]AdminUser, 0, len(users)), NextCursor: next}
	for _, u := range users {
		out.Users = append(out.Users, NewAdminUser(u))
	}
	return out
}

// Session is a session as the admin API shows it.
type Session struct {
	ID         string `json:"id"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at"`
	ExpiresAt  string `json:"expires_at"`
	UserAgent  string `json:"user_agent"`
	IP         string `json:"ip"`
}

// NewSessions is the list of sessions (never null).
func NewSessions(list []*auth.Session) []Session {
	out := make([]Session, 0, len(list))
	for _, x := range list {
		out = append(out, Session{
			ID:         x.ID,
			CreatedAt:  Time(x.CreatedAt),
			LastUsedAt: Time(x.LastUsedAt),
			ExpiresAt:  Time(x.ExpiresAt),
			UserAgent:  x.UserAgent,
			IP:         x.IP,
		})
	}
	return out
}

// Event is an audit event.
type Event struct {
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

// NewEvent is e's audit event object (details {} not null).
func NewEvent(e *auth.AuditEvent) Event {
	d := e.Details
	if d == nil {
		d = map[string]string{}
	}
	return Event{
		ID:        strconv.FormatInt(e.ID, 10),
		Type:      e.Type,
		UserID:    e.UserID,
		SessionID: e.SessionID,
		Actor:     e.Actor,
		IP:        e.IP,
		UserAgent: e.UserAgent,
		CreatedAt: Time(e.CreatedAt),
		Details:   d,
	}
}

// Events is a page of the audit log.
type Events struct {
	Events     []Event `json:"events"`
	NextCursor string  `json:"next_cursor"`
}

// NewEvents is p as a page of the audit log (events never null).
func NewEvents(p *auth.AuditPage) Events {
	out := Events{Events: make([]Event, 0, len(p.Events)), NextCursor: p.NextCursor}
	for _, e := range p.Events {
		out.Events = append(out.Events, NewEvent(e))
	}
	return out
}
