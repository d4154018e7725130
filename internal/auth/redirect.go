package auth

import (
	"net/url"
	"strings"
)

// RedirectAllowed reports whether raw may be where a hosted page (login,
// signup, reset, confirm) sends the browser after success: an absolute
// http(s) URL equal to an entry of allowed, or starting with an entry that
// ends in "/" (so "https://app.example.com/" admits every path of that
// origin and "https://app.example.com/cb/" every path under /cb/, while
// "https://app.example.com.evil.example/" never matches). A URL with user
// info, a fragment, a backslash or a control character is refused whatever
// the list says: browsers and servers disagree on what such URLs mean.
//
// allowed comes from LATCH_REDIRECT_URLS; empty, nothing is allowed and the
// pages show their own done page.
func RedirectAllowed(allowed []string, raw string) bool {
	if raw == "" || len(raw) > 2048 || strings.ContainsAny(raw, "\\") {
		return false
	}
	for _, r := range raw {
		if r < 0x21 || r == 0x7f {
			return false
		}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.User != nil || u.Fragment != "" || u.Opaque != "" || strings.Contains(raw, "#") {
		return false
	}
	for _, a := range allowed {
		if raw == a {
			return true
		}
		if strings.HasSuffix(a, "/") && strings.HasPrefix(raw, a) {
			rest := raw[len(a):]
			// "https://app.example.com/cb/.." must not climb out of /cb/.
			if !strings.Contains(rest, "..") && !strings.Contains(strings.ToLower(rest), "%2e") {
				return true
			}
		}
	}
	return false
}

// ValidRedirectEntry reports whether s can be an entry of
// LATCH_REDIRECT_URLS: an absolute http(s) URL with a host and a path
// ("https://app.example.com/" rather than "https://app.example.com"), no
// user info, query-free if it is a prefix (ends in "/"), and no fragment.
func ValidRedirectEntry(s string) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.Fragment != "" || strings.Contains(s, "#") || u.Path == "" || strings.ContainsAny(s, "\\ ") {
		return false
	}
	if strings.HasSuffix(s, "/") && u.RawQuery != "" {
		return false
	}
	return true
}
