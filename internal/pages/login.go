package pages

// The OpenID Provider's browser side: the authorization endpoint, the
// hosted login page with its second step, and RP-initiated logout.
//
//	GET  /oauth/authorize   checks the request; signs in through the
//	                        browser session or shows the login page
//	POST /oauth/authorize   the same, the request as a form
//	GET  /login             the login page (redirect_to: where to go after)
//	POST /login             email and password
//	POST /login/mfa         the second factor (TOTP or recovery code)
//	GET  /oauth/logout      RP-initiated logout (end_session_endpoint)
//	POST /oauth/logout      the same, confirmed by the user
//
// The login form carries the authorization request (or redirect_to) in a
// hidden field and checks it again when posted: nothing about the flow is
// kept on the server until the login succeeds. Then a browser session
// starts (a cookie on latch's origin: HttpOnly, SameSite=Lax, Secure on
// https; the server keeps only its hash) so that the next application
// signs in without the password, unless it asks prompt=login.

import (
	"bytes"
	"context"
	"errors"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/latchauth/latch/internal/auth"
)

// Paths of the OpenID Provider's pages.
const (
	PathAuthorize = auth.AuthorizePath
	PathLogin     = "/login"
	PathLoginMFA  = "/login/mfa"
	PathLogout    = "/oauth/logout"
)

// Cookie names of the browser session: the __Host- one when the public
// URL is https.
const (
	SessionCookie       = "latch_session"
	SessionCookieSecure = "__Host-latch_session"
)

// OIDCService is what the login and authorization pages need;
// *auth.Service has it. Without it (a Service that lacks it) they answer
// 404.
type OIDCService interface {
	Config() auth.Config
	Issuer() string
	RegisteredClient(ctx context.Context, id string) (*auth.Client, error)
	CheckAuthorize(ctx context.Context, r *auth.AuthorizeRequest) (*auth.Client, *auth.AuthorizeError, error)
	IssueCode(ctx context.Context, c *auth.Client, r *auth.AuthorizeRequest, b *auth.BrowserSession) (string, error)
	BrowserLogin(ctx context.Context, email, password string) (*auth.BrowserSignIn, error)
	BrowserLoginMFA(ctx context.Context, mfaToken, code, recovery string) (*auth.BrowserSignIn, error)
	BrowserSessionOf(ctx context.Context, cookie string) (*auth.BrowserSession, *auth.User, error)
	EndBrowserSession(ctx context.Context, b *auth.BrowserSession) error
	CheckIDTokenHint(tok string) (*auth.IDTokenHint, error)
}

var _ OIDCService = (*auth.Service)(nil)

// loginView is what the login, second-step and logout templates see.
type loginView struct {
	view
	ClientName string
	Authorize  string // the authorization request's query string
	RedirectTo string
	MFAToken   string
	TOTP       bool
	Recovery   bool
	// LinkRedirect is the redirect_to of the signup and forgot-password
	// links: RedirectTo when it is a listed URL (not one of latch's own
	// paths), or, in an authorization request, that request at latch's
	// own authorization endpoint, so that a new account or a new password
	// comes back into it.
	LinkRedirect string
	Passkey      bool   // the second step offers a passkey
	Nonce        string // of the passkey script; "" without one
	PostLogout   string
	ClientID     string
	State        string
}

// addOIDC registers the OpenID Provider's pages on mux.
func (h *handler) addOIDC(mux *http.ServeMux) {
	for _, name := range []string{"login", "login_mfa", "logout"} {
		t := parsePage(name)
		template.Must(t.ParseFS(templateFS, "templates/passkey_signin.html"))
		h.pages[name] = t
	}
	mux.HandleFunc("GET "+PathAuthorize, h.withOIDC(h.authorize))
	mux.HandleFunc("POST "+PathAuthorize, h.withOIDC(h.authorizePost))
	mux.HandleFunc("GET "+PathLogin, h.withOIDC(h.loginForm))
	mux.HandleFunc("POST "+PathLogin, h.withOIDC(h.login))
	mux.HandleFunc("POST "+PathLoginMFA, h.withOIDC(h.loginMFA))
	mux.HandleFunc("GET "+PathLogout, h.withOIDC(h.logout))
	mux.HandleFunc("POST "+PathLogout, h.withOIDC(h.logout))
}

func (h *handler) withOIDC(f func(w http.ResponseWriter, r *http.Request, svc OIDCService)) http.HandlerFunc {
	return withService(h, f)
}

// withService runs f with the handler's service as an S; a service
// without those methods (a build without that part) has no such page.
func withService[S any](h *handler, f func(w http.ResponseWriter, r *http.Request, svc S)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		svc, ok := h.svc.(S)
		if !ok {
			h.message(w, r, http.StatusNotFound, view{Title: "Page not found", Lines: []string{"There is no page at this address."}})
			return
		}
		f(w, r, svc)
	}
}

func (h *handler) renderLogin(w http.ResponseWriter, status int, page string, v loginView) {
	v.Product, v.CSS, v.Base = h.product, h.css, h.base
	switch {
	case v.Authorize != "":
		// A request too long to be a redirect_to (a huge state) keeps
		// plain links rather than links to an error page.
		if back := h.allow.PublicURL + auth.AuthorizePath + "?" + v.Authorize; h.redirectOK(back) {
			v.LinkRedirect = back
		}
	case !localPath(v.RedirectTo):
		v.LinkRedirect = v.RedirectTo
	}
	if _, ok := h.svc.(AccountService); ok && (page == "login" || v.Passkey) {
		v.Nonce = newNonce()
	}
	var buf bytes.Buffer
	if err := h.pages[page].ExecuteTemplate(&buf, "base", v); err != nil {
		h.log.Error("pages: render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if v.Nonce != "" {
		allowScript(w, v.Nonce, false)
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// allowFormTarget widens the page's form-action to where its form's
// answer redirects (browsers apply form-action to a form's redirects).
func allowFormTarget(w http.ResponseWriter, target string) {
	src := formSource(target)
	if src == "" {
		return
	}
	w.Header().Set("Content-Security-Policy", strings.Replace(CSP, "form-action 'self'", "form-action 'self' "+src, 1))
}

// formSource is the CSP source of target: its origin for http(s), its
// scheme for a native app's private-use scheme; "" when none is safe.
func formSource(target string) string {
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" {
		return ""
	}
	for _, c := range u.Scheme + u.Host {
		if c == ';' || c == ',' || c == '\'' || c <= ' ' || c == 0x7f {
			return ""
		}
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return ""
		}
		return strings.ToLower(u.Scheme) + "://" + u.Host
	}
	return strings.ToLower(u.Scheme) + ":"
}

func (h *handler) sessionCookieName() string {
	if h.secure {
		return SessionCookieSecure
	}
	return SessionCookie
}

// browserSession is the request's live browser session, if any.
func (h *handler) browserSession(r *http.Request, svc OIDCService) (*auth.BrowserSession, *auth.User, error) {
	c, err := r.Cookie(h.sessionCookieName())
	if err != nil || c.Value == "" {
		return nil, nil, nil
	}
	return svc.BrowserSessionOf(r.Context(), c.Value)
}

func (h *handler) setSessionCookie(w http.ResponseWriter, in *auth.BrowserSignIn) {
	http.SetCookie(w, &http.Cookie{
		Name:     h.sessionCookieName(),
		Value:    in.Cookie,
		Path:     "/",
		Expires:  in.Session.ExpiresAt,
		Secure:   h.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

func (h *handler) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: h.sessionCookieName(), Value: "", Path: "/", MaxAge: -1,
		Secure: h.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// badAuthorize is the error page of a request whose client or redirect
// URI cannot be trusted: never a redirect.
func (h *handler) badAuthorize(w http.ResponseWriter, r *http.Request, err error) {
	var ae *auth.Error
	if !errors.As(err, &ae) || ae.Code != auth.CodeInvalidRequest {
		h.failure(w, r, "authorize", err)
		return
	}
	h.message(w, r, http.StatusBadRequest, view{Title: "This sign-in link does not work",
		Lines: []string{sentence(ae.Message), "Go back to the application and try again; if it keeps happening, tell its developers."}})
}

// withParams returns base (a registered redirect URI, whose own query is
// kept) with params added.
func withParams(base string, params url.Values) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// authorizeRedirect sends the browser back to the client (RFC 6749
// §4.1.2, RFC 9207's iss).
func (h *handler) authorizeRedirect(w http.ResponseWriter, r *http.Request, svc OIDCService, req *auth.AuthorizeRequest, params url.Values) {
	if req.State != "" {
		params.Set("state", req.State)
	}
	params.Set("iss", svc.Issuer())
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, withParams(req.RedirectURI, params), status)
}

func (h *handler) authorizeError(w http.ResponseWriter, r *http.Request, svc OIDCService, req *auth.AuthorizeRequest, e *auth.AuthorizeError) {
	h.authorizeRedirect(w, r, svc, req, url.Values{"error": {e.Code}, "error_description": {e.Description}})
}

// issue answers a request approved by browser session b with a code.
func (h *handler) issue(w http.ResponseWriter, r *http.Request, svc OIDCService, c *auth.Client, req *auth.AuthorizeRequest, b *auth.BrowserSession) {
	code, err := svc.IssueCode(r.Context(), c, req, b)
	if err != nil {
		h.failure(w, r, "issue code", err)
		return
	}
	h.authorizeRedirect(w, r, svc, req, url.Values{"code": {code}})
}

// checkedAuthorize parses and checks an authorization request's query;
// when it reports false it has answered (an error page or an error
// redirect).
func (h *handler) checkedAuthorize(w http.ResponseWriter, r *http.Request, svc OIDCService, raw string) (*auth.Client, *auth.AuthorizeRequest, bool) {
	req, err := auth.ParseAuthorizeQuery(raw)
	if err != nil {
		h.badAuthorize(w, r, err)
		return nil, nil, false
	}
	c, ae, err := svc.CheckAuthorize(r.Context(), req)
	if err != nil {
		h.badAuthorize(w, r, err)
		return nil, nil, false
	}
	if ae != nil {
		h.authorizeError(w, r, svc, req, ae)
		return nil, nil, false
	}
	return c, req, true
}

// authorize is the authorization endpoint.
func (h *handler) authorize(w http.ResponseWriter, r *http.Request, svc OIDCService) {
	h.authorizeRequest(w, r, svc, r.URL.RawQuery)
}

// maxAuthorizeBody bounds a posted authorization request; the parser
// refuses one over 8 KiB with a clear message.
const maxAuthorizeBody = 16 << 10

// authorizePost is the authorization endpoint for a request sent as a
// form (OpenID Connect Core 3.1.2.1: the endpoint takes GET and POST):
// the same parameters, in an application/x-www-form-urlencoded body and
// not in the query. A cross-site POST carries no SameSite=Lax session
// cookie, so it shows the login page where a GET would sign in at once.
func (h *handler) authorizePost(w http.ResponseWriter, r *http.Request, svc OIDCService) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" || r.URL.RawQuery != "" {
		h.badAuthorize(w, r, auth.Errorf(auth.CodeInvalidRequest, "a posted request sends its parameters as an application/x-www-form-urlencoded body, and none in the address"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAuthorizeBody))
	if err != nil {
		h.badAuthorize(w, r, auth.Errorf(auth.CodeInvalidRequest, "the request is too long"))
		return
	}
	h.authorizeRequest(w, r, svc, string(body))
}

// authorizeRequest answers the authorization request raw (its
// parameters, URL-encoded).
func (h *handler) authorizeRequest(w http.ResponseWriter, r *http.Request, svc OIDCService, raw string) {
	c, req, ok := h.checkedAuthorize(w, r, svc, raw)
	if !ok {
		return
	}
	b, _, err := h.browserSession(r, svc)
	if err != nil {
		h.failure(w, r, "authorize", err)
		return
	}
	switch {
	case req.PromptNone() && b == nil:
		h.authorizeError(w, r, svc, req, &auth.AuthorizeError{Code: "login_required", Description: "the user is not signed in"})
	case b != nil && !req.PromptLogin():
		h.issue(w, r, svc, c, req, b)
	default:
		allowFormTarget(w, req.RedirectURI)
		h.renderLogin(w, http.StatusOK, "login", loginView{view: view{Title: "Sign in", CSRF: h.csrfToken(w, r)},
			ClientName: c.Name, Authorize: req.Query()})
	}
}

// redirectTo is the request's redirect_to when it is a path on latch's
// own origin (localPath) or LATCH_REDIRECT_URLS allows it, else "".
func (h *handler) redirectTo(svc OIDCService, v string) string {
	if v != "" && (localPath(v) || svc.Config().RedirectAllowed(v)) {
		return v
	}
	return ""
}

func (h *handler) loginForm(w http.ResponseWriter, r *http.Request, svc OIDCService) {
	to := h.redirectTo(svc, r.URL.Query().Get("redirect_to"))
	allowFormTarget(w, to)
	h.renderLogin(w, http.StatusOK, "login", loginView{view: view{Title: "Sign in", CSRF: h.csrfToken(w, r)}, RedirectTo: to})
}

// loginTarget is where a posted login goes once signed in: the
// authorization request (checked again: the form is the browser's) or
// redirect_to. When it reports false it has answered.
type loginTarget struct {
	client *auth.Client
	req    *auth.AuthorizeRequest
	to     string
}

func (h *handler) postedTarget(w http.ResponseWriter, r *http.Request, svc OIDCService) (loginTarget, bool) {
	if raw := r.PostForm.Get("authorize"); raw != "" {
		c, req, ok := h.checkedAuthorize(w, r, svc, raw)
		return loginTarget{client: c, req: req}, ok
	}
	return loginTarget{to: h.redirectTo(svc, r.PostForm.Get("redirect_to"))}, true
}

// hidden is the target as the forms carry it.
func (t loginTarget) hidden(v loginView) loginView {
	if t.req != nil {
		v.Authorize, v.ClientName = t.req.Query(), t.client.Name
	}
	v.RedirectTo = t.to
	return v
}

func (t loginTarget) formTarget() string {
	if t.req != nil {
		return t.req.RedirectURI
	}
	return t.to
}

// signedIn finishes a login: the cookie, then the application.
func (h *handler) signedIn(w http.ResponseWriter, r *http.Request, svc OIDCService, t loginTarget, in *auth.BrowserSignIn) {
	h.setSessionCookie(w, in)
	switch {
	case t.req != nil:
		h.issue(w, r, svc, t.client, t.req, in.Session)
	case t.to != "":
		http.Redirect(w, r, t.to, http.StatusSeeOther)
	default:
		h.message(w, r, http.StatusOK, view{Title: "You are signed in",
			Lines: []string{"You are signed in to " + h.product + " as " + in.User.Email + ". You may close this page."}})
	}
}

func (h *handler) login(w http.ResponseWriter, r *http.Request, svc OIDCService) {
	if !h.readForm(w, r, view{Link: h.base + PathLogin, LinkText: "Open the sign-in page again"}) {
		return
	}
	t, ok := h.postedTarget(w, r, svc)
	if !ok {
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	form := t.hidden(loginView{view: view{Title: "Sign in", CSRF: h.csrfToken(w, r), Email: email}})
	allowFormTarget(w, t.formTarget())
	if email == "" || r.PostForm.Get("password") == "" {
		form.Error = "Enter your email address and password."
		h.renderLogin(w, http.StatusUnprocessableEntity, "login", form)
		return
	}
	in, err := svc.BrowserLogin(r.Context(), email, r.PostForm.Get("password"))
	var mfa *auth.MFARequiredError
	switch {
	case err == nil:
		h.signedIn(w, r, svc, t, in)
	case errors.As(err, &mfa):
		h.renderMFA(w, http.StatusOK, t, mfa.Token, mfa.Methods, "", h.csrfToken(w, r))
	case code(err) == auth.CodeInvalidCredentials:
		form.Error = "The email address or password is wrong."
		h.renderLogin(w, http.StatusUnauthorized, "login", form)
	case code(err) == auth.CodeEmailNotConfirmed:
		form.Error = "Confirm your email address first: open the link we sent you. You can ask for a new one below."
		h.message(w, r, http.StatusForbidden, view{Title: "Confirm your email address", Error: form.Error, Resend: true})
	default:
		h.failure(w, r, "login", err)
	}
}

// renderMFA shows the second step. Passkeys will add their button here
// (methods lists "passkey" for an account with one).
func (h *handler) renderMFA(w http.ResponseWriter, status int, t loginTarget, token string, methods []string, msg, csrf string) {
	v := t.hidden(loginView{view: view{Title: "Two-step verification", CSRF: csrf, Error: msg}, MFAToken: token})
	for _, m := range methods {
		switch m {
		case auth.MethodTOTP:
			v.TOTP = true
		case auth.MethodRecoveryCode:
			v.Recovery = true
		case auth.MethodPasskey:
			v.Passkey = true
		}
	}
	if !v.TOTP && !v.Recovery {
		v.Recovery = true // the only way left without a passkey page
	}
	allowFormTarget(w, t.formTarget())
	h.renderLogin(w, status, "login_mfa", v)
}

func (h *handler) loginMFA(w http.ResponseWriter, r *http.Request, svc OIDCService) {
	if !h.readForm(w, r, view{Link: h.base + PathLogin, LinkText: "Sign in again"}) {
		return
	}
	t, ok := h.postedTarget(w, r, svc)
	if !ok {
		return
	}
	tok := r.PostForm.Get("mfa_token")
	codeIn, recovery := strings.TrimSpace(r.PostForm.Get("code")), strings.TrimSpace(r.PostForm.Get("recovery_code"))
	methods := []string{auth.MethodTOTP, auth.MethodRecoveryCode}
	if r.PostForm.Get("passkey") == "1" {
		// Only which buttons show again: the service decides.
		methods = append(methods, auth.MethodPasskey)
	}
	if codeIn == "" && recovery == "" {
		h.renderMFA(w, http.StatusUnprocessableEntity, t, tok, methods, "Enter a code.", h.csrfToken(w, r))
		return
	}
	if recovery != "" {
		codeIn = ""
	}
	in, err := svc.BrowserLoginMFA(r.Context(), tok, codeIn, recovery)
	switch code(err) {
	case "":
		h.signedIn(w, r, svc, t, in)
	case auth.CodeInvalidCredentials:
		h.renderMFA(w, http.StatusUnauthorized, t, tok, methods, "That code is wrong or was already used. Try the next one.", h.csrfToken(w, r))
	case auth.CodeInvalidToken:
		link := h.base + PathLogin
		if t.req != nil {
			link = h.base + PathAuthorize + "?" + t.req.Query()
		}
		h.message(w, r, http.StatusBadRequest, view{Title: "Sign in again",
			Lines: []string{"This sign-in took too long or was already completed."}, Link: link, LinkText: "Sign in again"})
	default:
		h.failure(w, r, "login second factor", err)
	}
}

// logout is RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
// A valid id_token_hint of the signed-in user ends the browser session at
// once; otherwise the user confirms with a POST (another site cannot sign
// them out). post_logout_redirect_uri must be registered for the client
// the hint (or client_id) names.
func (h *handler) logout(w http.ResponseWriter, r *http.Request, svc OIDCService) {
	var params url.Values
	if r.Method == http.MethodPost {
		if !h.readForm(w, r, view{Link: h.base + PathLogout, LinkText: "Try again"}) {
			return
		}
		params = r.PostForm
	} else {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			h.message(w, r, http.StatusBadRequest, view{Title: "Bad request", Lines: []string{"The sign-out request cannot be read."}})
			return
		}
		params = q
	}
	for k, v := range params {
		if len(v) > 1 {
			h.message(w, r, http.StatusBadRequest, view{Title: "Bad request", Lines: []string{k + " is given more than once."}})
			return
		}
	}
	bad := func(msg string) {
		h.message(w, r, http.StatusBadRequest, view{Title: "This sign-out link does not work", Lines: []string{msg}})
	}
	var hint *auth.IDTokenHint
	if raw := params.Get("id_token_hint"); raw != "" && r.Method == http.MethodGet {
		var err error
		if hint, err = svc.CheckIDTokenHint(raw); err != nil {
			bad("The application sent an ID token that this server did not issue.")
			return
		}
	}
	clientID := params.Get("client_id")
	if hint != nil {
		if clientID != "" && clientID != hint.ClientID {
			bad("client_id does not match the ID token.")
			return
		}
		clientID = hint.ClientID
	}
	back := params.Get("post_logout_redirect_uri")
	if back != "" {
		c, err := svc.RegisteredClient(r.Context(), clientID)
		if err != nil {
			h.failure(w, r, "logout", err)
			return
		}
		if c == nil || !auth.RedirectURIRegistered(c.PostLogoutRedirectURIs, back) {
			bad("The address the application asked to return to after signing out is not registered for it.")
			return
		}
	}
	b, u, err := h.browserSession(r, svc)
	if err != nil {
		h.failure(w, r, "logout", err)
		return
	}
	if b != nil && r.Method == http.MethodGet && (hint == nil || hint.Subject != b.UserID) {
		allowFormTarget(w, back)
		h.renderLogin(w, http.StatusOK, "logout", loginView{view: view{Title: "Sign out", CSRF: h.csrfToken(w, r), Email: u.Email},
			PostLogout: back, ClientID: clientID, State: params.Get("state")})
		return
	}
	if b != nil {
		if err := svc.EndBrowserSession(r.Context(), b); err != nil {
			h.failure(w, r, "logout", err)
			return
		}
	}
	h.clearSessionCookie(w)
	if back != "" {
		if st := params.Get("state"); st != "" {
			back = withParams(back, url.Values{"state": {st}})
		}
		status := http.StatusFound
		if r.Method == http.MethodPost {
			status = http.StatusSeeOther
		}
		http.Redirect(w, r, back, status)
		return
	}
	h.message(w, r, http.StatusOK, view{Title: "You are signed out",
		Lines: []string{"You are signed out of " + h.product + " in this browser. You may close this page."}})
}
