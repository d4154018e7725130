package httpapi

// The admin API (api.md "Admin API"), under /admin/v1/.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/wire"
)

// adminFunc is a handler of an admin route; actor is auth.ActorAdminKey or
// the acting admin's user id.
type adminFunc func(w http.ResponseWriter, r *http.Request, actor string) error

// admin protects h: the caller must present the admin API key, or an access
// token of a live session whose roles - in the token and on the account
// now - contain "admin". No or a bad credential answers 401 invalid_token
// with a WWW-Authenticate challenge; a valid token without the role, 403
// forbidden. Failed attempts are limited per client (adminAttempt). Admin
// answers are never cached.
func (s *server) admin(h adminFunc) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Cache-Control", "no-store")
		var actor string
		err := s.adminAttempt(r, func() (err error) {
			actor, err = s.adminActor(r)
			return err
		})
		if err != nil {
			return err
		}
		return h(w, r, actor)
	})
}

// adminActor checks r's admin credential and returns who acts.
func (s *server) adminActor(r *http.Request) (string, error) {
	tok, err := bearerCredential(r, "an admin access token or the admin API key is required")
	if err != nil {
		return "", err
	}
	return s.svc.AuthenticateAdmin(r.Context(), tok, s.adminKey)
}

// Request bodies.

type createUserRequest struct {
	Email          string    `json:"email"`
	Password       string    `json:"password"`
	Roles          *[]string `json:"roles"`
	EmailConfirmed bool      `json:"email_confirmed"`
}

func (q createUserRequest) check() error {
	return required("email", q.Email, "password", q.Password)
}

type patchUserRequest struct {
	Roles          *[]string       `json:"roles"`
	Disabled       *bool           `json:"disabled"`
	EmailConfirmed *bool           `json:"email_confirmed"`
	Email          *string         `json:"email"`
	Password       *string         `json:"password"`
	AppMetadata    json.RawMessage `json:"app_metadata"` // checked by the service; null is refused there
}

// readOnlyFields: PATCH refuses, rather than ignores, a field of the user
// object it cannot change, and any unknown one. user_metadata is the
// user's own (PATCH /v1/me).
func (patchUserRequest) readOnlyFields() []string {
	return []string{"id", "created_at", "updated_at", "user_metadata"}
}

// Query parameters.

// queryLimit reads the optional limit parameter.
func queryLimit(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, badRequest("limit must be a positive whole number (at most 200 are answered)")
	}
	return n, nil
}

// queryTime reads an optional RFC 3339 time parameter.
func queryTime(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badRequest(name + " must be an RFC 3339 time, e.g. 2025-01-31T12:00:00Z")
	}
	return t, nil
}

// Handlers.

func (s *server) handleAdminListUsers() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, _ string) error {
		q := r.URL.Query()
		limit, err := queryLimit(q)
		if err != nil {
			return err
		}
		page, err := s.svc.AdminListUsers(r.Context(), auth.UserFilter{
			Email: q.Get("email"), Cursor: q.Get("cursor"), Limit: limit,
		})
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, wire.NewUsers(page.Users, page.NextCursor))
		return nil
	}
}

func (s *server) handleAdminCreateUser() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		q, err := decode[createUserRequest](w, r)
		if err != nil {
			return err
		}
		in := auth.NewUser{Email: q.Email, Password: q.Password, EmailConfirmed: q.EmailConfirmed}
		if q.Roles != nil {
			in.Roles = *q.Roles
			if in.Roles == nil {
				in.Roles = []string{}
			}
		}
		u, err := s.svc.AdminCreateUser(r.Context(), actor, in)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/admin/v1/users/"+url.PathEscape(u.ID))
		encode(w, http.StatusCreated, wire.NewAdminUser(u))
		return nil
	}
}

func (s *server) handleAdminGetUser() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, _ string) error {
		u, err := s.svc.AdminUser(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, wire.NewAdminUser(u))
		return nil
	}
}

func (s *server) handleAdminPatchUser() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		q, err := decode[patchUserRequest](w, r)
		if err != nil {
			return err
		}
		if q.Roles != nil && *q.Roles == nil {
			q.Roles = &[]string{} // "roles": [] - explicitly none
		}
		// One change: every field is checked before any applies.
		u, err := s.svc.AdminUpdateUser(r.Context(), actor, r.PathValue("id"), auth.UserPatch{
			Roles: q.Roles, Disabled: q.Disabled, EmailConfirmed: q.EmailConfirmed,
			Email: q.Email, Password: q.Password, AppMetadata: q.AppMetadata,
		})
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, wire.NewAdminUser(u))
		return nil
	}
}

func (s *server) handleAdminDeleteUser() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		if err := s.svc.AdminDeleteUser(r.Context(), actor, r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func (s *server) handleAdminSessions() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, _ string) error {
		list, err := s.svc.AdminSessions(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, struct {
			Sessions []wire.Session `json:"sessions"`
		}{wire.NewSessions(list)})
		return nil
	}
}

func (s *server) handleAdminLogout() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		if _, err := decodeOptional[emptyRequest](w, r); err != nil {
			return err
		}
		if err := s.svc.AdminLogout(r.Context(), actor, r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// handleAdminSendReset mails the user a password reset link.
func (s *server) handleAdminSendReset() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		if _, err := decodeOptional[emptyRequest](w, r); err != nil {
			return err
		}
		if err := s.svc.AdminSendReset(r.Context(), actor, r.PathValue("id")); err != nil {
			return err
		}
		encode(w, http.StatusAccepted, statusBody{Status: "reset_sent"})
		return nil
	}
}

// handleAdminResendConfirmation mails an unconfirmed user a new
// confirmation link.
func (s *server) handleAdminResendConfirmation() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		if _, err := decodeOptional[emptyRequest](w, r); err != nil {
			return err
		}
		if err := s.svc.AdminResendConfirmation(r.Context(), actor, r.PathValue("id")); err != nil {
			return err
		}
		encode(w, http.StatusAccepted, statusBody{Status: "confirmation_sent"})
		return nil
	}
}

func (s *server) handleAdminAudit() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, _ string) error {
		q := r.URL.Query()
		limit, err := queryLimit(q)
		if err != nil {
			return err
		}
		since, err := queryTime(q, "since")
		if err != nil {
			return err
		}
		until, err := queryTime(q, "until")
		if err != nil {
			return err
		}
		page, err := s.svc.Audit(r.Context(), auth.AuditFilter{
			UserID: q.Get("user_id"), Type: q.Get("type"), Since: since, Until: until,
			Cursor: q.Get("cursor"), Limit: limit,
		})
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, wire.NewEvents(page))
		return nil
	}
}
