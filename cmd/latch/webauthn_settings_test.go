package main

import (
	"slices"
	"strings"
	"testing"
)

// LATCH_WEBAUTHN_ORIGINS takes origins only: a path, a query or another
// scheme is a start-up error naming the variable.
func TestWebAuthnOriginsSetting(t *testing.T) {
	t.Parallel()
	load := func(v string) (*config, error) {
		return loadConfig(nil, func(k string) string {
			if k == "LATCH_WEBAUTHN_ORIGINS" {
				return v
			}
			return ""
		})
	}
	c, err := load(" https://app.example.com , https://admin.example.com:8443/ ")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://app.example.com", "https://admin.example.com:8443"}; !slices.Equal(c.WebAuthnOrigins, want) {
		t.Fatalf("WebAuthnOrigins = %q, want %q", c.WebAuthnOrigins, want)
	}
	for _, bad := range []string{"app.example.com", "https://app.example.com/login", "ftp://app.example.com", "https://app.example.com?x=1", "https://"} {
		if _, err := load(bad); err == nil || !strings.Contains(err.Error(), "LATCH_WEBAUTHN_ORIGINS") {
			t.Errorf("LATCH_WEBAUTHN_ORIGINS=%q: %v, want an error naming it", bad, err)
		}
	}
}
