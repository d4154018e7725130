package httpapi

import (
	"bytes"
	_ "embed"
	"net/http"
	"strconv"
)

// openAPIDocument is the OpenAPI 3.1 description of latch's HTTP API
// (api.md), kept beside the handlers and checked against real answers by
// TestOpenAPIResponses.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the OpenAPI 3.1 document served at GET /openapi.json.
func OpenAPI() []byte { return bytes.Clone(openAPIDocument) }

// handleOpenAPI serves the OpenAPI document.
func handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("Content-Length", strconv.Itoa(len(openAPIDocument)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(openAPIDocument)
	})
}
