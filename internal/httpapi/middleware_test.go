package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

func TestNotFoundProblem(t *testing.T) {
	h, _ := newTransport(t, Config{})
	for _, target := range []string{"/", "/nope", "/v1/nope", "/v1/me/", "/v1/sessions/", "/v1/sessions/a/b", "/healthz/x"} {
		w := do(h, "GET", target, nil, nil)
		wantProblem(t, w, 404, "not_found")
		if got := w.Header().Get("Allow"); got != "" {
			t.Errorf("GET %s: Allow = %q, want none", target, got)
		}
	}
}

func TestMethodNotAllowedProblem(t *testing.T) {
	h, _ := newTransport(t, Config{})
	tests := []struct {
		method, target string
		allow          []string
	}{
		{"GET", "/v1/login", []string{"POST"}},
		{"PUT", "/v1/signup", []string{"POST"}},
		{"POST", "/v1/me", []string{"DELETE", "GET", "HEAD"}},
		{"PATCH", "/v1/sessions/abc", []string{"DELETE"}},
		{"DELETE", "/healthz", []string{"GET", "HEAD"}},
		{"OPTIONS", "/v1/login", []string{"POST"}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			w := do(h, tt.method, tt.target, nil, nil)
			p := wantProblem(t, w, 405, "method_not_allowed")
			if !strings.Contains(p.Detail, tt.method) {
				t.Errorf("detail = %q, want it to name %s", p.Detail, tt.method)
			}
			got := w.Header().Get("Allow")
			for _, m := range tt.allow {
				if !strings.Contains(got, m) {
					t.Errorf("Allow = %q, want it to contain %s", got, m)
				}
			}
			if tt.allow[0] == "POST" && got != "POST" {
				t.Errorf("Allow = %q, want POST", got)
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	h, _ := newTransport(t, Config{})
	want := map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
	}
	for _, tc := range []struct{ method, target string }{
		{"GET", "/healthz"}, {"GET", "/nope"}, {"GET", "/v1/login"}, {"GET", "/v1/me"},
		{"POST", "/v1/login"},
	} {
		w := do(h, tc.method, tc.target, nil, nil)
		for k, v := range want {
			if got := w.Header().Get(k); got != v {
				t.Errorf("%s %s: %s = %q, want %q", tc.method, tc.target, k, got, v)
			}
		}
		if strings.HasPrefix(tc.target, "/v1/") {
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("%s %s: Cache-Control = %q, want no-store", tc.method, tc.target, got)
			}
			if got := w.Header().Get("Pragma"); got != "no-cache" {
				t.Errorf("%s %s: Pragma = %q, want no-cache", tc.method, tc.target, got)
			}
		}
	}
}

func TestHealthz(t *testing.T) {
	h, _ := newTransport(t, Config{})
	w := do(h, "GET", "/healthz", nil, nil)
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"status":"ok"}` {
		t.Fatalf("got %d %s, want 200 {\"status\":\"ok\"}", w.Code, w.Body)
	}
	if got := w.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
}

func TestCORS(t *testing.T) {
	const app = "https://app.example.com"
	h, _ := newTransport(t, Config{CORSOrigins: []string{app, "http://localhost:3000"}})

	t.Run("allowed origin", func(t *testing.T) {
		w := do(h, "GET", "/healthz", nil, http.Header{"Origin": {app}})
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != app {
			t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, app)
		}
		if got := w.Header().Get("Access-Control-Expose-Headers"); !strings.Contains(got, "Authorization") {
			t.Errorf("Access-Control-Expose-Headers = %q, want Authorization in it", got)
		}
		if got := w.Header().Values("Vary"); !contains(got, "Origin") {
			t.Errorf("Vary = %q, want Origin", got)
		}
		if got := w.Header().Get("Access-Control-Allow-Credentials"); got != "" {
			t.Errorf("Access-Control-Allow-Credentials = %q, want none", got)
		}
	})
	t.Run("allowed origin on an error", func(t *testing.T) {
		w := do(h, "GET", "/v1/me", nil, http.Header{"Origin": {app}})
		wantProblem(t, w, 401, "invalid_token")
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != app {
			t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, app)
		}
	})
	for _, origin := range []string{"https://evil.example.com", "https://app.example.com.evil.com", "null", "*", "https://APP.example.com", "http://app.example.com"} {
		t.Run("unlisted "+origin, func(t *testing.T) {
			w := do(h, "GET", "/healthz", nil, http.Header{"Origin": {origin}})
			if w.Code != 200 {
				t.Errorf("status = %d, want 200 (CORS is enforced by the browser)", w.Code)
			}
			for _, k := range []string{"Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "Access-Control-Allow-Methods"} {
				if got := w.Header().Get(k); got != "" {
					t.Errorf("%s = %q, want none", k, got)
				}
			}
		})
	}
	t.Run("preflight allowed", func(t *testing.T) {
		w := do(h, "OPTIONS", "/v1/login", nil, http.Header{
			"Origin":                         {app},
			"Access-Control-Request-Method":  {"POST"},
			"Access-Control-Request-Headers": {"content-type,authorization"},
		})
		if w.Code != 204 {
			t.Fatalf("status = %d, want 204", w.Code)
		}
		want := map[string]string{
			"Access-Control-Allow-Origin":  app,
			"Access-Control-Allow-Methods": "GET, POST, PATCH, DELETE",
			"Access-Control-Allow-Headers": "Authorization, Content-Type",
			"Access-Control-Max-Age":       "600",
		}
		for k, v := range want {
			if got := w.Header().Get(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		if w.Body.Len() != 0 {
			t.Errorf("body = %q, want none", w.Body)
		}
	})
	t.Run("preflight unlisted", func(t *testing.T) {
		w := do(h, "OPTIONS", "/v1/login", nil, http.Header{
			"Origin":                        {"https://evil.example.com"},
			"Access-Control-Request-Method": {"POST"},
		})
		wantProblem(t, w, 403, "forbidden")
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("Access-Control-Allow-Origin = %q, want none", got)
		}
	})
	t.Run("no CORS configured", func(t *testing.T) {
		h, _ := newTransport(t, Config{})
		w := do(h, "GET", "/healthz", nil, http.Header{"Origin": {app}})
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("Access-Control-Allow-Origin = %q, want none", got)
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestRequestID(t *testing.T) {
	h, logs := newTransport(t, Config{})
	tests := []struct {
		sent string
		echo bool
	}{
		{"abc-123_X.y", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"has space", false},
		{"new\nline", false},
		{"é", false},
		{"", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/healthz", nil)
		if tt.sent != "" {
			r.Header["X-Request-Id"] = []string{tt.sent}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		got := w.Header().Get("X-Request-Id")
		if tt.echo && got != tt.sent {
			t.Errorf("sent %q: X-Request-Id = %q, want it echoed", tt.sent, got)
		}
		if !tt.echo && (got == tt.sent || !saneRequestID(got)) {
			t.Errorf("sent %q: X-Request-Id = %q, want a fresh sane id", tt.sent, got)
		}
	}
	lines := logs.accessLines(t)
	if len(lines) != len(tests) {
		t.Fatalf("%d access log lines, want %d", len(lines), len(tests))
	}
	if lines[0]["request_id"] != "abc-123_X.y" {
		t.Errorf("logged request_id = %v, want abc-123_X.y", lines[0]["request_id"])
	}
}

func TestAccessLog(t *testing.T) {
	h, logs := newTransport(t, Config{})
	w := do(h, "POST", "/v1/password/reset?token=SECRET-QUERY", strings.NewReader(`{"token":"SECRET-BODY"}`),
		jsonHeader("Authorization", "Bearer SECRET-BEARER", "X-Request-Id", "req-1"))
	wantProblem(t, w, 400, "invalid_request")
	lines := logs.accessLines(t)
	if len(lines) != 1 {
		t.Fatalf("%d access log lines, want 1: %s", len(lines), logs)
	}
	l := lines[0]
	want := map[string]any{"method": "POST", "path": "/v1/password/reset", "status": float64(400), "request_id": "req-1", "ip": "192.0.2.1"}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("log %s = %v, want %v", k, l[k], v)
		}
	}
	if _, ok := l["duration"]; !ok {
		t.Errorf("log line %v has no duration", l)
	}
	if all := logs.String(); strings.Contains(all, "SECRET") {
		t.Errorf("log leaks a secret: %s", all)
	}
}

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name    string
		proxies []netip.Prefix
		remote  string
		xff     []string
		want    string
	}{
		{"socket peer", nil, "203.0.113.7:5555", nil, "203.0.113.7"},
		{"spoofed XFF, no trusted proxies", nil, "203.0.113.7:5555", []string{"1.1.1.1"}, "203.0.113.7"},
		{"spoofed XFF from an untrusted peer", proxies, "203.0.113.7:5555", []string{"1.1.1.1"}, "203.0.113.7"},
		{"trusted proxy", proxies, "10.0.0.2:80", []string{"198.51.100.9"}, "198.51.100.9"},
		{"client prepends a lie", proxies, "10.0.0.2:80", []string{"1.1.1.1, 198.51.100.9"}, "198.51.100.9"},
		{"chain of trusted proxies", proxies, "10.0.0.2:80", []string{"1.1.1.1, 198.51.100.9, 10.1.1.1", "10.2.2.2"}, "198.51.100.9"},
		{"spaces and ports", proxies, "10.0.0.2:80", []string{" 198.51.100.9:1234 ,10.1.1.1 "}, "198.51.100.9"},
		{"IPv6 client", proxies, "[fd00::1]:80", []string{"2001:db8::5"}, "2001:db8::5"},
		{"bracketed IPv6 with port", proxies, "10.0.0.2:80", []string{"[2001:db8::5]:443"}, "2001:db8::5"},
		{"mapped IPv4 peer", proxies, "[::ffff:10.0.0.2]:80", []string{"198.51.100.9"}, "198.51.100.9"},
		{"garbage hop stops at the proxy", proxies, "10.0.0.2:80", []string{"1.1.1.1, not-an-ip"}, "10.0.0.2"},
		{"empty hop stops at the proxy", proxies, "10.0.0.2:80", []string{"1.1.1.1,"}, "10.0.0.2"},
		{"every hop trusted", proxies, "10.0.0.2:80", []string{"10.3.3.3, 10.4.4.4"}, "10.3.3.3"},
		{"trusted proxy without XFF", proxies, "10.0.0.2:80", nil, "10.0.0.2"},
		{"IPv6 zone dropped", nil, "[fe80::1%eth0]:80", nil, "fe80::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, logs := newTransport(t, Config{TrustedProxies: tt.proxies})
			r := httptest.NewRequest("GET", "/healthz", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			lines := logs.accessLines(t)
			if len(lines) != 1 || lines[0]["ip"] != tt.want {
				t.Fatalf("logged ip = %v, want %s", lines, tt.want)
			}
		})
	}
}

func TestTruncateUserAgent(t *testing.T) {
	tests := []struct{ in, want string }{
		{"curl/8", "curl/8"},
		{strings.Repeat("a", 600), strings.Repeat("a", 512)},
		{strings.Repeat("a", 511) + "é", strings.Repeat("a", 511)},
		{"bad\xffbyte", "bad\uFFFDbyte"},
	}
	for _, tt := range tests {
		if got := truncateUTF8(tt.in, maxUserAgent); got != tt.want {
			t.Errorf("truncateUTF8(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPanicRecovered(t *testing.T) {
	logs := &logBuffer{}
	s := &server{log: newJSONLogger(logs)}
	h := s.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("boom")
	}))
	r := httptest.NewRequest("GET", "/v1/me", nil)
	r.Header.Set("X-Request-Id", "panic-1")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	p := wantProblem(t, w, 500, "internal")
	if strings.Contains(p.Detail, "boom") {
		t.Errorf("detail %q leaks the panic", p.Detail)
	}
	var found bool
	for _, l := range logs.lines(t) {
		if l["msg"] == "httpapi: panic" {
			found = true
			if l["level"] != "ERROR" || l["request_id"] != "panic-1" || l["panic"] != "boom" ||
				!strings.Contains(fmt.Sprint(l["stack"]), "TestPanicRecovered") {
				t.Errorf("panic log = %v, want ERROR with request id, value and stack", l)
			}
		}
		if l["msg"] == "http request" && l["status"] != float64(500) {
			t.Errorf("access log status = %v, want 500", l["status"])
		}
	}
	if !found {
		t.Errorf("no panic log line in %s", logs)
	}
}

func TestPanicAfterAnswerStartedAborts(t *testing.T) {
	s := &server{log: newJSONLogger(&logBuffer{})}
	h := s.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		panic("late")
	}))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", v)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		err        error
		status     int
		code       string
		detail     string
		retryAfter string
		challenge  string
	}{
		{auth.Errorf(auth.CodeInvalidRequest, "bad"), 400, "invalid_request", "bad", "", ""},
		{auth.Errorf(auth.CodeInvalidToken, "link used"), 400, "invalid_token", "link used", "", ""},
		{auth.Errorf(auth.CodeInvalidBearer, "session ended"), 401, "invalid_token", "session ended", "", `Bearer error="invalid_token"`},
		{auth.Errorf(auth.CodeInvalidCredentials, "no"), 401, "invalid_credentials", "no", "", ""},
		{auth.Errorf(auth.CodeTokenExpired, "expired"), 401, "token_expired", "expired", "", `Bearer error="invalid_token", error_description="token expired"`},
		{auth.Errorf(auth.CodeEmailNotConfirmed, "confirm"), 403, "email_not_confirmed", "confirm", "", ""},
		{auth.Errorf(auth.CodeAccountDisabled, "off"), 403, "account_disabled", "off", "", ""},
		{auth.Errorf(auth.CodeForbidden, "no"), 403, "forbidden", "no", "", ""},
		{auth.Errorf(auth.CodeNotFound, "gone"), 404, "not_found", "gone", "", ""},
		{auth.Errorf(auth.CodeEmailTaken, "taken"), 409, "email_taken", "taken", "", ""},
		{auth.Errorf(auth.CodeInvalidEmail, "bad email"), 422, "invalid_email", "bad email", "", ""},
		{auth.Errorf(auth.CodeWeakPassword, "weak"), 422, "weak_password", "weak", "", ""},
		{&auth.Error{Code: auth.CodeRateLimited, Message: "slow down", RetryAfter: 1500 * time.Millisecond}, 429, "rate_limited", "slow down", "2", ""},
		{&auth.Error{Code: auth.CodeRateLimited, Message: "slow down", RetryAfter: 30 * time.Second}, 429, "rate_limited", "slow down", "30", ""},
		{&auth.Error{Code: auth.CodeRateLimited, Message: "slow down"}, 429, "rate_limited", "slow down", "1", ""},
		{&auth.Error{Code: auth.CodeRateLimited, Message: "slow down", RetryAfter: time.Millisecond}, 429, "rate_limited", "slow down", "1", ""},
		{&auth.Error{Code: auth.CodeUnavailable, Message: "busy", RetryAfter: 5 * time.Second}, 503, "unavailable", "busy", "5", ""},
		{fmt.Errorf("sqlstore: ping: %w", auth.ErrStoreDown), 503, "unavailable", detailUnavailable, "1", ""},
		{fmt.Errorf("wrapped: %w", auth.Errorf(auth.CodeNotFound, "gone")), 404, "not_found", "gone", "", ""},
		{&auth.Error{Code: auth.CodeInternal, Message: "db exploded at /var/lib", Cause: errors.New("disk")}, 500, "internal", detailInternal, "", ""},
		{&auth.Error{Code: "made_up", Message: "secret internals"}, 500, "internal", detailInternal, "", ""},
		{errors.New("sql: connection refused to 10.0.0.5"), 500, "internal", detailInternal, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			logs := &logBuffer{}
			s := &server{log: newJSONLogger(logs)}
			r := httptest.NewRequest("POST", "/v1/login", nil)
			r = r.WithContext(withRequestInfo(r.Context(), requestInfo{id: "rid-7"}))
			w := httptest.NewRecorder()
			s.writeError(w, r, tt.err)
			p := wantProblem(t, w, tt.status, tt.code)
			if p.Detail != tt.detail {
				t.Errorf("detail = %q, want %q", p.Detail, tt.detail)
			}
			if got := w.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
			}
			if tt.status == 500 {
				lines := logs.lines(t)
				if len(lines) != 1 || lines[0]["level"] != "ERROR" || lines[0]["request_id"] != "rid-7" ||
					!strings.Contains(fmt.Sprint(lines[0]["err"]), tt.err.Error()) {
					t.Errorf("log = %s, want one ERROR line with the request id and the cause", logs)
				}
			}
			if tt.status < 500 && logs.String() != "" {
				t.Errorf("a %d was logged: %s", tt.status, logs)
			}
		})
	}
}
