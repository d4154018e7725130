package main

import (
	"strconv"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/svctest"
)

// A stolen access token must not turn the password re-checks (password
// change, email change, account deletion) into an unthrottled guessing
// oracle: wrong guesses there count against the account exactly like
// failed logins, and past the limit even the right password answers 429
// with Retry-After, there and at login.
func TestPasswordRecheckThrottle(t *testing.T) {
	rechecks := []struct {
		name string
		call func(s *server, at, pw string) *response
	}{
		{"password change", func(s *server, at, pw string) *response {
			return s.do("POST", "/v1/password/change", at, map[string]string{"current_password": pw, "new_password": "a new good passphrase"})
		}},
		{"email change", func(s *server, at, pw string) *response {
			return s.do("POST", "/v1/email/change", at, map[string]string{"new_email": "elsewhere@example.com", "password": pw})
		}},
		{"account deletion", func(s *server, at, pw string) *response {
			return s.do("DELETE", "/v1/me", at, map[string]string{"password": pw})
		}},
	}
	run := func(t *testing.T, s *server) {
		for i, rc := range rechecks {
			t.Run(rc.name, func(t *testing.T) {
				addr := "recheck" + strconv.Itoa(i) + "@example.com"
				at := s.signupConfirmed(addr, goodPassword).str("access_token")
				// Two failed logins and three wrong re-checks: five failures,
				// the free allowance of the account throttle.
				for range 2 {
					s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": "definitely wrong"}).want(t, 401, "invalid_credentials")
				}
				for range 3 {
					rc.call(s, at, "definitely wrong").want(t, 401, "invalid_credentials")
				}
				// Further guesses run into the throttle's growing waits.
				// Guess on until a wait of more than a second is left, so that
				// the next requests surely fall inside it however slow this
				// machine hashes.
				throttled := false
				for range 12 {
					r := rc.call(s, at, "definitely wrong")
					if r.Status == 401 {
						continue
					}
					r.want(t, 429, "rate_limited")
					if wait := retryAfter(t, r); wait < 2 {
						time.Sleep(time.Duration(wait) * time.Second)
						continue
					}
					throttled = true
					break
				}
				if !throttled {
					t.Fatal("17 wrong passwords for one account and no 429 with a wait of more than a second")
				}
				// Throttled: the right password does not get through either,
				// neither here nor at login.
				retryAfter(t, rc.call(s, at, goodPassword).want(t, 429, "rate_limited"))
				retryAfter(t, s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": goodPassword}).want(t, 429, "rate_limited"))
				// The token itself still works: only the guessing stopped.
				s.do("GET", "/v1/me", at, nil).want(t, 200, "")
			})
		}
	}
	// The two limiters run side by side, each on its own server. The
	// test itself stays sequential: go-redis logs through a process-wide
	// logger that each latch with Redis sets (see newScale), so in-process
	// servers with Redis never start while another one runs.
	t.Run("memory limiter", func(t *testing.T) {
		t.Parallel()
		run(t, startServer(t, nil))
	})
	t.Run("redis limiter", func(t *testing.T) {
		t.Parallel()
		url, prefix := svctest.Redis(t)
		run(t, startServer(t, map[string]string{"LATCH_REDIS_URL": url, "LATCH_REDIS_PREFIX": prefix}))
	})
}

// retryAfter returns r's Retry-After, which must be whole seconds >= 1.
func retryAfter(t *testing.T, r *response) int {
	t.Helper()
	n, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || n < 1 {
		t.Fatalf("%d with Retry-After %q, want whole seconds >= 1", r.Status, r.Header.Get("Retry-After"))
	}
	return n
}
