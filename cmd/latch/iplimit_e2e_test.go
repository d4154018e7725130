package main

import (
	"fmt"
	"maps"
	"sync"
	"testing"
)

// burst sends n logins at once, for distinct unknown accounts (so that the
// per-account throttle stays out of it), the i-th with X-Forwarded-For
// from(i), and counts the answers by status. At once, because the per-IP
// limit refills over time (one login every 3 s): the counts then do not
// depend on how fast the machine is.
func burst(t *testing.T, s *server, n int, tag string, from func(i int) string) map[int]int {
	t.Helper()
	var mu sync.Mutex
	codes := map[int]int{}
	parallel(n, func(i int) {
		body := map[string]string{"email": fmt.Sprintf("%s%d@example.com", tag, i), "password": "wrong password"}
		r := s.doWith("POST", "/v1/login", "", body, xff(from(i)))
		if r.Status == 429 && r.Header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After")
		}
		mu.Lock()
		codes[r.Status]++
		mu.Unlock()
	})
	return codes
}

// An IPv6 client behind a trusted proxy is its /64: 30 logins from 30
// addresses of one /64 are refused where 30 from one address are; every
// other per-IP limit keys alike; another /64 is another client; an
// IPv4-mapped address is its IPv4 client.
func TestIPv6ClientIsItsPrefix(t *testing.T) {
	t.Parallel()
	// The bursts put 20 password checks at once on the hasher: a queue
	// that holds them, so that only the per-IP limit refuses.
	s := startServer(t, map[string]string{"LATCH_TRUSTED_PROXIES": "127.0.0.1", "LATCH_HASH_QUEUE": "64"})

	one := burst(t, s, 30, "single", func(int) string { return "2001:db8:aaaa:1::1" })
	if one[401] != 20 || one[429] != 10 {
		t.Fatalf("30 logins from one IPv6 address: %v, want 20x401 and 10x429", one)
	}
	spread := burst(t, s, 30, "spread", func(i int) string { return fmt.Sprintf("2001:db8:aaaa:2:%x::%x", i+1, i+7) })
	if !maps.Equal(spread, one) {
		t.Errorf("30 logins from 30 addresses of one /64: %v, want %v as from one address", spread, one)
	}
	// Every per-IP limit keys on the /64 (forgot-password: 10 a minute,
	// and no password hashing, so cheap to test more with).
	forgot := func(n int, from func(i int) string) map[int]int {
		var mu sync.Mutex
		codes := map[int]int{}
		parallel(n, func(i int) {
			r := s.doWith("POST", "/v1/password/forgot", "", map[string]string{"email": "anyone@example.com"}, xff(from(i)))
			mu.Lock()
			codes[r.Status]++
			mu.Unlock()
		})
		return codes
	}
	if got := forgot(12, func(i int) string { return fmt.Sprintf("2001:db8:bbbb:1::%x", i+1) }); got[202] != 10 || got[429] != 2 {
		t.Errorf("12 forgot-password requests from one /64: %v, want 10x202 and 2x429", got)
	}
	// Two other /64s are two clients: 10 from each all get through.
	if got := forgot(20, func(i int) string { return fmt.Sprintf("2001:db8:bbbb:%d::%x", 2+i%2, i+1) }); got[202] != 20 {
		t.Errorf("10 forgot-password requests from each of two /64s: %v, want 20x202", got)
	}
	// An IPv4-mapped address is the IPv4 client.
	mapped := forgot(12, func(i int) string {
		if i%2 == 0 {
			return "198.51.100.7"
		}
		return "::ffff:198.51.100.7"
	})
	if mapped[202] != 10 || mapped[429] != 2 {
		t.Errorf("forgot-password alternating between 198.51.100.7 and ::ffff:198.51.100.7: %v, want 10x202 and 2x429", mapped)
	}

	// Sessions (and the audit log) keep the full address.
	const addr = "v6user@example.com"
	s.signupConfirmed(addr, goodPassword)
	const client = "2001:db8:cccc:1:2:3:4:5"
	login := s.doWith("POST", "/v1/login", "", map[string]string{"email": addr, "password": goodPassword}, xff(client)).want(t, 200, "")
	sessions := s.do("GET", "/v1/sessions", login.str("access_token"), nil).want(t, 200, "")
	found := false
	list, _ := sessions.Body["sessions"].([]any)
	for _, x := range list {
		if m, _ := x.(map[string]any); m["current"] == true {
			found = true
			if m["ip"] != client {
				t.Errorf("session ip %v, want the full address %s", m["ip"], client)
			}
		}
	}
	if !found {
		t.Errorf("no current session in %s", sessions.Raw)
	}
}
