package pages

import (
	"net/url"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/auth"
)

// FuzzReadSignup: whatever form body a client posts to /signup, reading it
// never panics, never keeps a redirect_to the list refuses, and never lets
// a form through without an address, a password, or with passwords that
// differ.
func FuzzReadSignup(f *testing.F) {
	allowed := auth.Config{PublicURL: "https://id.example.com", RedirectURLs: []string{"https://app.example.com/", "https://other.example.com/done"}}
	f.Add("email=a%40example.com&password=pw&password_confirm=pw")
	f.Add("email=a%40example.com&password=pw&password_confirm=pw&redirect_to=https%3A%2F%2Fapp.example.com%2Fx")
	f.Add("email=+&password=&redirect_to=%2F%2Fevil.example")
	f.Add("email=a&email=b&password=x&password=y&password_confirm=y")
	f.Add("redirect_to=https%3A%2F%2Fapp.example.com.evil.example%2F&redirect_to=https%3A%2F%2Fapp.example.com%2F")
	f.Add("email=a%40example.com&password=pw&password_confirm=pw&redirect_to=https%3A%2F%2Fid.example.com%2Foauth%2Fauthorize%3Fclient_id%3Dc%26state%3Ds")
	f.Add("redirect_to=https%3A%2F%2Fid.example.com%2Foauth%2Fauthorize%2F..%2F..%2Fx%3Fa")
	f.Add("email=%ff%fe&password=%00&password_confirm=%00&redirect_to=javascript%3Aalert(1)")
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return // ParseForm refuses it first: a 400 page
		}
		got := readSignup(form, allowed)
		rt := form.Get("redirect_to")
		switch {
		case got.RedirectTo != "" && !allowed.RedirectAllowed(got.RedirectTo):
			t.Fatalf("kept an unlisted redirect_to %q", got.RedirectTo)
		case got.RedirectTo != "" && got.RedirectTo != rt:
			t.Fatalf("redirect_to %q is not the form's %q", got.RedirectTo, rt)
		case got.BadRedirect == (rt == "" || allowed.RedirectAllowed(rt)):
			t.Fatalf("BadRedirect = %v for %q", got.BadRedirect, rt)
		case got.BadRedirect && got.RedirectTo != "":
			t.Fatalf("a refused redirect_to kept: %q", got.RedirectTo)
		}
		if got.Problem == "" {
			if got.Email == "" || got.Email != strings.TrimSpace(got.Email) || got.Password == "" ||
				got.Password != form.Get("password_confirm") {
				t.Fatalf("form %q passed: %+v", body, got)
			}
		} else if got.Field != "email" && got.Field != "password" {
			t.Fatalf("problem %q about field %q", got.Problem, got.Field)
		}
	})
}
