package auth

import (
	"crypto/sha256"
	"net/url"
	"testing"
	"time"
)

func TestRedirectURIRegistered(t *testing.T) {
	reg := []string{"https://app.example.com/cb", "http://127.0.0.1/native/cb", "http://[::1]:8080/cb?x=1", "com.example.app:/oauth"}
	for uri, want := range map[string]bool{
		"https://app.example.com/cb":         true,
		"https://app.example.com/cb/":        false,
		"https://app.example.com/cb?x=1":     false,
		"https://APP.example.com/cb":         false,
		"https://app.example.com:443/cb":     false,
		"http://app.example.com/cb":          false,
		"http://127.0.0.1/native/cb":         true,
		"http://127.0.0.1:51234/native/cb":   true, // RFC 8252: any port on a loopback IP
		"http://127.0.0.1:51234/native/cX":   false,
		"http://127.0.0.1:51234/native/cb#f": false,
		"http://u@127.0.0.1:5/native/cb":     false,
		"http://localhost:51234/native/cb":   false,
		"http://[::1]:9999/cb?x=1":           true,
		"http://[::1]:9999/cb":               false,
		"com.example.app:/oauth":             true,
		"com.example.app:/oauth2":            false,
		"":                                   false,
	} {
		if got := RedirectURIRegistered(reg, uri); got != want {
			t.Errorf("RedirectURIRegistered(%q) = %v, want %v", uri, got, want)
		}
	}
}

func TestValidClientURI(t *testing.T) {
	for uri, ok := range map[string]bool{
		"https://app.example.com/cb":     true,
		"http://127.0.0.1/cb":            true,
		"http://[::1]:3000/cb":           true,
		"http://localhost:3000/cb":       true,
		"com.example.app:/callback":      true,
		"com.example.app://callback/x":   true,
		"http://app.example.com/cb":      false,
		"https://app.example.com/cb#x":   false,
		"https://u:p@app.example.com/cb": false,
		"myapp:/cb":                      false,
		"javascript:alert(1)":            false,
		"/relative":                      false,
		"https:///nohost":                false,
		"https://app.example.com/a b":    false,
		"https://app.example.com/a\\b":   false,
		"":                               false,
	} {
		if got := validClientURI(uri) == ""; got != ok {
			t.Errorf("validClientURI(%q) ok = %v, want %v (%s)", uri, got, ok, validClientURI(uri))
		}
	}
}

func TestClientCheckSecret(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	secret, h := newClientSecret()
	c := &Client{Type: ClientConfidential, SecretHash: h}
	if !c.CheckSecret(secret, now) || c.CheckSecret(secret+"x", now) || c.CheckSecret("", now) {
		t.Fatal("CheckSecret of a confidential client")
	}
	sum := sha256.Sum256(nil)
	pub := &Client{Type: ClientPublic, SecretHash: sum[:]}
	if pub.CheckSecret("", now) || pub.CheckSecret("anything", now) {
		t.Fatal("a public client matched a secret")
	}
	// After a rotation with an overlap: both until the overlap ends, then
	// only the new one.
	next, nh := newClientSecret()
	rotated := &Client{Type: ClientConfidential, SecretHash: nh, PreviousSecretHash: h, PreviousSecretUntil: now.Add(time.Hour)}
	for _, tt := range []struct {
		secret string
		at     time.Time
		want   bool
	}{
		{next, now, true}, {secret, now, true}, {secret, now.Add(time.Hour - time.Second), true},
		{secret, now.Add(time.Hour), false}, {next, now.Add(30 * 24 * time.Hour), true}, {"", now, false},
	} {
		if got := rotated.CheckSecret(tt.secret, tt.at); got != tt.want {
			t.Errorf("after a rotation, CheckSecret(%s secret, %v) = %v, want %v", map[bool]string{true: "new", false: "old"}[tt.secret == next], tt.at.Sub(now), got, tt.want)
		}
	}
	// A previous hash without an end (or past it) is no secret.
	if (&Client{Type: ClientConfidential, SecretHash: nh, PreviousSecretHash: h}).CheckSecret(secret, now) {
		t.Error("a previous secret with no overlap was accepted")
	}
}

// FuzzRedirectURIRegistered: a redirect_uri from the authorization
// request is untrusted; it matches only an exact entry, or a loopback
// entry with the same host, path and query on another port.
func FuzzRedirectURIRegistered(f *testing.F) {
	reg := []string{"https://app.example.com/cb", "http://127.0.0.1/cb", "com.example.app:/oauth"}
	for _, s := range []string{"https://app.example.com/cb", "http://127.0.0.1:5000/cb", "http://127.0.0.1:5000/cb?x", "http://127.0.0.1.evil/cb",
		"http://[::1]:1/cb", "com.example.app:/oauth", "https://app.example.com/cb/../cb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		if !RedirectURIRegistered(reg, uri) {
			return
		}
		for _, r := range reg {
			if r == uri {
				return
			}
		}
		u, err := url.Parse(uri)
		if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.EscapedPath() != "/cb" || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
			t.Fatalf("%q matched %v", uri, reg)
		}
		if validClientURI(uri) != "" {
			t.Fatalf("%q matched but is no valid client URI", uri)
		}
	})
}
