package pages

// The account's security page: second factors for people, without
// writing a client.
//
//	GET  /account/security                         TOTP state, passkeys, recovery codes left
//	POST /account/security/totp                    enrol (password[, code]): QR + secret + code field
//	POST /account/security/totp/confirm            the app's first code: the recovery codes, once
//	POST /account/security/totp/disable            password + code
//	POST /account/security/recovery-codes          password + code: a new set, once
//	POST /account/security/passkeys/begin          (script) creation options, JSON
//	POST /account/security/passkeys/finish         (script) the new passkey, JSON
//	POST /account/security/passkeys/{id}/rename    name
//	POST /account/security/passkeys/{id}/delete    password[ + code]
//	POST /account/security/step-up/begin           (script) a passkey instead of a code:
//	POST /account/security/step-up/finish          a one-time code for the forms' code field
//
// Every route needs the browser session cookie (the hosted login's); the
// page itself sends a browser without one to /login, which returns here.
// Every POST, the script's included, is a form body checked against CSRF
// like the other pages' forms. The rules (step-up, single-use codes,
// challenges bound to the session) are the service's: the browser session
// acts as a principal (auth.BrowserPrincipal).
//
// The page runs one small inline script (passkey registration), allowed
// by a nonce new in every answer; nothing else may run.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// Paths of the account's security page.
const (
	PathAccountSecurity = "/account/security"
)

// AccountService is what the security page needs; *auth.Service has it.
type AccountService interface {
	OIDCService
	MFAStatus(ctx context.Context, p *auth.Principal) (*auth.MFAStatus, error)
	EnrolTOTP(ctx context.Context, p *auth.Principal, password, code string) (*auth.TOTPEnrolment, error)
	ConfirmTOTP(ctx context.Context, p *auth.Principal, code string) ([]string, error)
	DisableTOTP(ctx context.Context, p *auth.Principal, password, code string) error
	RegenerateRecoveryCodes(ctx context.Context, p *auth.Principal, password, code string) ([]string, error)
	BeginPasskeyRegistration(ctx context.Context, p *auth.Principal, password, code string) (*auth.PasskeyCeremony, error)
	FinishPasskeyRegistration(ctx context.Context, p *auth.Principal, challengeID, name string, credential []byte) (*auth.PasskeyAdded, error)
	RenamePasskey(ctx context.Context, p *auth.Principal, id, name string) (*auth.Factor, error)
	DeletePasskey(ctx context.Context, p *auth.Principal, id, password, code string) error
	BeginPasskeyStepUp(ctx context.Context, p *auth.Principal) (*auth.PasskeyCeremony, error)
	FinishPasskeyStepUp(ctx context.Context, p *auth.Principal, challengeID string, credential []byte) (string, error)
	BeginPasskeyLogin(ctx context.Context, mfaToken string) (*auth.PasskeyCeremony, error)
	BrowserPasskeyLogin(ctx context.Context, challengeID string, credential []byte, mfaToken string) (*auth.BrowserSignIn, error)
}

var _ AccountService = (*auth.Service)(nil)

// passkeyRow is a passkey as the page lists it.
type passkeyRow struct {
	ID, Name, Created, LastUsed string
}

// accountView is what the security page's template sees.
type accountView struct {
	view
	Nonce        string
	TOTP         bool
	HasFactor    bool
	Passkeys     []passkeyRow
	RecoveryLeft int
	// Enrolment in progress: the QR code and the secret.
	QR     template.URL
	Secret string
	// Codes are new recovery codes, shown once.
	Codes  []string
	Notice string
}

func (h *handler) addAccount(mux *http.ServeMux) {
	h.pages["account_security"] = parsePage("account_security")
	p := PathAccountSecurity
	mux.HandleFunc("GET "+p, h.withAccount(h.securityPage))
	mux.HandleFunc("POST "+p+"/totp", h.withAccount(h.accountForm(h.enrolTOTP)))
	mux.HandleFunc("POST "+p+"/totp/confirm", h.withAccount(h.accountForm(h.confirmTOTP)))
	mux.HandleFunc("POST "+p+"/totp/disable", h.withAccount(h.accountForm(h.disableTOTP)))
	mux.HandleFunc("POST "+p+"/recovery-codes", h.withAccount(h.accountForm(h.newRecoveryCodes)))
	mux.HandleFunc("POST "+p+"/passkeys/{id}/rename", h.withAccount(h.accountForm(h.renamePasskey)))
	mux.HandleFunc("POST "+p+"/passkeys/{id}/delete", h.withAccount(h.accountForm(h.deletePasskey)))
	mux.HandleFunc("POST "+p+"/passkeys/begin", h.withAccount(h.passkeyRegisterBegin))
	mux.HandleFunc("POST "+p+"/passkeys/finish", h.withAccount(h.passkeyRegisterFinish))
	mux.HandleFunc("POST "+p+"/step-up/begin", h.withAccount(h.stepUpBegin))
	mux.HandleFunc("POST "+p+"/step-up/finish", h.withAccount(h.stepUpFinish))
	mux.HandleFunc("POST "+PathLoginPasskeyBegin, h.withAccount(h.passkeyLoginBegin))
	mux.HandleFunc("POST "+PathLoginPasskeyFinish, h.withAccount(h.passkeyLoginFinish))
}

func (h *handler) withAccount(f func(w http.ResponseWriter, r *http.Request, svc AccountService)) http.HandlerFunc {
	return withService(h, f)
}

// newNonce is a script nonce: 16 random bytes.
func newNonce() string {
	var raw [16]byte
	rand.Read(raw[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// allowScript lets the answer's inline scripts with nonce run and fetch
// from latch itself, on top of the CSP already set (allowFormTarget's
// widening included).
func allowScript(w http.ResponseWriter, nonce string, dataImages bool) {
	c := w.Header().Get("Content-Security-Policy")
	c = strings.Replace(c, "default-src 'none';", "default-src 'none'; script-src 'nonce-"+nonce+"'; connect-src 'self';", 1)
	if dataImages {
		c = strings.Replace(c, "img-src 'self'", "img-src 'self' data:", 1)
	}
	w.Header().Set("Content-Security-Policy", c)
}

// signInFirst sends a browser without a session to the login page, which
// returns it to the security page.
func (h *handler) signInFirst(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, h.base+PathLogin+"?redirect_to="+h.base+PathAccountSecurity, http.StatusSeeOther)
}

// principal is the browser session's principal, or nil when there is no
// session (having answered nothing) or on an error (having answered).
func (h *handler) principal(w http.ResponseWriter, r *http.Request, svc AccountService) (*auth.Principal, bool) {
	b, u, err := h.browserSession(r, svc)
	if err != nil {
		h.failure(w, r, "account session", err)
		return nil, false
	}
	if b == nil {
		return nil, true
	}
	return auth.BrowserPrincipal(b, u), true
}

func (h *handler) securityPage(w http.ResponseWriter, r *http.Request, svc AccountService) {
	p, ok := h.principal(w, r, svc)
	if !ok {
		return
	}
	if p == nil {
		h.signInFirst(w, r)
		return
	}
	h.renderAccount(w, r, svc, p, http.StatusOK, accountView{})
}

// renderAccount shows the page with the account's current factors.
func (h *handler) renderAccount(w http.ResponseWriter, r *http.Request, svc AccountService, p *auth.Principal, status int, v accountView) {
	st, err := svc.MFAStatus(r.Context(), p)
	if err != nil {
		h.failure(w, r, "account status", err)
		return
	}
	v.Title = "Security"
	v.CSRF = h.csrfToken(w, r)
	v.Email = p.User.Email
	v.TOTP, v.RecoveryLeft = st.TOTP, st.RecoveryCodesLeft
	v.HasFactor = st.TOTP || len(st.Passkeys) > 0
	for _, f := range st.Passkeys {
		row := passkeyRow{ID: f.ID, Name: f.Name, Created: day(f.CreatedAt), LastUsed: "never"}
		if !f.LastUsedAt.IsZero() {
			row.LastUsed = day(f.LastUsedAt)
		}
		v.Passkeys = append(v.Passkeys, row)
	}
	v.Nonce = newNonce()
	v.Product, v.CSS, v.Base = h.product, h.css, h.base
	var buf bytes.Buffer
	if err := h.pages["account_security"].ExecuteTemplate(&buf, "base", v); err != nil {
		h.log.Error("pages: render", "page", "account_security", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	allowScript(w, v.Nonce, v.QR != "")
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func day(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") }

// accountForm reads a CSRF-checked form of a signed-in browser, then
// runs f; a browser without a session signs in first.
func (h *handler) accountForm(f func(w http.ResponseWriter, r *http.Request, svc AccountService, p *auth.Principal)) func(http.ResponseWriter, *http.Request, AccountService) {
	return func(w http.ResponseWriter, r *http.Request, svc AccountService) {
		if !h.readForm(w, r, view{Link: h.base + PathAccountSecurity, LinkText: "Open the security page again"}) {
			return
		}
		p, ok := h.principal(w, r, svc)
		if !ok {
			return
		}
		if p == nil {
			h.signInFirst(w, r)
			return
		}
		f(w, r, svc, p)
	}
}

// accountMistake is the page's wording of a client's mistake, with its
// status; "" for an error that is not one.
func accountMistake(err error) (string, int) {
	var ae *auth.Error
	if !errors.As(err, &ae) {
		return "", 0
	}
	switch ae.Code {
	case auth.CodeMFARequired:
		return "Your account has a second factor: enter a current code from your authenticator app, or a recovery code.", http.StatusUnprocessableEntity
	case auth.CodeInvalidCredentials:
		return sentence(ae.Message), http.StatusUnauthorized
	case auth.CodeMFAAlreadyEnabled, auth.CodeInvalidRequest:
		return sentence(ae.Message), http.StatusUnprocessableEntity
	case auth.CodeNotFound:
		return sentence(ae.Message), http.StatusNotFound
	case auth.CodeInvalidBearer:
		return "You are signed out. Sign in again, then retry.", http.StatusUnauthorized
	case auth.CodeInvalidToken:
		// A ceremony's challenge: unknown, used, expired or another
		// session's.
		return "That took too long or was already done. Start again.", http.StatusBadRequest
	}
	return "", 0
}

// accountFailed shows the page again with the mistake, or the failure
// page.
func (h *handler) accountFailed(w http.ResponseWriter, r *http.Request, svc AccountService, p *auth.Principal, what string, err error) {
	if msg, status := accountMistake(err); msg != "" {
		h.renderAccount(w, r, svc, p, status, accountView{view: view{Error: msg}})
		return
	}
	h.failure(w, r, what, err)
}

func formCode(r *http.Request) string { return strings.TrimSpace(r.PostForm.Get("code")) }

func (h *handler) enrolTOTP(w http.ResponseWriter, r *http.Request, svc AccountService, p *auth.Principal) {
	pw := r.PostForm.Get("password")
	if pw == "" {
		h.renderAccount(w, r, svc, p, http.StatusUnprocessableEntity, accountView{view: view{Error: "Enter your password."}})
		return
	}
	e, err := svc.EnrolTOTP(r.Context(), p, pw, formCode(r))
	if err != nil {
		h.accountFailed(w, r, svc, p, "enrol totp", err)
		return
	}
	h.renderAccount(w, r, svc, p, http.StatusOK, accountView{Secret: e.Secret,
		QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QRPNG))})
}

func (h *handler) confirmTOTP(w http.ResponseWriter, r *http.Request, svc AccountService, p *auth.Principal) {
	c := formCode(r)
	if c == "" {
		h.renderAccount(w, r, svc, p, http.StatusUnprocessableEntity, accountView{view: view{Error: "Enter the code your authenticator app shows. Start again if you no longer see the QR code."}})
		return
	}
	codes, err := svc.ConfirmTOTP(r.Context(), p, c)
	if err != nil {
		h.accountFailed(w, r, svc, p, "confirm totp", err)
		return
	}
	h.renderAccount(w, r, svc, p, http.StatusOK, accountView{Codes: codes,
		Notice: "Your authenticator app is on. Keep these recovery codes somewhere safe: each works once, and they are not shown again."})
}

func (h *handler) disableTOTP(w http.ResponseWriter, r *http.Request, svc AccountService, p *auth.Principal) {
	if r.PostForm.Get("password") == "" || formCode(r) == "" {
		h.renderAccount(w, r, svc, p, http.StatusUnprocessableEntity, accountView{view: view{Error: "Enter your password and a current code."}})
		return
	}
	if err := svc.DisableTOTP(r.Context(), p, r.PostForm.Get("password"), formCode(r)); err != nil {
		h.accountFailed(w, r, svc, p, "disable totp", err)
		return
	}
	h.renderAccount(w, r, svc, p, http.StatusOK, accountView{Notice: "Your authenticator app is off."})
}

func (h *handler) newRecoveryCodes(w http.ResponseWriter, r *http.Request, svc AccountService, p *auth.Principal) {
	if r.PostForm.Get("password") == "" || formCode(r) == "" {
		h.renderAccount(w, r, svc, p, http.StatusUnprocessableEntity, accountView{view: view{Error: "Enter your password and a current code."}})
		return
	}
	codes, err := svc.RegenerateRecoveryCodes(r.Context(), p, r.PostForm.Get("password"), formCode(r))
	if err != nil {
		h.accountFailed(w, r, svc, p, "recovery codes", err)
		return
	}
	h.renderAccount(w, r, svc, p, http.StatusOK, accountView{Codes: codes,
		Notice: "Your new recovery codes: the old ones no longer work. Keep these somewhere safe; they are not shown again."})
}

func (h *handler) renamePasskey(w http.ResponseWriter, r *http.Request, svc AccountService, p *auth.Principal) {
	if _, err := svc.RenamePasskey(r.Context(), p, r.PathValue("id"), r.PostForm.Get("name")); err != nil {
		h.accountFailed(w, r, svc, p, "rename passkey", err)
		return
	}
	h.renderAccount(w, r, svc, p, http.StatusOK, accountView{Notice: "The passkey was renamed."})
}

func (h *handler) deletePasskey(w http.ResponseWriter, r *http.Request, svc AccountService, p *auth.Principal) {
	if r.PostForm.Get("password") == "" {
		h.renderAccount(w, r, svc, p, http.StatusUnprocessableEntity, accountView{view: view{Error: "Enter your password to remove a passkey."}})
		return
	}
	if err := svc.DeletePasskey(r.Context(), p, r.PathValue("id"), r.PostForm.Get("password"), formCode(r)); err != nil {
		h.accountFailed(w, r, svc, p, "delete passkey", err)
		return
	}
	h.renderAccount(w, r, svc, p, http.StatusOK, accountView{Notice: "The passkey was removed."})
}

// The script's endpoints answer JSON: {"error": "..."} with a 4xx for a
// mistake, which the script shows as it is.

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

type jsonError struct {
	Error string `json:"error"`
}

// scriptForm is accountForm for the script: the same checks, answered in
// JSON.
func (h *handler) scriptForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, jsonError{"The request could not be read."})
		return false
	}
	if !h.sameOrigin(r) || !h.csrfOK(r) {
		writeJSON(w, http.StatusForbidden, jsonError{"For your security, the request was refused: open the page again and retry."})
		return false
	}
	return true
}

// scriptFailed answers a service error to the script.
func (h *handler) scriptFailed(w http.ResponseWriter, r *http.Request, what string, err error) {
	if msg, status := accountMistake(err); msg != "" {
		writeJSON(w, status, jsonError{msg})
		return
	}
	switch code(err) {
	case auth.CodeRateLimited:
		writeJSON(w, http.StatusTooManyRequests, jsonError{"Too many attempts. Please wait a minute, then try again."})
	case auth.CodeAccountDisabled:
		writeJSON(w, http.StatusForbidden, jsonError{"This account is disabled."})
	case auth.CodeEmailNotConfirmed:
		writeJSON(w, http.StatusForbidden, jsonError{"Confirm your email address first: open the link we sent you."})
	case auth.CodeUnavailable:
		writeJSON(w, http.StatusServiceUnavailable, jsonError{"The service is briefly unavailable. Please try again in a moment."})
	default:
		h.log.ErrorContext(r.Context(), "pages: "+what+" failed", "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusInternalServerError, jsonError{"Something went wrong. Please try again later."})
	}
}

// scriptAccount is scriptForm then scriptPrincipal: a signed-in page
// script's call. Nil when it was answered.
func (h *handler) scriptAccount(w http.ResponseWriter, r *http.Request, svc AccountService) *auth.Principal {
	if !h.scriptForm(w, r) {
		return nil
	}
	return h.scriptPrincipal(w, r, svc)
}

// scriptCredential is the passkey a page script sends back at the end of
// a ceremony; false when there is none (answered 400).
func scriptCredential(w http.ResponseWriter, r *http.Request) (challengeID string, cred []byte, ok bool) {
	c := r.PostForm.Get("credential")
	if r.PostForm.Get("challenge_id") == "" || !strings.HasPrefix(strings.TrimSpace(c), "{") {
		writeJSON(w, http.StatusBadRequest, jsonError{"The browser sent no passkey."})
		return "", nil, false
	}
	return r.PostForm.Get("challenge_id"), []byte(c), true
}

// scriptPrincipal is principal for the script: 401 JSON without a session.
func (h *handler) scriptPrincipal(w http.ResponseWriter, r *http.Request, svc AccountService) *auth.Principal {
	b, u, err := h.browserSession(r, svc)
	if err != nil {
		h.scriptFailed(w, r, "account session", err)
		return nil
	}
	if b == nil {
		writeJSON(w, http.StatusUnauthorized, jsonError{"You are signed out. Sign in again, then retry."})
		return nil
	}
	return auth.BrowserPrincipal(b, u)
}

type ceremonyJSON struct {
	ChallengeID string          `json:"challenge_id"`
	PublicKey   json.RawMessage `json:"publicKey"`
}

func (h *handler) passkeyRegisterBegin(w http.ResponseWriter, r *http.Request, svc AccountService) {
	p := h.scriptAccount(w, r, svc)
	if p == nil {
		return
	}
	if r.PostForm.Get("password") == "" {
		writeJSON(w, http.StatusUnprocessableEntity, jsonError{"Enter your password to add a passkey."})
		return
	}
	c, err := svc.BeginPasskeyRegistration(r.Context(), p, r.PostForm.Get("password"), formCode(r))
	if err != nil {
		h.scriptFailed(w, r, "passkey register begin", err)
		return
	}
	writeJSON(w, http.StatusOK, ceremonyJSON{ChallengeID: c.ChallengeID, PublicKey: c.Options})
}

func (h *handler) passkeyRegisterFinish(w http.ResponseWriter, r *http.Request, svc AccountService) {
	p := h.scriptAccount(w, r, svc)
	if p == nil {
		return
	}
	challengeID, cred, ok := scriptCredential(w, r)
	if !ok {
		return
	}
	added, err := svc.FinishPasskeyRegistration(r.Context(), p, challengeID, r.PostForm.Get("name"), cred)
	if err != nil {
		h.scriptFailed(w, r, "passkey register finish", err)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		ID            string   `json:"id"`
		Name          string   `json:"name"`
		RecoveryCodes []string `json:"recovery_codes,omitempty"`
	}{added.Passkey.ID, added.Passkey.Name, added.RecoveryCodes})
}

// A passkey can stand in for the forms' code: the script proves one and
// fills the code fields with the one-time code the service answers (bound
// to this browser session, 5 minutes, one change).

func (h *handler) stepUpBegin(w http.ResponseWriter, r *http.Request, svc AccountService) {
	p := h.scriptAccount(w, r, svc)
	if p == nil {
		return
	}
	c, err := svc.BeginPasskeyStepUp(r.Context(), p)
	if err != nil {
		h.scriptFailed(w, r, "passkey step-up begin", err)
		return
	}
	writeJSON(w, http.StatusOK, ceremonyJSON{ChallengeID: c.ChallengeID, PublicKey: c.Options})
}

func (h *handler) stepUpFinish(w http.ResponseWriter, r *http.Request, svc AccountService) {
	p := h.scriptAccount(w, r, svc)
	if p == nil {
		return
	}
	challengeID, cred, ok := scriptCredential(w, r)
	if !ok {
		return
	}
	c, err := svc.FinishPasskeyStepUp(r.Context(), p, challengeID, cred)
	if err != nil {
		if code(err) == auth.CodeInvalidToken {
			writeJSON(w, http.StatusBadRequest, jsonError{"That took too long. Try again."})
			return
		}
		h.scriptFailed(w, r, "passkey step-up finish", err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Code string `json:"code"`
	}{c})
}
