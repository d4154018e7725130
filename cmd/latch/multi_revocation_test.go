package main

import (
	"testing"
	"time"

	"github.com/latchauth/latch/internal/svctest"
)

// refusedEventually waits until s refuses access on GET /v1/me, failing t
// if it does not within a generous deadline, and returns how long it took.
// Other instances learn of a revocation through the fan-out (and, were a
// notice lost, when their cached copy ages out).
func refusedEventually(t *testing.T, s *server, access string) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(svctest.Patience(10 * time.Second))
	for {
		r := s.do("GET", "/v1/me", access, nil)
		if r.Status == 401 {
			r.want(t, 401, "invalid_token")
			return time.Since(start)
		}
		r.want(t, 200, "")
		if time.Now().After(deadline) {
			t.Fatalf("%s still accepts a revoked access token after %v", s.URL, time.Since(start))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// revocationAcrossInstances logs in on A, lets every instance cache the
// session (two /v1/me each), ends it with end on A, and checks that A
// refuses the token on the very next request and the others eventually.
// It returns how long each other instance took.
func revocationAcrossInstances(t *testing.T, c *cluster, addr, pw string, end func(a *server, login *response)) []time.Duration {
	t.Helper()
	a := c.nodes[0]
	login := a.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": pw}).want(t, 200, "")
	access := login.str("access_token")
	for _, s := range c.nodes {
		s.do("GET", "/v1/me", access, nil).want(t, 200, "")
		s.do("GET", "/v1/me", access, nil).want(t, 200, "")
	}
	end(a, login)
	a.do("GET", "/v1/me", access, nil).want(t, 401, "invalid_token")
	var took []time.Duration
	for _, s := range c.nodes[1:] {
		took = append(took, refusedEventually(t, s, access))
	}
	return took
}

// Revocations of every kind reach the bearer checks of every instance,
// which answer GET /v1/me from memory in between.
func TestMultiInstanceCachedRevocations(t *testing.T) {
	// Sequential: latch with Redis in this process (see startServer).
	c := startCluster(t, 3, sharedEnv(t))
	const addr, pw = "cache@example.com", "correct horse battery"
	c.signupConfirmed(c.nodes[1], addr, pw)

	t.Run("logout", func(t *testing.T) {
		revocationAcrossInstances(t, c, addr, pw, func(a *server, login *response) {
			a.do("POST", "/v1/logout", login.str("access_token"), map[string]string{}).want(t, 204, "")
		})
	})
	t.Run("logout everywhere", func(t *testing.T) {
		revocationAcrossInstances(t, c, addr, pw, func(a *server, login *response) {
			a.do("POST", "/v1/logout/all", login.str("access_token"), map[string]string{}).want(t, 204, "")
		})
	})
	// Last: the password changes.
	t.Run("password change by another session", func(t *testing.T) {
		revocationAcrossInstances(t, c, addr, pw, func(a *server, _ *response) {
			// A cut-off spares tokens issued within its own second.
			time.Sleep(time.Second)
			other := a.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": pw}).want(t, 200, "")
			a.do("POST", "/v1/password/change", other.str("access_token"),
				map[string]string{"current_password": pw, "new_password": pw + " again"}).want(t, 200, "")
		})
	})
}

// With a quiet machine, the other instances refuse a logged-out session's
// access token within a second.
func TestMultiInstanceLogoutWithinASecond(t *testing.T) {
	// Sequential: latch with Redis in this process (see startServer).
	svctest.RequireTiming(t)
	c := startCluster(t, 3, sharedEnv(t))
	const addr, pw = "second@example.com", "correct horse battery"
	c.signupConfirmed(c.nodes[0], addr, pw)
	took := revocationAcrossInstances(t, c, addr, pw, func(a *server, login *response) {
		a.do("POST", "/v1/logout", login.str("access_token"), map[string]string{}).want(t, 204, "")
	})
	for i, d := range took {
		if d > time.Second {
			t.Errorf("instance %d refused the logged-out token only after %v", i+1, d)
		}
	}
}
