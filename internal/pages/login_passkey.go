package pages

// Signing in with a passkey on the hosted login page (and as the second
// step's factor). The page's script runs the WebAuthn ceremony through two
// form endpoints, CSRF-checked like every form, that answer JSON:
//
//	POST /login/passkey/begin    [mfa_token]  -> {challenge_id, publicKey}
//	POST /login/passkey/finish   challenge_id, credential (the
//	                             PublicKeyCredential's toJSON()),
//	                             [mfa_token], authorize or redirect_to
//	                             -> {"location": where to go}
//
// finish starts the browser session (the cookie) and, like the password
// form, names the application's redirect (with a code) or redirect_to.

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/latchauth/latch/internal/auth"
)

// Paths of the passkey sign-in endpoints.
const (
	PathLoginPasskeyBegin  = "/login/passkey/begin"
	PathLoginPasskeyFinish = "/login/passkey/finish"
)

// localPath reports whether v is a path on latch's own origin: one
// leading "/", not "//" or "/\" (which browsers read as another host),
// and nothing a browser might reinterpret.
func localPath(v string) bool {
	if !strings.HasPrefix(v, "/") || strings.HasPrefix(v, "//") || len(v) > 2048 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return false
		}
	}
	u, err := url.Parse(v)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil
}

func (h *handler) passkeyLoginBegin(w http.ResponseWriter, r *http.Request, svc AccountService) {
	if !h.scriptForm(w, r) {
		return
	}
	c, err := svc.BeginPasskeyLogin(r.Context(), r.PostForm.Get("mfa_token"))
	if err != nil {
		h.scriptLoginFailed(w, r, "passkey login begin", err)
		return
	}
	writeJSON(w, http.StatusOK, ceremonyJSON{ChallengeID: c.ChallengeID, PublicKey: c.Options})
}

func (h *handler) scriptLoginFailed(w http.ResponseWriter, r *http.Request, what string, err error) {
	switch code(err) {
	case auth.CodeInvalidCredentials:
		writeJSON(w, http.StatusUnauthorized, jsonError{"That passkey was not accepted. Try another, or sign in with your password."})
	case auth.CodeInvalidToken:
		writeJSON(w, http.StatusBadRequest, jsonError{"This sign-in took too long or was already completed. Open the sign-in page again."})
	default:
		h.scriptFailed(w, r, what, err)
	}
}

func (h *handler) passkeyLoginFinish(w http.ResponseWriter, r *http.Request, svc AccountService) {
	if !h.scriptForm(w, r) {
		return
	}
	challengeID, cred, ok := scriptCredential(w, r)
	if !ok {
		return
	}
	// Where to go, checked before the session starts.
	var (
		client *auth.Client
		req    *auth.AuthorizeRequest
		to     string
	)
	if raw := r.PostForm.Get("authorize"); raw != "" {
		var err error
		if req, err = auth.ParseAuthorizeQuery(raw); err == nil {
			var ae *auth.AuthorizeError
			client, ae, err = svc.CheckAuthorize(r.Context(), req)
			if err == nil && ae != nil {
				err = auth.Errorf(auth.CodeInvalidRequest, "%s", ae.Description)
			}
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, jsonError{"The application's sign-in request does not work any more. Go back to the application and try again."})
			return
		}
	} else {
		to = h.redirectTo(svc, r.PostForm.Get("redirect_to"))
	}
	in, err := svc.BrowserPasskeyLogin(r.Context(), challengeID, cred, r.PostForm.Get("mfa_token"))
	if err != nil {
		h.scriptLoginFailed(w, r, "passkey login finish", err)
		return
	}
	h.setSessionCookie(w, in)
	loc := to
	switch {
	case req != nil:
		c, err := svc.IssueCode(r.Context(), client, req, in.Session)
		if err != nil {
			h.scriptFailed(w, r, "issue code", err)
			return
		}
		params := url.Values{"code": {c}, "iss": {svc.Issuer()}}
		if req.State != "" {
			params.Set("state", req.State)
		}
		loc = withParams(req.RedirectURI, params)
	case loc == "":
		loc = h.base + PathAccountSecurity
	}
	writeJSON(w, http.StatusOK, struct {
		Location string `json:"location"`
	}{loc})
}
