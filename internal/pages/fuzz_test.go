package pages_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/pages"
)

// FuzzPages sends arbitrary requests to the pages: whatever a client sends,
// the answer is never a 5xx and never echoes markup unescaped.
func FuzzPages(f *testing.F) {
	fx := newFixture(f, func(c *auth.Config) { c.RedirectURLs = []string{"https://app.example.com/"} })
	const cookie = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	paths := []string{pages.PathConfirm, pages.PathResend, pages.PathReset, pages.PathForgot, pages.PathCSS, "/x", pages.PathSignup,
		pages.PathAccountSecurity, pages.PathAccountSecurity + "/totp", pages.PathAccountSecurity + "/passkeys/finish",
		pages.PathLoginPasskeyBegin, pages.PathLoginPasskeyFinish}
	f.Add(uint8(0), "GET", "token=abc", "", cookie, "")
	f.Add(uint8(1), "POST", "", "csrf="+cookie+"&email=a%40example.com", cookie, "http://id.example.com")
	f.Add(uint8(2), "POST", "", "csrf="+cookie+"&token=abc&password=x&password_confirm=y", cookie, "")
	f.Add(uint8(2), "POST", "", "csrf="+cookie+"&token=abc&password=<script>&password_confirm=<script>", cookie, "")
	f.Add(uint8(3), "POST", "", "csrf="+cookie+"&email=%3Cb%3E", cookie, "null")
	f.Add(uint8(0), "POST", "token=1", "csrf=%%%", "", "")
	f.Add(uint8(6), "POST", "", "csrf="+cookie+"&email=%3Cb%3E&password=x&password_confirm=x&redirect_to=javascript%3A%3Cscript%3E", cookie, "")
	f.Add(uint8(6), "GET", "redirect_to=https%3A%2F%2Fapp.example.com%2F%22%3E%3Cscript%3E", "", "", "")
	f.Add(uint8(0), "GET", "token=abc&redirect_to=https%3A%2F%2Fapp.example.com%2F%3Cb%3E", "", "", "")
	f.Fuzz(func(t *testing.T, which uint8, method, query, body, cookieVal, origin string) {
		if method != "GET" && method != "POST" {
			method = "POST"
		}
		target := paths[int(which)%len(paths)]
		req := httptest.NewRequest(method, "http://id.example.com"+target, strings.NewReader(body))
		req.URL.RawQuery = query
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookieVal != "" {
			req.AddCookie(&http.Cookie{Name: pages.CSRFCookie, Value: sanitizeCookie(cookieVal)})
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		w := httptest.NewRecorder()
		fx.srv.Config.Handler.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s?%s body %q: status %d\n%s", method, target, query, body, w.Code, w.Body.String())
		}
		if strings.Contains(w.Body.String(), "<script") || strings.Contains(w.Body.String(), "<b>") {
			t.Fatalf("%s %s: markup from the request in the page:\n%s", method, target, w.Body.String())
		}
	})
}

// sanitizeCookie keeps the bytes a cookie value may hold.
func sanitizeCookie(v string) string {
	return strings.Map(func(r rune) rune {
		if r > 0x20 && r < 0x7f && r != '"' && r != ';' && r != '\\' && r != ',' {
			return r
		}
		return -1
	}, v)
}
