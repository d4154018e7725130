package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/cursor"
	"github.com/latchauth/latch/internal/emailaddr"
)

// Roles every deployment knows. Other roles are free-form (see
// NormalizeRoles) and simply travel in the access token.
const (
	RoleUser  = "user"  // given to every new account
	RoleAdmin = "admin" // may use the admin API
)

// MaxRoles is the most roles a user may have.
const MaxRoles = 32

// Actors of admin actions other than an admin's user id.
const (
	ActorAdminKey = "admin_key" // the admin API key (LATCH_ADMIN_KEY)
	ActorCLI      = "cli"       // the latch command line, on the database directly
)

// Admin event types. Their Actor is ActorAdminKey, ActorCLI or the
// acting admin's user id; UserID is the account acted on.
const (
	EventRoleChanged       = "role_changed"
	EventDisabled          = "disabled"
	EventEnabled           = "enabled"
	EventForceLogout       = "force_logout"
	EventUserCreated       = "user_created"
	EventUserDeleted       = "user_deleted"
	EventEmailConfirmedSet = "email_confirmed_set"
	EventUsersImported     = "users_imported"
)

// UserQuery selects users for the admin listing.
type UserQuery struct {
	// EmailPrefix keeps users whose normalised email starts with it ("":
	// every user). It is matched literally (no wildcards).
	EmailPrefix string
	// NonASCIIEmail keeps only users whose stored address has a byte
	// outside ASCII.
	NonASCIIEmail bool
	// AfterCreated and AfterID, when AfterID is set, start the listing
	// after the user at that (CreatedAt, ID) position.
	AfterCreated time.Time
	AfterID      string
	Limit        int
}

// UserFilter is what an admin asks of the user listing.
type UserFilter struct {
	// Email is matched, case-insensitively, as a prefix of the address: an
	// exact address finds that user (and any longer address it begins).
	Email  string
	Cursor string // from a previous UserPage; "" for the first page
	Limit  int    // default 50, at most 200
}

// UserPage is one page of users in (CreatedAt, ID) order. NextCursor is ""
// on the last page.
type UserPage struct {
	Users      []*User
	NextCursor string
}

// NewUser is an account an admin creates.
type NewUser struct {
	Email    string
	Password string // the password policy applies
	// Roles: nil gives the default ["user"]; an empty slice gives none.
	Roles          []string
	EmailConfirmed bool
}

// UserPatch is an admin's change to an account; nil fields stay as they are.
type UserPatch struct {
	Roles          *[]string
	Disabled       *bool
	EmailConfirmed *bool
	// Email changes the address at once (an admin vouches for it).
	Email *string
	// Password sets a new password (the policy applies).
	Password *string
	// AppMetadata replaces the app_metadata object (NormalizeMetadata);
	// nil leaves it.
	AppMetadata json.RawMessage
}

// NormalizeRoles validates roles - each 1 to 64 characters of lowercase
// a-z, 0-9, '_', ':' and '-' - and removes duplicates, keeping the first
// occurrence's order. After that there may be at most MaxRoles. The result
// is never nil.
func NormalizeRoles(roles []string) ([]string, error) {
	out := make([]string, 0, len(roles))
	for _, r := range roles {
		if !validRole(r) {
			return nil, Errorf(CodeInvalidRequest, "role %q is invalid: use 1 to 64 characters of a-z, 0-9, '_', ':' and '-'", clip(r, 70))
		}
		if !slices.Contains(out, r) {
			if len(out) == MaxRoles {
				return nil, Errorf(CodeInvalidRequest, "a user may have at most %d roles", MaxRoles)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func validRole(r string) bool {
	if len(r) == 0 || len(r) > 64 {
		return false
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// clip shortens s to at most n bytes for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n] + "..."
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

func errNoUser() error { return Errorf(CodeNotFound, "no such user") }

// AdminListUsers lists users in (CreatedAt, ID) order.
func (s *Service) AdminListUsers(ctx context.Context, f UserFilter) (*UserPage, error) {
	q := UserQuery{EmailPrefix: s.emailPrefixKey(f.Email), Limit: pageSize(f.Limit) + 1}
	if f.Cursor != "" {
		at, id, ok := decodeUserCursor(f.Cursor)
		if !ok {
			return nil, errBadCursor()
		}
		q.AfterCreated, q.AfterID = at, id
	}
	users, err := s.deps.Store.ListUsers(ctx, q)
	if err != nil {
		return nil, err
	}
	page := &UserPage{Users: users}
	if n := q.Limit - 1; len(users) > n {
		page.Users = users[:n]
		last := users[n-1]
		page.NextCursor = encodeUserCursor(last.CreatedAt, last.ID)
	}
	return page, nil
}

// The user list's cursor holds the (CreatedAt, ID) of the last user of a
// page.

func encodeUserCursor(at time.Time, id string) string {
	return cursor.Encode(cursor.Users, cursor.Position{Micros: at.UnixMicro(), ID: id})
}

func decodeUserCursor(c string) (time.Time, string, bool) {
	p, ok := cursor.Decode(cursor.Users, c)
	if !ok || p.Num != 0 || p.ID == "" {
		return time.Time{}, "", false
	}
	return time.UnixMicro(p.Micros).UTC(), p.ID, true
}

// AdminUser returns the user with id.
func (s *Service) AdminUser(ctx context.Context, id string) (*User, error) {
	return userByID(ctx, s.deps.Store, id)
}

// userByID reads the user with id for an admin request: a missing user is
// CodeNotFound, which the admin API answers 404.
func userByID(ctx context.Context, r Reader, id string) (*User, error) {
	u, err := r.UserByID(ctx, id)
	if notFound(err) {
		return nil, errNoUser()
	}
	return u, err
}

// AdminUserByEmail returns the user with email (the command line accepts
// an address where it wants a user).
func (s *Service) AdminUserByEmail(ctx context.Context, email string) (*User, error) {
	addr, err := s.parseEmail(email)
	if err != nil {
		return nil, errNoUser()
	}
	u, err := s.deps.Store.UserByEmail(ctx, addr.Key)
	if notFound(err) {
		return nil, errNoUser()
	}
	return u, err
}

// AdminCreateUser creates an account on an admin's behalf: the address
// must be valid and free (409 email_taken otherwise) and the password must
// pass the policy. No mail is sent.
func (s *Service) AdminCreateUser(ctx context.Context, actor string, in NewUser) (*User, error) {
	addr, err := s.parseEmail(in.Email)
	if err != nil {
		return nil, err
	}
	roles := []string{RoleUser}
	if in.Roles != nil {
		var err error
		if roles, err = NormalizeRoles(in.Roles); err != nil {
			return nil, err
		}
	}
	hash, err := s.hashNewPassword(ctx, in.Password, addr.Mail)
	if err != nil {
		return nil, err
	}
	now := s.now()
	u := &User{
		ID:             newUUID(),
		Email:          addr.Mail,
		EmailNorm:      addr.Key,
		PasswordHash:   hash,
		EmailConfirmed: in.EmailConfirmed,
		Roles:          roles,
		CreatedAt:      now,
		UpdatedAt:      now,
	}
	taken := Errorf(CodeEmailTaken, "an account with this email already exists")
	ev := Event{Type: EventUserCreated, UserID: u.ID, Actor: actor, Details: map[string]string{
		"email":           u.Email,
		"roles":           strings.Join(u.Roles, ","),
		"email_confirmed": strconv.FormatBool(u.EmailConfirmed),
	}}
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		if _, err := tx.UserByEmail(ctx, u.EmailNorm); err == nil {
			return taken
		} else if !notFound(err) {
			return err
		}
		if err := tx.CreateUser(ctx, u); err != nil {
			if errors.Is(err, ErrConflict) {
				return taken
			}
			return err
		}
		return s.publish(ctx, tx, u, &ev)
	})
	if err != nil {
		return nil, err
	}
	s.emit(ctx, ev)
	return u, nil
}

// AdminUpdateUser applies p to the user with id, in one transaction:
// every field is checked before anything changes, so a refused one (a
// weak password, a taken address, a bad role or metadata) leaves the
// account as it was. Setting a field to its current value changes
// nothing.
//
//   - Roles, Disabled (true) and Password end every session of the user
//     and cut off every access token issued so far and every pending
//     emailed link (see cutOff), so that a demoted admin loses the admin
//     API at once; their next login (or nothing, when disabled) carries
//     the new roles.
//   - Email changes the address at once: the old address is told, and
//     every pending link stops working. A taken address is CodeEmailTaken.
//   - Password is checked against the policy (with the new address, when
//     both change) and the user is told by mail.
//   - AppMetadata shows in the user's next access token (a refresh
//     re-reads the user).
//
// Each change is its own event, with the actor.
func (s *Service) AdminUpdateUser(ctx context.Context, actor, id string, p UserPatch) (*User, error) {
	var newRoles []string
	if p.Roles != nil {
		var err error
		if newRoles, err = NormalizeRoles(*p.Roles); err != nil {
			return nil, err
		}
	}
	var meta json.RawMessage
	if p.AppMetadata != nil {
		var err error
		if meta, err = NormalizeMetadata("app_metadata", p.AppMetadata); err != nil {
			return nil, err
		}
	}
	var addr emailaddr.Address
	if p.Email != nil {
		var err error
		if addr, err = s.parseEmail(*p.Email); err != nil {
			return nil, err
		}
	}
	var hash string
	if p.Password != nil {
		cur, err := s.AdminUser(ctx, id)
		if err != nil {
			return nil, err
		}
		email := cur.Email
		if p.Email != nil {
			email = addr.Mail
		}
		if hash, err = s.hashNewPassword(ctx, *p.Password, email); err != nil {
			return nil, err
		}
	}
	var (
		u         *User
		events    []Event
		mailed    bool
		published bool
	)
	err := s.deps.Store.Tx(ctx, func(tx Tx) error {
		events, mailed, published = nil, false, false
		var err error
		if u, err = userByID(ctx, tx, id); err != nil {
			return err
		}
		now := s.now()
		cut, changed := false, false
		if p.Email != nil && addr.Mail != u.Email {
			if other, err := tx.UserByEmail(ctx, addr.Key); err == nil && other.ID != u.ID {
				return errEmailTaken()
			} else if err != nil && !notFound(err) {
				return err
			}
			old := u.Email
			u.Email, u.EmailNorm = addr.Mail, addr.Key
			// A link mailed to the old address must not act on the
			// account any more.
			if err := voidLinks(ctx, tx, u.ID, now); err != nil {
				return err
			}
			if err := s.notify(ctx, tx, u, MailEmailChanged, old, MailData{NewEmail: u.Email}); err != nil {
				return err
			}
			events = append(events, Event{Type: EventEmailChanged})
			changed, mailed = true, true
		}
		if p.Password != nil {
			u.PasswordHash = hash
			if err := s.notify(ctx, tx, u, MailPasswordChanged, u.Email, MailData{}); err != nil {
				return err
			}
			events = append(events, Event{Type: EventPasswordChanged})
			cut, changed, mailed = true, true, true
		}
		if p.Roles != nil && !sameRoles(u.Roles, newRoles) {
			events = append(events, Event{Type: EventRoleChanged, Details: map[string]string{
				"from": strings.Join(u.Roles, ","), "to": strings.Join(newRoles, ","),
			}})
			u.Roles = newRoles
			cut, changed = true, true
		}
		if p.Disabled != nil && *p.Disabled != u.Disabled {
			u.Disabled = *p.Disabled
			if u.Disabled {
				events = append(events, Event{Type: EventDisabled})
				cut = true
			} else {
				events = append(events, Event{Type: EventEnabled})
			}
			changed = true
		}
		if p.EmailConfirmed != nil && *p.EmailConfirmed != u.EmailConfirmed {
			u.EmailConfirmed = *p.EmailConfirmed
			events = append(events, Event{Type: EventEmailConfirmedSet, Details: map[string]string{
				"value": strconv.FormatBool(u.EmailConfirmed),
			}})
			changed = true
		}
		if meta != nil && !bytes.Equal(MetadataJSON(u.AppMetadata), meta) {
			u.AppMetadata = meta
			events = append(events, Event{Type: EventAppMetadataChanged, Details: map[string]string{
				"bytes": strconv.Itoa(len(meta)),
			}})
			changed = true
		}
		if !changed {
			return nil
		}
		if cut {
			ended, err := s.cutOff(ctx, tx, u, now)
			if err != nil {
				return err
			}
			for i := range events {
				switch events[i].Type {
				case EventRoleChanged, EventDisabled, EventPasswordChanged:
					events[i].Details = withDetail(events[i].Details, "sessions_ended", strconv.Itoa(len(ended)))
				}
			}
		}
		u.UpdatedAt = now
		if err := tx.UpdateUser(ctx, u); err != nil {
			if errors.Is(err, ErrConflict) {
				return errEmailTaken()
			}
			return err
		}
		evs := make([]*Event, len(events))
		for i := range events {
			events[i].UserID, events[i].Actor = u.ID, actor
			evs[i] = &events[i]
		}
		published = true
		// Webhooks: queued in this transaction. A password alone is
		// password.changed; any other field is also user.updated.
		if p.Password != nil && len(events) == 1 {
			return s.publish(ctx, tx, u, evs...)
		}
		return s.publishUpdate(ctx, tx, u, evs...)
	})
	if err != nil {
		return nil, err
	}
	if mailed {
		s.mailQueued()
	}
	for _, e := range events {
		s.emit(ctx, e)
	}
	if published {
		s.webhookQueued()
	}
	return u, nil
}

func withDetail(d map[string]string, k, v string) map[string]string {
	if d == nil {
		d = map[string]string{}
	}
	d[k] = v
	return d
}

// sameRoles reports whether a and b hold the same roles in any order.
func sameRoles(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// AdminDeleteUser deletes the user with id and, with it, every session,
// refresh token and emailed token of theirs; access tokens of the deleted
// account are refused at once. The address is free again. No mail is sent.
//
// The event keeps the deleted address, so that the audit log can still
// answer who the account was.
func (s *Service) AdminDeleteUser(ctx context.Context, actor, id string) error {
	var ev Event
	err := s.deps.Store.Tx(ctx, func(tx Tx) error {
		u, err := userByID(ctx, tx, id)
		if err != nil {
			return err
		}
		err = tx.DeleteUser(ctx, id)
		if notFound(err) {
			return errNoUser()
		}
		if err != nil {
			return err
		}
		ev = Event{Type: EventUserDeleted, UserID: id, Actor: actor, Details: map[string]string{"email": u.Email}}
		return s.publish(ctx, tx, nil, &ev)
	})
	if err != nil {
		return err
	}
	s.emit(ctx, ev)
	return nil
}

// AdminSessions lists the live sessions of the user with id, newest first.
func (s *Service) AdminSessions(ctx context.Context, id string) ([]*Session, error) {
	if _, err := s.AdminUser(ctx, id); err != nil {
		return nil, err
	}
	return s.liveSessions(ctx, id)
}

// AdminLogout forces the user with id out: every session ends, every
// access token issued so far is refused and every pending emailed link
// stops working.
func (s *Service) AdminLogout(ctx context.Context, actor, id string) error {
	var ev Event
	err := s.deps.Store.Tx(ctx, func(tx Tx) error {
		u, err := userByID(ctx, tx, id)
		if err != nil {
			return err
		}
		now := s.now()
		ended, err := s.cutOff(ctx, tx, u, now)
		if err != nil {
			return err
		}
		u.UpdatedAt = now
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		ev = Event{Type: EventForceLogout, UserID: id, Actor: actor, Details: map[string]string{
			"sessions_ended": strconv.Itoa(len(ended)),
		}}
		return s.publish(ctx, tx, u, &ev)
	})
	if err != nil {
		return err
	}
	s.emit(ctx, ev)
	return nil
}
