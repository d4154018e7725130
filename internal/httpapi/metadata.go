package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/wire"
)

// updateMeRequest is the body of PATCH /v1/me. Like the rest of the
// user's own API it ignores fields it does not take (app_metadata, roles:
// admins set those).
type updateMeRequest struct {
	// UserMetadata replaces the whole object; it is checked by the
	// service (a JSON object, at most auth.MaxMetadataSize bytes).
	UserMetadata json.RawMessage `json:"user_metadata"`
}

// check: a PATCH that sets nothing is most likely a misspelt field.
func (q updateMeRequest) check() error {
	if q.UserMetadata == nil {
		return badRequest(`field "user_metadata" is required`)
	}
	return nil
}

// handleUpdateMe sets the caller's user_metadata and answers the user
// object.
func (s *server) handleUpdateMe() authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		q, err := decode[updateMeRequest](w, r)
		if err != nil {
			return err
		}
		u, err := s.svc.UpdateUserMetadata(r.Context(), p, q.UserMetadata)
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, wire.NewUser(u))
		return nil
	}
}
