package httpapi

import (
	"net/http"
	"strconv"
)

// handleHealthz reports that the process is alive; it touches nothing.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		encode(w, http.StatusOK, statusBody{Status: "ok"})
	})
}

// handleReadyz reports whether the database answers and accepts writes:
// 200 ready, or 503 unavailable with Retry-After and the reason.
func (s *server) handleReadyz() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Cache-Control", "no-store")
		if err := s.svc.Ready(r.Context()); err != nil {
			return err
		}
		encode(w, http.StatusOK, statusBody{Status: "ready"})
		return nil
	})
}

// handleJWKS serves the public signing keys (RFC 7517), cacheable for five
// minutes.
func (s *server) handleJWKS() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		b := s.svc.JWKS()
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b)
		return nil
	})
}
