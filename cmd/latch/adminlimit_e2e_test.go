package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// Guessing the admin key is limited per client: 10 refused admin
// authentications a minute, then 429 with Retry-After for every attempt of
// that client, the right key included (a right guess must not stand out);
// the right key still works from another address, and admin tools that
// present it are never limited.
func TestAdminAuthFailuresAreLimited(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{
		"LATCH_ADMIN_KEY":       testAdminKey,
		"LATCH_REVOCATION_KEY":  "revocation-key_0123456789abcdef",
		"LATCH_TRUSTED_PROXIES": "127.0.0.1",
	})
	// statusesFrom sends n requests at once, the i-th from from(i), and
	// counts the answers.
	statusesFrom := func(n int, from func(i int) string, send func(hdr map[string]string) *response) map[int]int {
		var mu sync.Mutex
		codes := map[int]int{}
		parallel(n, func(i int) {
			r := send(xff(from(i)))
			if r.Status == 429 && r.Header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After: %s", r.Raw)
			}
			mu.Lock()
			codes[r.Status]++
			mu.Unlock()
		})
		return codes
	}
	statuses := func(n int, ip string, send func(hdr map[string]string) *response) map[int]int {
		return statusesFrom(n, func(int) string { return ip }, send)
	}
	listUsers := func(bearer string) func(map[string]string) *response {
		return func(hdr map[string]string) *response {
			return s.doWith("GET", "/admin/v1/users", bearer, nil, hdr)
		}
	}

	// Wrong keys from one address.
	const attacker = "203.0.113.66"
	wrong := testAdminKey[:len(testAdminKey)-1] + "X"
	if got := statuses(14, attacker, listUsers(wrong)); got[401] != 10 || got[429] != 4 {
		t.Fatalf("14 wrong admin keys from one address: %v, want 10x401 and 4x429", got)
	}
	r := s.doWith("GET", "/admin/v1/users", testAdminKey, nil, xff(attacker)).want(t, 429, "rate_limited")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// The right key from elsewhere, as often as an admin tool likes.
	if got := statuses(30, "203.0.113.67", listUsers(testAdminKey)); got[200] != 30 {
		t.Errorf("30 requests with the right key: %v, want 30x200", got)
	}
	// An IPv6 attacker is its /64.
	v6 := func(i int) string { return fmt.Sprintf("2001:db8:66:1::%x", i+1) }
	if got := statusesFrom(14, v6, listUsers(wrong)); got[401] != 10 || got[429] != 4 {
		t.Errorf("14 wrong admin keys from 14 addresses of one /64: %v, want 10x401 and 4x429", got)
	}

	// A user's access token on admin routes counts too (403 until the limit).
	user := s.signupConfirmed("plain@example.com", goodPassword).str("access_token")
	if got := statuses(14, "203.0.113.68", listUsers(user)); got[403] != 10 || got[429] != 4 {
		t.Errorf("14 admin requests with a user's token: %v, want 10x403 and 4x429", got)
	}

	// Token introspection takes the admin key too: guessing it there is
	// limited alike (RFC 6749 error bodies).
	introspect := func(bearer string) func(map[string]string) *response {
		return func(hdr map[string]string) *response {
			hdr["Content-Type"] = "application/x-www-form-urlencoded"
			return s.doWith("POST", "/oauth/introspect", bearer, "token=whatever", hdr)
		}
	}
	if got := statuses(14, "203.0.113.69", introspect(wrong)); got[401] != 10 || got[429] != 4 {
		t.Errorf("14 introspections with a wrong admin key: %v, want 10x401 and 4x429", got)
	}
	if r := introspect(testAdminKey)(xff("203.0.113.69")); r.Status != 429 {
		t.Errorf("introspection with the right key from a limited address: %d, want 429", r.Status)
	}
	if r := introspect(testAdminKey)(xff("203.0.113.70")); r.Status != 200 || !strings.Contains(r.Raw, `"active":false`) {
		t.Errorf("introspection with the right key: %d %s, want 200 inactive", r.Status, r.Raw)
	}

	// A keyed revocation feed: its key (or the admin key) is guessed alike.
	feed := func(bearer string) func(map[string]string) *response {
		return func(hdr map[string]string) *response {
			return s.doWith("GET", "/v1/revocations", bearer, nil, hdr)
		}
	}
	if got := statuses(14, "203.0.113.71", feed(wrong)); got[401] != 10 || got[429] != 4 {
		t.Errorf("14 revocation feed reads with a wrong key: %v, want 10x401 and 4x429", got)
	}
	feed("revocation-key_0123456789abcdef")(xff("203.0.113.72")).want(t, 200, "")
}
