package httpapi

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchauth/latch/internal/auth"
)

// maxUserAgent is how many bytes of User-Agent latch keeps.
const maxUserAgent = 512

// requestInfo is what the transport itself keeps of a request; what the
// service needs of it (the client's address and User-Agent) goes in the
// context through auth.ContextWithClient.
type requestInfo struct {
	id string
}

type requestInfoKey struct{}

func withRequestInfo(ctx context.Context, ri requestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, ri)
}

// requestIDFrom returns the request id of ctx ("" outside a request).
func requestIDFrom(ctx context.Context) string {
	ri, _ := ctx.Value(requestInfoKey{}).(requestInfo)
	return ri.id
}

// statusWriter records the status written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe is the outermost middleware: it gives the request an id and puts
// the client's address and User-Agent in its context (the one place they
// are read from, auth.ClientFromContext), turns a panic into a 500 problem (logged with its
// stack) and writes one access log line per request. The line never carries
// the body, headers or the query string (reset tokens travel in query
// strings of pages).
func (s *server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !saneRequestID(id) {
			id = rand.Text()
		}
		w.Header().Set("X-Request-Id", id)
		client := auth.ClientInfo{
			IP:        s.clientIP(r),
			UserAgent: truncateUTF8(r.Header.Get("User-Agent"), maxUserAgent),
		}
		ctx := auth.ContextWithClient(withRequestInfo(r.Context(), requestInfo{id: id}), client)
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}

		defer func() {
			v := recover()
			if v != nil && v != http.ErrAbortHandler {
				s.log.ErrorContext(ctx, "httpapi: panic",
					"request_id", id,
					"method", r.Method,
					"path", r.URL.Path,
					"panic", fmt.Sprint(v),
					"stack", string(debug.Stack()))
				if sw.status == 0 {
					writeProblem(sw, newError(http.StatusInternalServerError, codeInternal, detailInternal))
					v = nil
				}
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			if s.metrics != nil {
				// The mux set the matched pattern on r.
				s.metrics.ObserveRequest(r.Method, r.Pattern, status, time.Since(start))
			}
			s.log.InfoContext(ctx, "http request",
				"method", r.Method,
				"path", r.URL.Path,
				"status", status,
				"duration", time.Since(start),
				"request_id", id,
				"ip", client.IP)
			if v != nil {
				// The answer was under way: abort the connection so that
				// the client sees a broken answer, not a complete one.
				panic(http.ErrAbortHandler)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// saneRequestID reports whether a client's X-Request-Id may be echoed and
// logged: 1 to 64 characters of [A-Za-z0-9._-].
func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// truncateUTF8 cuts s to at most n bytes without splitting a character and
// replaces invalid UTF-8.
func truncateUTF8(s string, n int) string {
	if len(s) > n {
		i := n
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i]
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// clientIP is the caller's address: the socket peer, or - when the peer is
// a trusted proxy - the rightmost X-Forwarded-For hop that is not a trusted
// proxy. An X-Forwarded-For from an untrusted peer is ignored.
func (s *server) clientIP(r *http.Request) string {
	peer, ok := parseHost(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if !s.trusted(peer) {
		return peer.String()
	}
	addr := peer
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			if !s.trusted(addr) {
				return addr.String()
			}
			hop, ok := parseHost(strings.TrimSpace(parts[j]))
			if !ok {
				// Whatever the last trusted proxy was told is garbage:
				// that proxy is the best we know.
				return addr.String()
			}
			addr = hop
		}
	}
	return addr.String()
}

func (s *server) trusted(a netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHost parses an address with or without a port ("1.2.3.4",
// "1.2.3.4:5", "::1", "[::1]:5"), dropping any zone and IPv4-in-IPv6
// mapping.
func parseHost(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

// securityHeaders sets the headers every answer carries, and the no-store
// cache headers on every /v1 answer.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		if r.URL.Path == "/v1" || strings.HasPrefix(r.URL.Path, "/v1/") {
			h.Set("Cache-Control", "no-store")
			h.Set("Pragma", "no-cache")
		}
		next.ServeHTTP(w, r)
	})
}

// CORS answers.
const (
	corsAllowMethods  = "GET, POST, PATCH, DELETE" // PATCH: /v1/me
	corsAllowHeaders  = "Authorization, Content-Type"
	corsExposeHeaders = "Authorization, Retry-After, X-Request-Id"
	corsMaxAge        = "600"
)

// cors lets the configured browser origins (and only them) call the API.
// An allowed Origin is answered with Access-Control-Allow-Origin set to it
// (never "*", never credentials). A preflight (OPTIONS with Origin and
// Access-Control-Request-Method) from an allowed origin answers 204 with the
// allowed methods and headers; from any other origin it answers 403
// forbidden without CORS headers, so that a misconfigured client learns
// why in the network panel.
func (s *server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		if len(s.origins) > 0 {
			h.Add("Vary", "Origin")
		}
		_, allowed := s.origins[origin]
		allowed = allowed && origin != "" && len(r.Header.Values("Origin")) == 1
		preflight := r.Method == http.MethodOptions && origin != "" &&
			r.Header.Get("Access-Control-Request-Method") != ""
		if preflight {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			if !allowed {
				writeProblem(w, newError(http.StatusForbidden, codeForbidden, "origin not allowed"))
				return
			}
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", corsAllowMethods)
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		}
		next.ServeHTTP(w, r)
	})
}

// discardWriter records what a handler would answer without sending it.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.header }
func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *discardWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(b), nil
}

// problems wraps mux so that an unknown path answers a 404 not_found
// problem and a known path with the wrong method a 405 method_not_allowed
// problem carrying the Allow header the mux computed. ServeMux itself would
// answer text/plain.
func (s *server) problems(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// No route: see what the mux would say.
		probe := &discardWriter{header: http.Header{}}
		h.ServeHTTP(probe, r)
		switch probe.status {
		case http.StatusMethodNotAllowed:
			if allow := probe.header.Values("Allow"); len(allow) > 0 {
				w.Header()["Allow"] = allow
			}
			writeProblem(w, newError(http.StatusMethodNotAllowed, codeMethodNotAllowed,
				fmt.Sprintf("method %s is not allowed here", sanitizeMethod(r.Method))))
		case http.StatusNotFound:
			writeProblem(w, newError(http.StatusNotFound, codeNotFound, "no such endpoint"))
		default:
			// A redirect to the cleaned path, or anything else the mux
			// knows better.
			mux.ServeHTTP(w, r)
		}
	})
}

// sanitizeMethod keeps a client-chosen method printable in a detail.
func sanitizeMethod(m string) string {
	if len(m) > 16 || !saneRequestID(m) {
		return "this method"
	}
	return m
}
