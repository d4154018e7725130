package main

import (
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/svctest"
)

// Emailed links (confirmation, email change, reset) against account
// takeover: a pending link dies with every event that cuts an account's
// tokens off, a confirmation link activates the password of the signup that
// sent it, an email-change confirmation starts no session, and notice mails
// are capped. Each test runs on SQLite and on PostgreSQL.

// onBothStores runs fn against a server on SQLite and one on PostgreSQL
// (env is added to the server's environment).
func onBothStores(t *testing.T, env map[string]string, fn func(t *testing.T, s *server)) {
	t.Helper()
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range env {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, startServer(t, with(nil)))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, startServer(t, with(map[string]string{"LATCH_DATABASE_URL": svctest.PostgresURL(t)})))
	})
}

const attackerPassword = "mallory holds this phrase"

// An attacker who once knew the password asks for an email change to their
// own address; the owner then resets or changes the password or logs out
// everywhere. The pending email-change link must die with that.
func TestLinksEmailChangeLinkDiesWithCutOff(t *testing.T) {
	t.Parallel()
	cutOffs := []struct {
		name string
		// cut runs the owner's defence.
		cut func(t *testing.T, s *server, owner, access string)
		// newPassword is the owner's password afterwards.
		newPassword string
	}{
		{"password reset", func(t *testing.T, s *server, owner, _ string) {
			s.do("POST", "/v1/password/forgot", "", map[string]string{"email": owner}).want(t, 202, "")
			tok := linkToken(t, s.mailTo(owner, 2))
			s.do("POST", "/v1/password/reset", "", map[string]string{"token": tok, "password": "quiet river stone lamp"}).want(t, 200, "")
		}, "quiet river stone lamp"},
		{"password change", func(t *testing.T, s *server, _, access string) {
			s.do("POST", "/v1/password/change", access, map[string]string{"current_password": goodPassword, "new_password": "quiet river stone lamp"}).want(t, 200, "")
		}, "quiet river stone lamp"},
		{"logout all", func(t *testing.T, s *server, _, access string) {
			s.do("POST", "/v1/logout/all", access, nil).want(t, 204, "")
		}, goodPassword},
	}
	for _, c := range cutOffs {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			onBothStores(t, nil, func(t *testing.T, s *server) {
				owner, attacker := "owner@example.com", "attacker@example.net"
				conf := s.signupConfirmed(owner, goodPassword)
				stolen := s.do("POST", "/v1/login", "", map[string]string{"email": owner, "password": goodPassword}).want(t, 200, "")
				s.do("POST", "/v1/email/change", stolen.str("access_token"), map[string]string{"new_email": attacker, "password": goodPassword}).want(t, 202, "")
				link := linkToken(t, s.mailTo(attacker, 1))

				c.cut(t, s, owner, conf.str("access_token"))

				s.do("POST", "/v1/confirm", "", map[string]string{"token": link}).want(t, 400, "invalid_token")
				s.do("POST", "/v1/login", "", map[string]string{"email": attacker, "password": c.newPassword}).want(t, 401, "invalid_credentials")
				me := s.do("POST", "/v1/login", "", map[string]string{"email": owner, "password": c.newPassword}).want(t, 200, "")
				if u := me.Body["user"].(map[string]any); u["email"] != owner {
					t.Fatalf("the account moved: %v", u)
				}
			})
		})
	}
}

// A confirmation link mailed before a password reset dies with the reset.
func TestLinksSignupLinkDiesWithReset(t *testing.T) {
	t.Parallel()
	onBothStores(t, nil, func(t *testing.T, s *server) {
		addr := "slow@example.com"
		s.do("POST", "/v1/signup", "", map[string]string{"email": addr, "password": goodPassword}).want(t, 202, "")
		confirm := linkToken(t, s.mailTo(addr, 1))
		s.do("POST", "/v1/password/forgot", "", map[string]string{"email": addr}).want(t, 202, "")
		reset := linkToken(t, s.mailTo(addr, 2))
		s.do("POST", "/v1/password/reset", "", map[string]string{"token": reset, "password": "a fresh passphrase here"}).want(t, 200, "")
		s.do("POST", "/v1/confirm", "", map[string]string{"token": confirm}).want(t, 400, "invalid_token")
		s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": goodPassword}).want(t, 401, "invalid_credentials")
		s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": "a fresh passphrase here"}).want(t, 200, "")
	})
}

// Pre-account hijacking: an attacker signs up with the victim's address and
// their own password; the victim signs up later and confirms from their
// mailbox. The victim's password must be the one that works.
func TestLinksSquattedSignup(t *testing.T) {
	t.Parallel()
	onBothStores(t, nil, func(t *testing.T, s *server) {
		victim := "victim@example.com"
		s.do("POST", "/v1/signup", "", map[string]string{"email": victim, "password": attackerPassword}).want(t, 202, "")
		squatLink := linkToken(t, s.mailTo(victim, 1))
		// Unconfirmed: the victim's signup answers the same and mails a link.
		s.do("POST", "/v1/signup", "", map[string]string{"email": victim, "password": goodPassword}).want(t, 202, "")
		link := linkToken(t, s.mailTo(victim, 2))

		conf := s.do("POST", "/v1/confirm", "", map[string]string{"token": link}).want(t, 200, "")
		s.do("GET", "/v1/me", conf.str("access_token"), nil).want(t, 200, "")
		s.do("POST", "/v1/login", "", map[string]string{"email": victim, "password": attackerPassword}).want(t, 401, "invalid_credentials")
		s.do("POST", "/v1/login", "", map[string]string{"email": victim, "password": goodPassword}).want(t, 200, "")
		// Confirming voided the squatter's link.
		s.do("POST", "/v1/confirm", "", map[string]string{"token": squatLink}).want(t, 400, "invalid_token")
	})
}

// A resend link activates the password of the latest signup.
func TestLinksResendCarriesLatestSignup(t *testing.T) {
	t.Parallel()
	onBothStores(t, nil, func(t *testing.T, s *server) {
		victim := "victim@example.com"
		s.do("POST", "/v1/signup", "", map[string]string{"email": victim, "password": attackerPassword}).want(t, 202, "")
		s.mailTo(victim, 1)
		s.do("POST", "/v1/signup", "", map[string]string{"email": victim, "password": goodPassword}).want(t, 202, "")
		s.mailTo(victim, 2)
		s.do("POST", "/v1/confirm/resend", "", map[string]string{"email": victim}).want(t, 202, "")
		link := linkToken(t, s.mailTo(victim, 3))
		s.do("POST", "/v1/confirm", "", map[string]string{"token": link}).want(t, 200, "")
		s.do("POST", "/v1/login", "", map[string]string{"email": victim, "password": attackerPassword}).want(t, 401, "invalid_credentials")
		s.do("POST", "/v1/login", "", map[string]string{"email": victim, "password": goodPassword}).want(t, 200, "")
	})
}

// An attacker moves their own account to the victim's address; the
// victim's click on the link proves only that they read their mailbox and
// must not log them in to the attacker's account.
func TestLinksEmailChangeConfirmStartsNoSession(t *testing.T) {
	t.Parallel()
	onBothStores(t, nil, func(t *testing.T, s *server) {
		attacker, victim := "attacker@example.net", "victim@example.com"
		conf := s.signupConfirmed(attacker, attackerPassword)
		s.do("POST", "/v1/email/change", conf.str("access_token"), map[string]string{"new_email": victim, "password": attackerPassword}).want(t, 202, "")
		link := linkToken(t, s.mailTo(victim, 1))

		r := s.do("POST", "/v1/confirm", "", map[string]string{"token": link}).want(t, 200, "")
		if r.str("status") != "email_changed" {
			t.Fatalf("email-change confirm answered %s, want status email_changed", r.Raw)
		}
		if _, ok := r.Body["access_token"]; ok {
			t.Fatalf("email-change confirm answered tokens: %s", r.Raw)
		}
		if _, ok := r.Body["refresh_token"]; ok {
			t.Fatalf("email-change confirm answered tokens: %s", r.Raw)
		}
		if h := r.Header.Get("Authorization"); h != "" {
			t.Fatalf("email-change confirm set Authorization: %q", h)
		}
		// The change itself happened: the attacker now signs in with the
		// new address, and the old address was told.
		s.do("POST", "/v1/login", "", map[string]string{"email": victim, "password": attackerPassword}).want(t, 200, "")
		s.mailTo(attacker, 2)
	})
}

// Eight signups for a confirmed address mail its owner at most five
// notices.
func TestLinksDuplicateSignupNoticesCapped(t *testing.T) {
	t.Parallel()
	onBothStores(t, map[string]string{"LATCH_RATE_LIMITS": "false"}, func(t *testing.T, s *server) {
		owner := "popular@example.com"
		s.signupConfirmed(owner, goodPassword)
		for range 8 {
			s.do("POST", "/v1/signup", "", map[string]string{"email": owner, "password": attackerPassword}).want(t, 202, "")
		}
		// The outbox is delivered in order: once a later mail (the reset
		// link) arrived, every notice queued before it was delivered.
		s.do("POST", "/v1/password/forgot", "", map[string]string{"email": owner}).want(t, 202, "")
		const want = 1 + 5 + 1 // confirmation, notices, reset
		last := s.mailTo(owner, want)
		if text, _ := last["text"].(string); !strings.Contains(text, "/reset-password?token=") {
			t.Fatalf("mail #%d to the owner is not the reset link (more than 5 notices?): %v", want, last)
		}
		if n := s.mailCount(owner); n != want {
			t.Fatalf("the owner got %d mails, want %d (1 confirmation, 5 notices, 1 reset)", n, want)
		}
	})
}
