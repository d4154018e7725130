package httpapi

// Registered OAuth clients in the admin API: /admin/v1/clients.

import (
	"net/http"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/wire"
)

type createClientRequest struct {
	Name                   string   `json:"name"`
	Type                   string   `json:"type"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	GrantTypes             []string `json:"grant_types"`
}

func (q createClientRequest) check() error {
	return required("name", q.Name, "type", q.Type)
}

// A misspelt field of a registration ("redirect_uri") must not register a
// client without it: unknown fields are refused.
func (createClientRequest) readOnlyFields() []string {
	return []string{"client_id", "client_secret", "created_at", "updated_at"}
}

type patchClientRequest struct {
	Name                   *string   `json:"name"`
	RedirectURIs           *[]string `json:"redirect_uris"`
	PostLogoutRedirectURIs *[]string `json:"post_logout_redirect_uris"`
	GrantTypes             *[]string `json:"grant_types"`
}

func (patchClientRequest) readOnlyFields() []string {
	return []string{"client_id", "client_secret", "type", "created_at", "updated_at"}
}

func (s *server) handleAdminCreateClient() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		q, err := decode[createClientRequest](w, r)
		if err != nil {
			return err
		}
		c, secret, err := s.svc.AdminCreateClient(r.Context(), actor, auth.NewClient{
			Name: q.Name, Type: q.Type, RedirectURIs: q.RedirectURIs,
			PostLogoutRedirectURIs: q.PostLogoutRedirectURIs, GrantTypes: q.GrantTypes,
		})
		if err != nil {
			return err
		}
		out := wire.NewClient(c)
		out.ClientSecret = secret
		w.Header().Set("Location", "/admin/v1/clients/"+c.ID)
		encode(w, http.StatusCreated, out)
		return nil
	}
}

func (s *server) handleAdminListClients() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, _ string) error {
		cs, err := s.svc.AdminClients(r.Context())
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, wire.NewClients(cs))
		return nil
	}
}

func (s *server) handleAdminGetClient() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, _ string) error {
		c, err := s.svc.AdminClient(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, wire.NewClient(c))
		return nil
	}
}

func (s *server) handleAdminPatchClient() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		q, err := decode[patchClientRequest](w, r)
		if err != nil {
			return err
		}
		c, err := s.svc.AdminUpdateClient(r.Context(), actor, r.PathValue("id"), auth.ClientPatch{
			Name: q.Name, RedirectURIs: q.RedirectURIs,
			PostLogoutRedirectURIs: q.PostLogoutRedirectURIs, GrantTypes: q.GrantTypes,
		})
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, wire.NewClient(c))
		return nil
	}
}

// rotateSecretRequest is the optional body of a secret rotation: how long
// the secret it replaces stays accepted (absent or 0: not at all).
type rotateSecretRequest struct {
	PreviousSecretValidFor int64 `json:"previous_secret_valid_for"`
}

// A misspelt field must not rotate with no overlap (and end the secret
// the app still uses): unknown fields are refused.
func (rotateSecretRequest) readOnlyFields() []string { return nil }

func (s *server) handleAdminRotateClientSecret() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		q, err := decodeOptional[rotateSecretRequest](w, r)
		if err != nil {
			return err
		}
		overlap := time.Duration(q.PreviousSecretValidFor) * time.Second
		if q.PreviousSecretValidFor < 0 || q.PreviousSecretValidFor > int64(auth.MaxSecretOverlap/time.Second) {
			overlap = -1 // refused by the service, with the range
		}
		c, secret, err := s.svc.AdminRotateClientSecret(r.Context(), actor, r.PathValue("id"), overlap)
		if err != nil {
			return err
		}
		out := wire.NewClient(c)
		out.ClientSecret = secret
		encode(w, http.StatusOK, out)
		return nil
	}
}

func (s *server) handleAdminDeleteClient() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		if err := s.svc.AdminDeleteClient(r.Context(), actor, r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
