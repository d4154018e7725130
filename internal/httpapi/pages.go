package httpapi

import (
	"context"
	"net/http"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/pages"
)

// pages returns the browser pages, a separate handler with its
// own CSRF checks and Content-Security-Policy: the headers it sets replace
// the JSON API's (securityHeaders runs first).
func (s *server) pages() http.Handler {
	var cfg auth.Config
	if s.svc != nil {
		cfg = s.svc.Config()
	}
	return pages.New(pages.Config{
		Service:   s.svc,
		PublicURL: cfg.PublicURL,
		Product:   cfg.Product,
		Logger:    s.log,
		// The service checks redirect_to against the same list.
		RedirectURLs: cfg.RedirectURLs,
	})
}

// withRedirect is r's context carrying the request's redirect_to, which
// the service checks against LATCH_REDIRECT_URLS (400 invalid_redirect)
// and puts in the links it mails, so that the page a link opens sends the
// browser there after success.
func withRedirect(r *http.Request, redirectTo string) context.Context {
	if redirectTo == "" {
		return r.Context()
	}
	return auth.ContextWithRedirect(r.Context(), redirectTo)
}
