package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/wire"
)

// Passkeys (api.md "Second factors"): registration and login ceremonies,
// renaming and removing. A ceremony's begin answers the options for
// navigator.credentials.create or .get (as their publicKey member) with a
// challenge_id; its finish sends the challenge_id back with the browser's
// PublicKeyCredential as JSON (its toJSON()).

type passkeyRegisterBeginRequest struct {
	Password string `json:"password"`
	Code     string `json:"code"` // when the account has a second factor
}

func (q passkeyRegisterBeginRequest) check() error { return required("password", q.Password) }

type passkeyRegisterFinishRequest struct {
	ChallengeID string          `json:"challenge_id"`
	Name        string          `json:"name"`
	Credential  json.RawMessage `json:"credential"`
}

func (q passkeyRegisterFinishRequest) check() error {
	if err := required("challenge_id", q.ChallengeID); err != nil {
		return err
	}
	return credentialRequired(q.Credential)
}

type passkeyRenameRequest struct {
	Name string `json:"name"`
}

func (q passkeyRenameRequest) check() error { return required("name", q.Name) }
func (passkeyRenameRequest) readOnlyFields() []string {
	return []string{"id", "created_at", "last_used_at"}
}

type passkeyLoginBeginRequest struct {
	MFAToken string `json:"mfa_token"`
}

type passkeyLoginFinishRequest struct {
	ChallengeID string          `json:"challenge_id"`
	Credential  json.RawMessage `json:"credential"`
	MFAToken    string          `json:"mfa_token"`
}

func (q passkeyLoginFinishRequest) check() error {
	if err := required("challenge_id", q.ChallengeID); err != nil {
		return err
	}
	return credentialRequired(q.Credential)
}

// credentialRequired refuses a missing credential, or one that is not a
// JSON object (the PublicKeyCredential's toJSON()).
func credentialRequired(c json.RawMessage) error {
	t := bytes.TrimSpace(c)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return badRequest(`field "credential" is required`)
	}
	if t[0] != '{' {
		return badRequest(`field "credential" must be a JSON object: the PublicKeyCredential's toJSON()`)
	}
	return nil
}

type passkeyCeremonyBody struct {
	ChallengeID string          `json:"challenge_id"`
	PublicKey   json.RawMessage `json:"publicKey"`
}

type passkeyAddedBody struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	CreatedAt     string   `json:"created_at"`
	RecoveryCodes []string `json:"recovery_codes,omitempty"`
}

func writeCeremony(w http.ResponseWriter, c *auth.PasskeyCeremony) {
	noStore(w)
	encode(w, http.StatusOK, passkeyCeremonyBody{ChallengeID: c.ChallengeID, PublicKey: c.Options})
}

func newPasskeyBody(f *auth.Factor) passkeyBody {
	return passkeyBody{ID: f.ID, Name: f.Name, CreatedAt: wire.Time(f.CreatedAt), LastUsedAt: wire.Time(f.LastUsedAt)}
}

// handlePasskeyRegisterBegin answers creation options for a new passkey.
func (s *server) handlePasskeyRegisterBegin() authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		q, err := decode[passkeyRegisterBeginRequest](w, r)
		if err != nil {
			return err
		}
		c, err := s.svc.BeginPasskeyRegistration(r.Context(), p, q.Password, q.Code)
		if err != nil {
			return err
		}
		writeCeremony(w, c)
		return nil
	}
}

// handlePasskeyRegisterFinish stores the new passkey.
func (s *server) handlePasskeyRegisterFinish() authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		q, err := decode[passkeyRegisterFinishRequest](w, r)
		if err != nil {
			return err
		}
		a, err := s.svc.FinishPasskeyRegistration(r.Context(), p, q.ChallengeID, q.Name, q.Credential)
		if err != nil {
			return err
		}
		noStore(w)
		encode(w, http.StatusCreated, passkeyAddedBody{ID: a.Passkey.ID, Name: a.Passkey.Name,
			CreatedAt: wire.Time(a.Passkey.CreatedAt), RecoveryCodes: a.RecoveryCodes})
		return nil
	}
}

// handlePasskeyRename renames a passkey.
func (s *server) handlePasskeyRename() authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		q, err := decode[passkeyRenameRequest](w, r)
		if err != nil {
			return err
		}
		f, err := s.svc.RenamePasskey(r.Context(), p, r.PathValue("id"), q.Name)
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, newPasskeyBody(f))
		return nil
	}
}

// handlePasskeyDelete removes a passkey.
func (s *server) handlePasskeyDelete() authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		q, err := decode[passkeyRegisterBeginRequest](w, r)
		if err != nil {
			return err
		}
		if err := s.svc.DeletePasskey(r.Context(), p, r.PathValue("id"), q.Password, q.Code); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// handlePasskeyLoginBegin answers request options: for a passwordless
// login ({}) or a login's second factor ({mfa_token}).
func (s *server) handlePasskeyLoginBegin() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		q, err := decodeOptional[passkeyLoginBeginRequest](w, r)
		if err != nil {
			return err
		}
		c, err := s.svc.BeginPasskeyLogin(r.Context(), q.MFAToken)
		if err != nil {
			return err
		}
		writeCeremony(w, c)
		return nil
	})
}

// handlePasskeyLoginFinish verifies the assertion and answers tokens.
func (s *server) handlePasskeyLoginFinish() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		q, err := decode[passkeyLoginFinishRequest](w, r)
		if err != nil {
			return err
		}
		p, err := s.svc.FinishPasskeyLogin(r.Context(), q.ChallengeID, q.Credential, q.MFAToken)
		if err != nil {
			return err
		}
		writeTokens(w, http.StatusOK, p)
		return nil
	})
}

type passkeyStepUpFinishRequest struct {
	ChallengeID string          `json:"challenge_id"`
	Credential  json.RawMessage `json:"credential"`
}

func (q passkeyStepUpFinishRequest) check() error {
	if err := required("challenge_id", q.ChallengeID); err != nil {
		return err
	}
	return credentialRequired(q.Credential)
}

type stepUpCodeBody struct {
	Code string `json:"code"`
}

// handlePasskeyStepUpBegin answers request options for proving a passkey
// of the caller's account before a sensitive change.
func (s *server) handlePasskeyStepUpBegin() authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		if _, err := decodeOptional[emptyRequest](w, r); err != nil {
			return err
		}
		c, err := s.svc.BeginPasskeyStepUp(r.Context(), p)
		if err != nil {
			return err
		}
		writeCeremony(w, c)
		return nil
	}
}

// handlePasskeyStepUpFinish verifies the assertion and answers the code
// to send as "code" with the sensitive change.
func (s *server) handlePasskeyStepUpFinish() authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		q, err := decode[passkeyStepUpFinishRequest](w, r)
		if err != nil {
			return err
		}
		code, err := s.svc.FinishPasskeyStepUp(r.Context(), p, q.ChallengeID, q.Credential)
		if err != nil {
			return err
		}
		noStore(w)
		encode(w, http.StatusOK, stepUpCodeBody{Code: code})
		return nil
	}
}
