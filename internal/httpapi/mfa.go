package httpapi

import (
	"context"
	"encoding/base64"
	"net/http"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/wire"
)

// Second factors (api.md "Second factors"): TOTP enrolment, recovery
// codes, the login's second step and the admin's reset. mfa_required
// answers carry their mfa_token as problem extension members (problem.go)
// or, on the token endpoint, beside the OAuth error (oauth.go).

// grantMFA is the OAuth grant that completes a password grant answered
// mfa_required.
const grantMFA = "urn:latch:params:oauth:grant-type:mfa"

type loginMFARequest struct {
	MFAToken     string `json:"mfa_token"`
	Code         string `json:"code"`
	RecoveryCode string `json:"recovery_code"`
}

func (q loginMFARequest) check() error {
	if err := required("mfa_token", q.MFAToken); err != nil {
		return err
	}
	switch {
	case q.Code == "" && q.RecoveryCode == "":
		return badRequest(`field "code" (from the authenticator app) or "recovery_code" is required`)
	case q.Code != "" && q.RecoveryCode != "":
		return badRequest(`send "code" or "recovery_code", not both`)
	}
	return nil
}

type enrolTOTPRequest struct {
	Password string `json:"password"`
	Code     string `json:"code"` // when another factor is on
}

func (q enrolTOTPRequest) check() error { return required("password", q.Password) }

type codeRequest struct {
	Code string `json:"code"`
}

func (q codeRequest) check() error { return required("code", q.Code) }

// stepUpRequest is the body of factor changes: the password and a current
// code.
type stepUpRequest struct {
	Password string `json:"password"`
	Code     string `json:"code"`
}

func (q stepUpRequest) check() error { return required("password", q.Password, "code", q.Code) }

type totpEnrolmentBody struct {
	Secret     string `json:"secret"`
	OtpauthURL string `json:"otpauth_url"`
	QRPNG      string `json:"qr_png"`
}

type recoveryCodesBody struct {
	RecoveryCodes []string `json:"recovery_codes"`
}

type passkeyBody struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at"`
}

type mfaStatusBody struct {
	TOTP              bool          `json:"totp"`
	Passkeys          []passkeyBody `json:"passkeys"`
	RecoveryCodesLeft int           `json:"recovery_codes_left"`
}

func newMFAStatusBody(st *auth.MFAStatus) mfaStatusBody {
	out := mfaStatusBody{TOTP: st.TOTP, Passkeys: []passkeyBody{}, RecoveryCodesLeft: st.RecoveryCodesLeft}
	for _, f := range st.Passkeys {
		out.Passkeys = append(out.Passkeys, passkeyBody{ID: f.ID, Name: f.Name, CreatedAt: wire.Time(f.CreatedAt), LastUsedAt: wire.Time(f.LastUsedAt)})
	}
	return out
}

// noStore marks an answer that carries secrets (a TOTP secret, recovery
// codes) as not to be cached.
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

// handleLoginMFA completes a login answered mfa_required.
func (s *server) handleLoginMFA() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		q, err := decode[loginMFARequest](w, r)
		if err != nil {
			return err
		}
		p, err := s.svc.LoginMFA(r.Context(), q.MFAToken, q.Code, q.RecoveryCode)
		if err != nil {
			return err
		}
		writeTokens(w, http.StatusOK, p)
		return nil
	})
}

// oauthMFAGrant is the token endpoint's MFA grant: mfa_token with otp or
// recovery_code.
func (s *server) oauthMFAGrant(ctx context.Context, form map[string]string) (*auth.TokenPair, error) {
	if form["mfa_token"] == "" {
		return nil, oauthErr(http.StatusBadRequest, "invalid_request", "missing parameter mfa_token")
	}
	otp, rc, challenge, cred := form["otp"], form["recovery_code"], form["challenge_id"], form["credential"]
	sent := 0
	for _, v := range []string{otp, rc, challenge + cred} {
		if v != "" {
			sent++
		}
	}
	if sent != 1 {
		return nil, oauthErr(http.StatusBadRequest, "invalid_request",
			"send exactly one of otp, recovery_code, or challenge_id with credential (a passkey assertion)")
	}
	if challenge != "" || cred != "" {
		if challenge == "" || cred == "" {
			return nil, oauthErr(http.StatusBadRequest, "invalid_request", "a passkey needs both challenge_id and credential")
		}
		return s.svc.FinishPasskeyLogin(ctx, challenge, []byte(cred), form["mfa_token"])
	}
	return s.svc.LoginMFA(ctx, form["mfa_token"], otp, rc)
}

// handleMFAStatus lists the caller's factors.
func (s *server) handleMFAStatus() authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		st, err := s.svc.MFAStatus(r.Context(), p)
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, newMFAStatusBody(st))
		return nil
	}
}

// handleEnrolTOTP answers a new, pending TOTP secret.
func (s *server) handleEnrolTOTP() authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		q, err := decode[enrolTOTPRequest](w, r)
		if err != nil {
			return err
		}
		e, err := s.svc.EnrolTOTP(r.Context(), p, q.Password, q.Code)
		if err != nil {
			return err
		}
		noStore(w)
		encode(w, http.StatusOK, totpEnrolmentBody{Secret: e.Secret, OtpauthURL: e.OtpauthURL, QRPNG: base64.StdEncoding.EncodeToString(e.QRPNG)})
		return nil
	}
}

// handleConfirmTOTP activates the pending secret and answers the recovery
// codes, once.
func (s *server) handleConfirmTOTP() authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		q, err := decode[codeRequest](w, r)
		if err != nil {
			return err
		}
		codes, err := s.svc.ConfirmTOTP(r.Context(), p, q.Code)
		if err != nil {
			return err
		}
		noStore(w)
		encode(w, http.StatusOK, recoveryCodesBody{RecoveryCodes: codes})
		return nil
	}
}

// handleDisableTOTP turns the authenticator app off.
func (s *server) handleDisableTOTP() authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		q, err := decode[stepUpRequest](w, r)
		if err != nil {
			return err
		}
		if err := s.svc.DisableTOTP(r.Context(), p, q.Password, q.Code); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// handleRecoveryCodes answers a new set of recovery codes.
func (s *server) handleRecoveryCodes() authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		q, err := decode[stepUpRequest](w, r)
		if err != nil {
			return err
		}
		codes, err := s.svc.RegenerateRecoveryCodes(r.Context(), p, q.Password, q.Code)
		if err != nil {
			return err
		}
		noStore(w)
		encode(w, http.StatusOK, recoveryCodesBody{RecoveryCodes: codes})
		return nil
	}
}

// handleAdminMFA tells which factors a user has.
func (s *server) handleAdminMFA() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		st, err := s.svc.AdminMFA(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		encode(w, http.StatusOK, newMFAStatusBody(st))
		return nil
	}
}

// handleAdminResetMFA removes every factor of a user.
func (s *server) handleAdminResetMFA() adminFunc {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		if _, err := decodeOptional[emptyRequest](w, r); err != nil {
			return err
		}
		if err := s.svc.AdminResetMFA(r.Context(), actor, r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
