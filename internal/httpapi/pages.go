package httpapi

import (
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
	})
}
