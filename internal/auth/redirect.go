package auth

import (
	"context"
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
	if !plainRedirect(raw) {
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

// plainRedirect reports whether raw is an absolute http(s) URL a browser
// may be sent to at all (see RedirectAllowed).
func plainRedirect(raw string) bool {
	if raw == "" || len(raw) > 2048 || strings.ContainsAny(raw, "\\") {
		return false
	}
	for _, r := range raw {
		if r < 0x21 || r == 0x7f {
			return false
		}
	}
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" &&
		u.User == nil && u.Fragment == "" && u.Opaque == "" && !strings.Contains(raw, "#")
}

// AuthorizePath is the path of latch's authorization endpoint below its
// public URL.
const AuthorizePath = "/oauth/authorize"

// RedirectAllowed reports whether a hosted page may send the browser to
// raw after success: LATCH_REDIRECT_URLS admits it (the package function
// RedirectAllowed), or it is latch's own authorization endpoint with a
// query. The latter lets a person who opens "Create an account" on the
// login page of an authorization request come back into that request
// once the account exists (after the confirmation link, when one is
// needed) instead of starting again from the app. It sends nobody
// anywhere new: the endpoint checks the request, its client and its
// registered redirect URI as it does for any other browser.
func (c Config) RedirectAllowed(raw string) bool {
	if RedirectAllowed(c.RedirectURLs, raw) {
		return true
	}
	self := strings.TrimRight(c.PublicURL, "/") + AuthorizePath + "?"
	// The path is compared whole (nothing can climb out of it: the
	// rest is a query); the query is the endpoint's to judge.
	return len(raw) > len(self) && strings.HasPrefix(raw, self) && plainRedirect(raw)
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

// CodeInvalidRedirect (400 invalid_redirect): a redirect_to that
// RedirectAllowed refuses.
const CodeInvalidRedirect Code = "invalid_redirect"

type redirectKey struct{}

// ContextWithRedirect returns ctx carrying a caller's redirect_to: where
// the page a mailed link opens (confirm, reset) sends the browser after
// success. The transport sets it on signup, resend and forgot requests that
// have one; those calls refuse it with invalid_redirect unless
// RedirectAllowed admits it, and otherwise add it to the links they mail.
// A link's query can be edited by whoever holds it, so the pages check
// redirect_to again when they use it: the list decides, never the link.
func ContextWithRedirect(ctx context.Context, redirectTo string) context.Context {
	return context.WithValue(ctx, redirectKey{}, redirectTo)
}

// redirectFrom returns the redirect_to of ctx ("" for none).
func redirectFrom(ctx context.Context) string {
	rt, _ := ctx.Value(redirectKey{}).(string)
	return rt
}

// checkRedirect returns the redirect_to of ctx, or invalid_redirect when
// the allow-list does not admit it.
func (s *Service) checkRedirect(ctx context.Context) (string, error) {
	rt := redirectFrom(ctx)
	if rt != "" && !s.cfg.RedirectAllowed(rt) {
		return "", Errorf(CodeInvalidRedirect, "redirect_to is not a URL this server may redirect to (LATCH_REDIRECT_URLS)")
	}
	return rt, nil
}

// withRedirect adds the redirect_to of ctx to link, a URL of latch's pages.
func withRedirect(ctx context.Context, link string) string {
	rt := redirectFrom(ctx)
	if rt == "" {
		return link
	}
	sep := "?"
	if strings.Contains(link, "?") {
		sep = "&"
	}
	return link + sep + "redirect_to=" + url.QueryEscape(rt)
}
