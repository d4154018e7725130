package auth

import "testing"

func TestRedirectAllowed(t *testing.T) {
	allowed := []string{"https://app.example.com/", "https://other.example.com/cb/", "myapp://done", "http://localhost:3000/auth/done"}
	cases := []struct {
		raw  string
		want bool
	}{
		{"https://app.example.com/", true},
		{"https://app.example.com/welcome?x=1", true},
		{"https://other.example.com/cb/", true},
		{"https://other.example.com/cb/next", true},
		{"http://localhost:3000/auth/done", true},
		{"http://localhost:3000/auth/done2", false},
		{"https://other.example.com/cb", false},
		{"https://other.example.com/cb/../admin", false},
		{"https://other.example.com/cb/%2e%2e/admin", false},
		{"https://other.example.com/other", false},
		{"https://app.example.com.evil.example/", false},
		{"https://app.example.com@evil.example/", false},
		{"https://user@app.example.com/", false},
		{"https://app.example.com/#frag", false},
		{"https://app.example.com/\\evil.example", false},
		{"https://app.example.com/\tx", false},
		{"//evil.example/", false},
		{"/relative", false},
		{"javascript:alert(1)", false},
		{"myapp://done", false}, // custom schemes: only http(s) for browser redirects
		{"", false},
		{"http://app.example.com/", false},
	}
	for _, c := range cases {
		if got := RedirectAllowed(allowed, c.raw); got != c.want {
			t.Errorf("RedirectAllowed(%q) = %v, want %v", c.raw, got, c.want)
		}
	}
	if RedirectAllowed(nil, "https://app.example.com/") {
		t.Error("an empty list allowed a redirect")
	}
}

func TestValidRedirectEntry(t *testing.T) {
	for s, want := range map[string]bool{
		"https://app.example.com/":        true,
		"https://app.example.com/cb":      true,
		"http://localhost:3000/done?x=1":  true,
		"https://app.example.com":         false,
		"https://app.example.com/cb/?x=1": true, // an exact entry
		"ftp://app.example.com/":          false,
		"https://u@app.example.com/":      false,
		"https://app.example.com/#x":      false,
		"app.example.com/":                false,
		"https://app.example.com/a b":     false,
	} {
		if got := ValidRedirectEntry(s); got != want {
			t.Errorf("ValidRedirectEntry(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestConfigRedirectAllowed: besides the list, latch's own authorization
// endpoint (with a query) is a place to return to, and nothing else of
// latch's origin is.
func TestConfigRedirectAllowed(t *testing.T) {
	c := Config{PublicURL: "https://id.example.com/auth", RedirectURLs: []string{"https://app.example.com/"}}
	for raw, want := range map[string]bool{
		"https://app.example.com/x":                                               true,
		"https://id.example.com/auth/oauth/authorize?client_id=c&state=s":         true,
		"https://id.example.com/auth/oauth/authorize?":                            false,
		"https://id.example.com/auth/oauth/authorize":                             false,
		"https://id.example.com/auth/oauth/authorize/..?x=1":                      false,
		"https://id.example.com/auth/oauth/authorizex?x=1":                        false,
		"https://id.example.com/oauth/authorize?client_id=c":                      false,
		"https://id.example.com/auth/admin/v1/users?x=1":                          false,
		"https://id.example.com/auth/oauth/authorize?client_id=c#f":               false,
		"https://id.example.com/auth/oauth/authorize?client_id=c\\@evil.example/": false,
		"https://id.example.com.evil.example/auth/oauth/authorize?client_id=c":    false,
		"http://id.example.com/auth/oauth/authorize?client_id=c":                  false,
	} {
		if got := c.RedirectAllowed(raw); got != want {
			t.Errorf("RedirectAllowed(%q) = %v, want %v", raw, got, want)
		}
	}
}
