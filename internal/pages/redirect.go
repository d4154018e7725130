package pages

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchauth/latch/internal/auth"
)

// redirect_to: where a page sends the browser after success (303) instead
// of showing its own done page. It arrives in the query of a GET (from the
// app's link, or from a mailed link, where latch put it) and in a hidden
// field of the POST, and every use checks it against LATCH_REDIRECT_URLS
// again: whoever holds a link can edit its query, so only the list
// decides where a browser may go, never the link.
//
// The forms that mail a link (signup, forgot password, resend) refuse an
// unlisted redirect_to with a 400 page, as the JSON API does, so that an
// app's mistake shows at once. The pages a mailed link opens (confirm,
// reset) drop an unlisted one and finish with their own done page: the
// list may have changed since the mail, and the link is still good.

// redirectOK reports whether raw may be a redirect_to ("" never is).
func (h *handler) redirectOK(raw string) bool {
	return h.allow.RedirectAllowed(raw)
}

// keepRedirect returns raw when the list admits it, else "".
func (h *handler) keepRedirect(raw string) string {
	if h.redirectOK(raw) {
		return raw
	}
	return ""
}

// withRedirect adds redirect_to (when not "") to path, a page's path
// without a query.
func withRedirect(path, redirectTo string) string {
	if redirectTo == "" {
		return path
	}
	return path + "?redirect_to=" + url.QueryEscape(redirectTo)
}

// badRedirect answers a form asked to return to an unlisted address.
func (h *handler) badRedirect(w http.ResponseWriter, r *http.Request) {
	h.message(w, r, http.StatusBadRequest, view{Title: "This page cannot return you there",
		Lines: []string{
			"The page was opened with an address to return to that " + h.product + " does not send anyone to.",
			"Go back to the app or site that sent you here and try again from there.",
		}})
}

// redirectDone sends the browser to redirectTo after a POST succeeded
// (303: the browser follows with a GET). It reports false, having done
// nothing, when redirectTo is "" or no longer listed.
func (h *handler) redirectDone(w http.ResponseWriter, r *http.Request, redirectTo string) bool {
	if !h.redirectOK(redirectTo) {
		return false
	}
	hd := w.Header()
	hd.Set("Location", redirectTo)
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusSeeOther)
	return true
}

// csp is the Content-Security-Policy of a page whose form carries
// redirectTo: browsers apply form-action to the redirects that follow a
// form's submission too, so the 303 to redirectTo needs its origin listed.
func csp(redirectTo string) string {
	if redirectTo == "" {
		return CSP
	}
	u, err := url.Parse(redirectTo)
	if err != nil || u.Host == "" {
		return CSP
	}
	origin := u.Scheme + "://" + u.Host
	// A source expression must not end the directive or start another.
	if strings.ContainsAny(origin, " ;,'\"\t\r\n") {
		return CSP
	}
	return strings.Replace(CSP, "form-action 'self'", "form-action 'self' "+origin, 1)
}

// redirectContext is r's context carrying redirectTo (checked) for the
// service, which puts it in the links it mails.
func (h *handler) redirectContext(r *http.Request, redirectTo string) context.Context {
	if redirectTo == "" {
		return r.Context()
	}
	return auth.ContextWithRedirect(r.Context(), redirectTo)
}
