package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/pages"
)

// The pages are mounted with their own headers; the JSON API keeps its.
func TestPagesMounted(t *testing.T) {
	h, logs := newTransport(t, Config{})
	tests := []struct {
		method, path string
		status       int
		csp          string
		ctype        string
	}{
		{"GET", "/forgot-password", 200, pages.CSP, "text/html; charset=utf-8"},
		{"GET", "/static/latch.css", 200, pages.CSP, "text/css; charset=utf-8"},
		{"GET", "/v1/me", 401, "default-src 'none'; frame-ancestors 'none'", "application/problem+json"},
		{"PUT", "/forgot-password", 405, "default-src 'none'; frame-ancestors 'none'", "application/problem+json"},
	}
	for _, tt := range tests {
		w := do(h, tt.method, tt.path, nil, nil)
		if w.Code != tt.status {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, w.Code, tt.status)
		}
		if got := w.Header().Get("Content-Security-Policy"); got != tt.csp {
			t.Errorf("%s %s: CSP %q, want %q", tt.method, tt.path, got, tt.csp)
		}
		if got := w.Header().Get("Content-Type"); !strings.HasPrefix(got, tt.ctype) {
			t.Errorf("%s %s: Content-Type %q, want %q", tt.method, tt.path, got, tt.ctype)
		}
		for k, v := range map[string]string{"Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"} {
			if got := w.Header().Values(k); len(got) != 1 || got[0] != v {
				t.Errorf("%s %s: %s = %q, want exactly %q", tt.method, tt.path, k, got, v)
			}
		}
	}
	// Page requests are in the access log, without their query string. (A
	// malformed token is refused before the service is asked.)
	if w := do(h, "GET", "/reset-password?token=SECRET-TOKEN-VALUE", nil, nil); w.Code != http.StatusBadRequest {
		t.Errorf("GET /reset-password with a malformed token: status %d, want 400", w.Code)
	}
	if !strings.Contains(logs.String(), `"path":"/reset-password"`) {
		t.Errorf("no access log line for the page:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "SECRET-TOKEN-VALUE") {
		t.Errorf("the log holds the token:\n%s", logs.String())
	}
}
