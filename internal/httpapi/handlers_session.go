package httpapi

import (
	"net/http"

	"github.com/latchauth/latch/internal/auth"

	"github.com/latchauth/latch/internal/wire"
)

// handleLogin answers a token answer for the right email and password.
func (s *server) handleLogin() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		q, err := decode[loginRequest](w, r)
		if err != nil {
			return err
		}
		p, err := s.svc.Login(r.Context(), q.Email, q.Password)
		if err != nil {
			return err
		}
		writeTokens(w, http.StatusOK, p)
		return nil
	})
}

// handleRefresh rotates a refresh token.
func (s *server) handleRefresh() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		q, err := decode[refreshRequest](w, r)
		if err != nil {
			return err
		}
		p, err := s.svc.Refresh(r.Context(), q.RefreshToken)
		if err != nil {
			return err
		}
		writeTokens(w, http.StatusOK, p)
		return nil
	})
}

// handleLogout ends the caller's session (and the refresh token's, if given).
func (s *server) handleLogout() authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		q, err := decodeOptional[logoutRequest](w, r)
		if err != nil {
			return err
		}
		if err := s.svc.Logout(r.Context(), p, q.RefreshToken); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// handleLogoutAll ends every session of the caller.
func (s *server) handleLogoutAll() authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		if _, err := decodeOptional[emptyRequest](w, r); err != nil {
			return err
		}
		if err := s.svc.LogoutAll(r.Context(), p); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// handleSessions lists the caller's live sessions.
func (s *server) handleSessions() authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		list, err := s.svc.Sessions(r.Context(), p)
		if err != nil {
			return err
		}
		out := sessionsBody{Sessions: make([]sessionBody, 0, len(list))}
		for _, x := range list {
			out.Sessions = append(out.Sessions, sessionBody{
				ID:         x.ID,
				CreatedAt:  wire.Time(x.CreatedAt),
				LastUsedAt: wire.Time(x.LastUsedAt),
				UserAgent:  x.UserAgent,
				IP:         x.IP,
				Current:    x.ID == p.SessionID,
			})
		}
		encode(w, http.StatusOK, out)
		return nil
	}
}

// handleEndSession ends one of the caller's sessions.
func (s *server) handleEndSession() authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		if err := s.svc.EndSession(r.Context(), p, r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
