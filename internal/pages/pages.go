// Package pages serves latch's browser pages: server-rendered HTML that
// works without JavaScript, for signing up, for the links latch mails
// (confirm an address, reset a password) and for asking for a new link.
//
//	GET  /signup              new account form
//	POST /signup              "check your inbox" (errors shown inline)
//	GET  /confirm?token=      a button that confirms (a POST, so that mail
//	                          scanners following links confirm nothing)
//	POST /confirm             confirms; success, or "link expired" (400)
//	POST /confirm/resend      mails a new confirmation link
//	GET  /reset-password?token=  new password form
//	POST /reset-password      sets it (errors shown inline)
//	GET  /forgot-password     asks for a reset link
//	POST /forgot-password
//	GET  /static/latch.css    the one stylesheet
//
// Every page takes an optional redirect_to (redirect.go): after success it
// sends the browser there (303) if LATCH_REDIRECT_URLS lists it.
//
// Every POST is checked against cross-site request forgery twice: a
// double-submit cookie (__Host- prefixed on https, SameSite=Strict) that
// must match the form's csrf field, and the Origin (or Sec-Fetch-Site)
// header. Every answer carries a strict Content-Security-Policy (no script
// but the login and security pages' own, allowed by a nonce; style only
// from the stylesheet), Referrer-Policy: no-referrer,
// X-Frame-Options: DENY and Cache-Control: no-store. Form bodies are never
// logged. A client's mistake is never answered with a 5xx.
package pages

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/latchauth/latch/internal/auth"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/latch.css
var stylesheet []byte

// Service is what the pages need of latch's rules; *auth.Service has it.
type Service interface {
	Signup(ctx context.Context, email, password string) (*auth.SignupResult, error)
	RevokeToken(ctx context.Context, by auth.OAuthClient, tok string) error
	CheckConfirmLink(ctx context.Context, tok string) (auth.TokenKind, error)
	ConfirmLink(ctx context.Context, tok string) (*auth.User, error)
	ResendConfirmation(ctx context.Context, email string) error
	CheckResetLink(ctx context.Context, tok string) error
	ResetPasswordLink(ctx context.Context, tok, password string) error
	ForgotPassword(ctx context.Context, email string) error
}

var _ Service = (*auth.Service)(nil)

// Config configures the pages.
type Config struct {
	// Service carries the rules; required.
	Service Service
	// PublicURL is latch's public base URL (LATCH_PUBLIC_URL): its origin
	// is the only one whose forms are accepted, its scheme decides whether
	// the CSRF cookie is Secure and __Host- prefixed, and its path prefixes
	// every link of the pages. Default: auth.Config's (http://localhost:8080).
	PublicURL string
	// Product names the product on every page. Default: auth.Config's
	// ("latch").
	Product string
	// Logger receives server-side failures (never form data). Default:
	// discard.
	Logger *slog.Logger
	// RedirectURLs is the redirect_to allow-list (LATCH_REDIRECT_URLS,
	// auth.Config's, which the service checks too; see
	// auth.RedirectAllowed). Empty: the pages redirect nowhere.
	RedirectURLs []string
}

// Paths of the pages, below the public URL's path.
const (
	PathSignup  = "/signup"
	PathConfirm = "/confirm"
	PathResend  = "/confirm/resend"
	PathReset   = "/reset-password"
	PathForgot  = "/forgot-password"
	PathCSS     = "/static/latch.css"
)

// CSP is the Content-Security-Policy of every page.
const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// maxBody bounds a form body, as the JSON API bounds its bodies.
const maxBody = 64 << 10

type handler struct {
	svc Service
	log *slog.Logger
	// allow decides where redirect_to may send the browser: its
	// PublicURL and RedirectURLs (auth.Config.RedirectAllowed).
	allow   auth.Config
	product string
	origin  string // scheme://host[:port] of the public URL
	base    string // path of the public URL, without a trailing slash
	secure  bool   // the public URL is https
	css     string // the stylesheet's URL, with a version
	pages   map[string]*template.Template
	mux     *http.ServeMux
}

// New returns the handler of the pages. It answers the paths listed in the
// package documentation and 404 for any other.
func New(cfg Config) http.Handler {
	// The public URL and product default as the service's do.
	defaults := auth.Config{}.WithDefaults()
	if cfg.PublicURL == "" {
		cfg.PublicURL = defaults.PublicURL
	}
	if strings.TrimSpace(cfg.Product) == "" {
		cfg.Product = defaults.Product
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{svc: cfg.Service, log: cfg.Logger, product: cfg.Product,
		allow: auth.Config{PublicURL: strings.TrimRight(cfg.PublicURL, "/"), RedirectURLs: cfg.RedirectURLs}}
	if u, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/")); err == nil {
		h.origin = strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
		h.base = u.EscapedPath()
		h.secure = strings.EqualFold(u.Scheme, "https")
	}
	sum := sha256.Sum256(stylesheet)
	h.css = h.base + PathCSS + "?v=" + hex.EncodeToString(sum[:6])
	h.pages = parsePages()

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathSignup, h.signupForm)
	mux.HandleFunc("POST "+PathSignup, h.signup)
	mux.HandleFunc("GET "+PathConfirm, h.confirmForm)
	mux.HandleFunc("POST "+PathConfirm, h.confirm)
	mux.HandleFunc("POST "+PathResend, h.resend)
	mux.HandleFunc("GET "+PathReset, h.resetForm)
	mux.HandleFunc("POST "+PathReset, h.reset)
	mux.HandleFunc("GET "+PathForgot, h.forgotForm)
	mux.HandleFunc("POST "+PathForgot, h.forgot)
	mux.HandleFunc("GET "+PathCSS, h.stylesheet)
	h.addOIDC(mux)    // login.go
	h.addAccount(mux) // account.go
	h.mux = mux
	return h
}

func parsePages() map[string]*template.Template {
	base := template.Must(template.New("base.html").ParseFS(templateFS, "templates/base.html"))
	pages := map[string]*template.Template{}
	for _, name := range []string{"signup", "confirm", "reset", "forgot", "message"} {
		t := template.Must(base.Clone())
		template.Must(t.ParseFS(templateFS, "templates/"+name+".html"))
		pages[name] = t
	}
	return pages
}

// parsePage parses one page on the base template.
func parsePage(name string) *template.Template {
	t := template.Must(template.New("base.html").ParseFS(templateFS, "templates/base.html"))
	return template.Must(t.ParseFS(templateFS, "templates/"+name+".html"))
}

// ServeHTTP sets the pages' security headers, then routes.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.message(w, r, http.StatusNotFound, view{Title: "Page not found",
			Lines: []string{"There is no page at this address."}})
		return
	}
	h.mux.ServeHTTP(w, r)
}

// view is what the templates see.
type view struct {
	Product     string
	Title       string
	CSS         string
	Base        string
	CSRF        string
	Token       string
	Email       string
	EmailChange bool
	Error       string
	Lines       []string
	Resend      bool
	Link        string
	LinkText    string
	// RedirectTo, already checked, goes in the forms' hidden field.
	RedirectTo string
	// Invalid names the input Error is about ("email", "password").
	Invalid string
}

func (h *handler) render(w http.ResponseWriter, status int, page string, v view) {
	v.Product, v.CSS, v.Base = h.product, h.css, h.base
	var buf bytes.Buffer
	if err := h.pages[page].ExecuteTemplate(&buf, "base", v); err != nil {
		h.log.Error("pages: render", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	if v.RedirectTo != "" {
		hd.Set("Content-Security-Policy", csp(v.RedirectTo))
	}
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (h *handler) message(w http.ResponseWriter, r *http.Request, status int, v view) {
	if v.Resend && v.CSRF == "" {
		v.CSRF = h.csrfToken(w, r)
	}
	h.render(w, status, "message", v)
}

func (h *handler) stylesheet(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", "text/css; charset=utf-8")
	hd.Set("Cache-Control", "public, max-age=86400")
	hd.Set("Content-Length", strconv.Itoa(len(stylesheet)))
	w.Write(stylesheet)
}

// readForm parses a POST's form body (never the query string), then checks
// it against CSRF. When it reports false it has answered, with again (a
// message) if the checks failed.
func (h *handler) readForm(w http.ResponseWriter, r *http.Request, again view) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.message(w, r, http.StatusRequestEntityTooLarge, view{Title: "Too much data",
				Lines: []string{"The form sent more data than this page accepts."}})
			return false
		}
		h.message(w, r, http.StatusBadRequest, view{Title: "Bad request",
			Lines: []string{"The form could not be read. Go back and try again."}})
		return false
	}
	if !h.sameOrigin(r) || !h.csrfOK(r) {
		// The way back keeps a listed redirect_to.
		if rt := h.keepRedirect(r.PostForm.Get("redirect_to")); rt != "" {
			again.RedirectTo = rt
			if again.Link != "" {
				again.Link = withRedirect(again.Link, rt)
			}
		}
		again.Title = "This form has expired"
		again.Lines = append([]string{"For your security, the form could not be accepted: it was sent from another site, or it was open for too long. Open the page again and retry."}, again.Lines...)
		h.message(w, r, http.StatusForbidden, again)
		return false
	}
	return true
}

// failure answers a service error that is not the page's own business:
// rate limits, an unavailable store, internal errors.
func (h *handler) failure(w http.ResponseWriter, r *http.Request, what string, err error) {
	var ae *auth.Error
	errors.As(err, &ae)
	switch auth.ErrorCode(err) {
	case auth.CodeInvalidRedirect:
		h.badRedirect(w, r)
	case auth.CodeRateLimited:
		wait := time.Minute
		if ae != nil && ae.RetryAfter > 0 {
			wait = ae.RetryAfter
		}
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		h.message(w, r, http.StatusTooManyRequests, view{Title: "Too many attempts",
			Lines: []string{fmt.Sprintf("Please wait %s, then try again.", inWords(wait))}})
	case auth.CodeAccountDisabled:
		h.message(w, r, http.StatusForbidden, view{Title: "Account disabled",
			Lines: []string{"This account is disabled. Contact the administrator of " + h.product + "."}})
	case auth.CodeUnavailable:
		w.Header().Set("Retry-After", "5")
		h.message(w, r, http.StatusServiceUnavailable, view{Title: "Temporarily unavailable",
			Lines: []string{"The service is busy or briefly unavailable. Please try again in a moment."}})
	default:
		h.log.ErrorContext(r.Context(), "pages: "+what+" failed", "path", r.URL.Path, "err", err)
		h.message(w, r, http.StatusInternalServerError, view{Title: "Something went wrong",
			Lines: []string{"The request could not be completed. Please try again later."}})
	}
}

// inWords writes a wait for people: "30 seconds", "1 minute", "5 minutes".
func inWords(d time.Duration) string {
	if d < time.Minute {
		n := int((d + time.Second - 1) / time.Second)
		if n <= 1 {
			return "a second"
		}
		return strconv.Itoa(n) + " seconds"
	}
	n := int((d + time.Minute - 1) / time.Minute)
	if n == 1 {
		return "a minute"
	}
	return strconv.Itoa(n) + " minutes"
}

// sentence makes a message a sentence: a capital first letter and a final
// full stop ("password is too common" -> "Password is too common.").
func sentence(msg string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return msg
	}
	r, size := utf8.DecodeRuneInString(msg)
	msg = string(unicode.ToUpper(r)) + msg[size:]
	if !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "!") && !strings.HasSuffix(msg, "?") {
		msg += "."
	}
	return msg
}

// code is err's auth code, "" for no error.
func code(err error) auth.Code {
	if err == nil {
		return ""
	}
	return auth.ErrorCode(err)
}

// Confirmation.

func (h *handler) badConfirmLink(w http.ResponseWriter, r *http.Request, redirectTo string) {
	h.message(w, r, http.StatusBadRequest, view{
		RedirectTo: redirectTo,
		Title:      "This link no longer works",
		Lines: []string{
			"The confirmation link is invalid, has expired or was already used.",
			"If your address is not confirmed yet, ask for a new link:",
		},
		Resend: true,
	})
}

func (h *handler) confirmForm(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	rt := h.keepRedirect(r.URL.Query().Get("redirect_to"))
	if tok == "" {
		h.badConfirmLink(w, r, rt)
		return
	}
	kind, err := h.svc.CheckConfirmLink(r.Context(), tok)
	if err != nil {
		if auth.ErrorCode(err) == auth.CodeInvalidToken {
			h.badConfirmLink(w, r, rt)
			return
		}
		h.failure(w, r, "confirm link check", err)
		return
	}
	title := "Confirm your email address"
	if kind == auth.KindEmailChange {
		title = "Confirm your new email address"
	}
	h.render(w, http.StatusOK, "confirm", view{
		Title: title, CSRF: h.csrfToken(w, r), Token: tok, EmailChange: kind == auth.KindEmailChange,
		RedirectTo: rt,
	})
}

func (h *handler) confirm(w http.ResponseWriter, r *http.Request) {
	if !h.readForm(w, r, view{Lines: []string{"Open the link from your mail again."}}) {
		return
	}
	tok := r.PostForm.Get("token")
	rt := h.keepRedirect(r.PostForm.Get("redirect_to"))
	if tok == "" {
		h.badConfirmLink(w, r, rt)
		return
	}
	u, err := h.svc.ConfirmLink(r.Context(), tok)
	switch code(err) {
	case "":
	case auth.CodeInvalidToken:
		h.badConfirmLink(w, r, rt)
		return
	case auth.CodeEmailTaken:
		h.message(w, r, http.StatusConflict, view{Title: "Address already in use",
			Lines: []string{"Another account uses this address by now, so it could not be confirmed for yours."}})
		return
	default:
		h.failure(w, r, "confirm", err)
		return
	}
	if h.redirectDone(w, r, rt) {
		return
	}
	addr := "Your email address"
	if u != nil {
		addr = "Your email address " + u.Email
	}
	h.message(w, r, http.StatusOK, view{Title: "Email address confirmed",
		Lines: []string{addr + " is confirmed.", "You can now sign in to " + h.product + " with it. You may close this page."}})
}

func (h *handler) resend(w http.ResponseWriter, r *http.Request) {
	if !h.readForm(w, r, view{Resend: true}) {
		return
	}
	rt := r.PostForm.Get("redirect_to")
	if rt != "" && !h.redirectOK(rt) {
		h.badRedirect(w, r)
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	if email == "" {
		h.message(w, r, http.StatusUnprocessableEntity, view{Title: "Ask for a new link",
			Error: "Enter your email address.", Resend: true, RedirectTo: rt})
		return
	}
	if err := h.svc.ResendConfirmation(h.redirectContext(r, rt), email); err != nil {
		h.failure(w, r, "resend", err)
		return
	}
	h.message(w, r, http.StatusOK, view{Title: "Check your inbox",
		Lines: []string{
			"If " + email + " belongs to an account that still needs confirming, a new link is on its way.",
			"It may take a few minutes to arrive. Only the newest links work.",
		}})
}

// Password reset.

func (h *handler) badResetLink(w http.ResponseWriter, r *http.Request, redirectTo string) {
	h.message(w, r, http.StatusBadRequest, view{
		Title: "This link no longer works",
		Lines: []string{
			"The password reset link is invalid, has expired or was already used.",
			"Each link works once, for a limited time, and asking again makes older links stop working.",
		},
		Link: withRedirect(h.base+PathForgot, redirectTo), LinkText: "Ask for a new link",
	})
}

func (h *handler) resetForm(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	rt := h.keepRedirect(r.URL.Query().Get("redirect_to"))
	if tok == "" {
		h.badResetLink(w, r, rt)
		return
	}
	if err := h.svc.CheckResetLink(r.Context(), tok); err != nil {
		if auth.ErrorCode(err) == auth.CodeInvalidToken {
			h.badResetLink(w, r, rt)
			return
		}
		h.failure(w, r, "reset link check", err)
		return
	}
	h.render(w, http.StatusOK, "reset", view{Title: "Choose a new password", CSRF: h.csrfToken(w, r), Token: tok, RedirectTo: rt})
}

func (h *handler) reset(w http.ResponseWriter, r *http.Request) {
	if !h.readForm(w, r, view{Lines: []string{"Open the link from your mail again."}}) {
		return
	}
	tok := r.PostForm.Get("token")
	pw, again := r.PostForm.Get("password"), r.PostForm.Get("password_confirm")
	rt := h.keepRedirect(r.PostForm.Get("redirect_to"))
	if tok == "" {
		h.badResetLink(w, r, rt)
		return
	}
	form := view{Title: "Choose a new password", CSRF: h.csrfToken(w, r), Token: tok, RedirectTo: rt}
	switch {
	case pw == "":
		form.Error = "Enter a new password."
	case pw != again:
		form.Error = "The two passwords do not match. Type the same password twice."
	}
	if form.Error != "" {
		// The link is checked anyway: a used one says so now.
		if err := h.svc.CheckResetLink(r.Context(), tok); code(err) == auth.CodeInvalidToken {
			h.badResetLink(w, r, rt)
			return
		}
		h.render(w, http.StatusUnprocessableEntity, "reset", form)
		return
	}
	err := h.svc.ResetPasswordLink(r.Context(), tok, pw)
	switch code(err) {
	case "":
	case auth.CodeWeakPassword:
		var ae *auth.Error
		errors.As(err, &ae)
		form.Error = sentence(ae.Message)
		h.render(w, http.StatusUnprocessableEntity, "reset", form)
		return
	case auth.CodeInvalidToken:
		h.badResetLink(w, r, rt)
		return
	default:
		h.failure(w, r, "reset", err)
		return
	}
	if h.redirectDone(w, r, rt) {
		return
	}
	h.message(w, r, http.StatusOK, view{Title: "Password changed",
		Lines: []string{
			"Your password was changed and every device was signed out.",
			"You can now sign in to " + h.product + " with your new password. You may close this page.",
		}})
}

func (h *handler) forgotForm(w http.ResponseWriter, r *http.Request) {
	rt := r.URL.Query().Get("redirect_to")
	if rt != "" && !h.redirectOK(rt) {
		h.badRedirect(w, r)
		return
	}
	h.render(w, http.StatusOK, "forgot", view{Title: "Reset your password", CSRF: h.csrfToken(w, r), RedirectTo: rt})
}

func (h *handler) forgot(w http.ResponseWriter, r *http.Request) {
	if !h.readForm(w, r, view{Link: h.base + PathForgot, LinkText: "Open the form again"}) {
		return
	}
	rt := r.PostForm.Get("redirect_to")
	if rt != "" && !h.redirectOK(rt) {
		h.badRedirect(w, r)
		return
	}
	email := strings.TrimSpace(r.PostForm.Get("email"))
	if email == "" {
		h.render(w, http.StatusUnprocessableEntity, "forgot", view{Title: "Reset your password",
			CSRF: h.csrfToken(w, r), Error: "Enter your email address.", RedirectTo: rt})
		return
	}
	if err := h.svc.ForgotPassword(h.redirectContext(r, rt), email); err != nil {
		h.failure(w, r, "forgot", err)
		return
	}
	h.message(w, r, http.StatusOK, view{Title: "Check your inbox",
		Lines: []string{
			"If an account exists for " + email + ", we sent it a link to choose a new password.",
			"It may take a few minutes to arrive, and it works for a limited time.",
		}})
}
