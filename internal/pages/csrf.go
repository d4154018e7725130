package pages

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
)

// CSRF protection: a double-submit cookie and an origin check.
//
// Each form carries a csrf field equal to a random value that the page also
// set as a cookie. Another site can make a browser post a form, but cannot
// read or set that cookie (it is HttpOnly, SameSite=Strict and, on https,
// __Host- prefixed so that no subdomain can plant one), so it cannot fill
// in the field. The Origin header (or, without it, Sec-Fetch-Site) must
// also name latch's own public origin.

// Cookie names of the CSRF value: the __Host- one when the public URL is
// https.
const (
	CSRFCookie       = "latch_csrf"
	CSRFCookieSecure = "__Host-latch_csrf"
)

// csrfLen is the length of a CSRF value: 32 random bytes, base64url.
const csrfLen = 43

func (h *handler) cookieName() string {
	if h.secure {
		return CSRFCookieSecure
	}
	return CSRFCookie
}

// csrfToken returns the browser's CSRF value, setting a new cookie when it
// has none (or a malformed one).
func (h *handler) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(h.cookieName()); err == nil && wellFormed(c.Value) {
		return c.Value
	}
	var raw [32]byte
	rand.Read(raw[:]) // never fails (crypto/rand)
	v := base64.RawURLEncoding.EncodeToString(raw[:])
	http.SetCookie(w, &http.Cookie{
		Name:     h.cookieName(),
		Value:    v,
		Path:     "/",
		Secure:   h.secure,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	})
	return v
}

func wellFormed(v string) bool {
	if len(v) != csrfLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// csrfOK reports whether the form's csrf field matches the cookie.
func (h *handler) csrfOK(r *http.Request) bool {
	c, err := r.Cookie(h.cookieName())
	if err != nil || !wellFormed(c.Value) {
		return false
	}
	field := r.PostForm.Get("csrf")
	return len(field) == len(c.Value) && subtle.ConstantTimeCompare([]byte(field), []byte(c.Value)) == 1
}

// sameOrigin reports whether a POST comes from latch's own pages. An
// Origin header must name the public URL's origin - except "null", which is
// what browsers send for a form posted from a page with Referrer-Policy:
// no-referrer, as latch's pages are. Then (or without Origin) a
// Sec-Fetch-Site header must say same-origin or none (typed by the user).
// A request with neither (an old browser, or not a browser) passes on the
// CSRF cookie alone.
func (h *handler) sameOrigin(r *http.Request) bool {
	if o := r.Header.Values("Origin"); len(o) > 0 {
		if len(o) != 1 {
			return false
		}
		if o[0] != "null" {
			return h.origin != "" && equalFoldASCII(o[0], h.origin)
		}
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return false
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
