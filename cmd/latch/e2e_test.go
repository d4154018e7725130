package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/mail"
	"github.com/latchauth/latch/internal/svctest"
)

const goodPassword = "correct horse battery staple"

// TestLifecycle walks the README's path: signup, confirm (link from the
// log), login, me, refresh, sessions, logout.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	addr := "Ada.Lovelace@Example.com"

	r := s.do("POST", "/v1/signup", "", map[string]string{"email": addr, "password": goodPassword}).want(t, 202, "")
	if r.str("status") != "confirmation_sent" {
		t.Fatalf("signup body %s", r.Raw)
	}
	// Not confirmed yet: the right password gets 403 email_not_confirmed.
	s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": goodPassword}).want(t, 403, "email_not_confirmed")

	tok := linkToken(t, s.mailTo(addr, 1))
	if !strings.Contains(s.mailTo(addr, 1)["text"].(string), "http://latch.test/confirm?token=") {
		t.Fatalf("confirm link not built from LATCH_PUBLIC_URL: %v", s.mailTo(addr, 1)["text"])
	}
	conf := s.do("POST", "/v1/confirm", "", map[string]string{"token": tok}).want(t, 200, "")
	checkTokenAnswer(t, s, conf, addr)
	// Single use.
	s.do("POST", "/v1/confirm", "", map[string]string{"token": tok}).want(t, 400, "invalid_token")

	// Emails match case-insensitively.
	login := s.do("POST", "/v1/login", "", map[string]string{"email": "ada.lovelace@example.COM", "password": goodPassword}).want(t, 200, "")
	checkTokenAnswer(t, s, login, addr)
	at, rt := login.str("access_token"), login.str("refresh_token")

	me := s.do("GET", "/v1/me", at, nil).want(t, 200, "")
	if me.str("email") != addr || me.Body["email_confirmed"] != true {
		t.Fatalf("me %s", me.Raw)
	}

	ref := s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": rt}).want(t, 200, "")
	checkTokenAnswer(t, s, ref, addr)
	if ref.str("refresh_token") == rt {
		t.Fatal("refresh did not rotate the refresh token")
	}

	sess := s.do("GET", "/v1/sessions", ref.str("access_token"), nil).want(t, 200, "")
	list, _ := sess.Body["sessions"].([]any)
	if len(list) != 2 {
		t.Fatalf("want 2 sessions (confirm and login), got %s", sess.Raw)
	}
	current := 0
	for _, e := range list {
		if e.(map[string]any)["current"] == true {
			current++
		}
	}
	if current != 1 {
		t.Fatalf("want exactly one current session: %s", sess.Raw)
	}

	s.do("POST", "/v1/logout", ref.str("access_token"), map[string]any{}).want(t, 204, "")
	// The logged-out session's access token is refused at once.
	r = s.do("GET", "/v1/me", ref.str("access_token"), nil).want(t, 401, "invalid_token")
	if !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
	}
	s.do("GET", "/v1/me", at, nil).want(t, 401, "invalid_token")
	s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": ref.str("refresh_token")}).want(t, 401, "invalid_token")
	// The confirm session is still alive.
	s.do("GET", "/v1/me", conf.str("access_token"), nil).want(t, 200, "")
}

func checkTokenAnswer(t *testing.T, s *server, r *response, email string) {
	t.Helper()
	if r.str("token_type") != "Bearer" || r.Body["expires_in"] != float64(900) || r.str("refresh_token") == "" {
		t.Fatalf("token answer %s", r.Raw)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+r.str("access_token") {
		t.Fatalf("Authorization header %q", got)
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Fatalf("Cache-Control %q", cc)
	}
	u, _ := r.Body["user"].(map[string]any)
	if u["email"] != email || u["id"] == "" {
		t.Fatalf("user %v", u)
	}
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(u["created_at"])); err != nil {
		t.Fatalf("created_at %v: %v", u["created_at"], err)
	}
	// The access token is a JWT with api.md's header and claims.
	parts := strings.Split(r.str("access_token"), ".")
	if len(parts) != 3 {
		t.Fatalf("access token is not a compact JWS")
	}
	var hdr, claims map[string]any
	decodeSeg(t, parts[0], &hdr)
	decodeSeg(t, parts[1], &claims)
	if hdr["alg"] != "EdDSA" || hdr["typ"] != "at+jwt" || hdr["kid"] == nil {
		t.Fatalf("header %v", hdr)
	}
	for _, c := range []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "roles", "email", "email_verified"} {
		if _, ok := claims[c]; !ok {
			t.Fatalf("claim %s missing: %v", c, claims)
		}
	}
	if claims["iss"] != "http://latch.test" || claims["sub"] != u["id"] {
		t.Fatalf("claims %v", claims)
	}
	if rs, _ := claims["roles"].([]any); len(rs) != 1 || rs[0] != "user" {
		t.Fatalf("roles %v", claims["roles"])
	}
	// The key that signed it is published.
	jwks := s.do("GET", "/.well-known/jwks.json", "", nil).want(t, 200, "")
	found := false
	for _, k := range jwks.Body["keys"].([]any) {
		km := k.(map[string]any)
		if km["kid"] == hdr["kid"] && km["alg"] == "EdDSA" && km["use"] == "sig" && km["d"] == nil {
			found = true
		}
	}
	if !found {
		t.Fatalf("kid %v not in JWKS %s", hdr["kid"], jwks.Raw)
	}
}

func decodeSeg(t *testing.T, seg string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestRefreshReuseEndsSession(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"LATCH_REFRESH_GRACE": "1ms"})
	conf := s.signupConfirmed("reuse@example.com", goodPassword)
	rt0 := conf.str("refresh_token")
	r1 := s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": rt0}).want(t, 200, "")
	time.Sleep(5 * time.Millisecond) // past the 1 ms grace window
	// The old token again: theft. The whole session ends.
	s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": rt0}).want(t, 401, "invalid_token")
	s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": r1.str("refresh_token")}).want(t, 401, "invalid_token")
	s.do("GET", "/v1/me", r1.str("access_token"), nil).want(t, 401, "invalid_token")
	if n := s.logs.count(func(l map[string]any) bool { return l["event"] == "refresh_reuse_detected" }); n != 1 {
		t.Fatalf("want one refresh_reuse_detected log line, got %d", n)
	}
}

func TestRefreshGraceGivesSameSuccessor(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	conf := s.signupConfirmed("grace@example.com", goodPassword)
	rt0 := conf.str("refresh_token")
	// Concurrent retries of the same refresh: all succeed with one successor.
	const n = 8
	var wg sync.WaitGroup
	got := make([]*response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": rt0})
		}()
	}
	wg.Wait()
	succ := ""
	for _, r := range got {
		r.want(t, 200, "")
		if succ == "" {
			succ = r.str("refresh_token")
		}
		if r.str("refresh_token") != succ {
			t.Fatalf("retries got different successors")
		}
	}
	// The successor works; once it is used, the first token is theft.
	r2 := s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": succ}).want(t, 200, "")
	s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": rt0}).want(t, 401, "invalid_token")
	s.do("GET", "/v1/me", r2.str("access_token"), nil).want(t, 401, "invalid_token")
}

func TestPasswordResetFlow(t *testing.T) {
	t.Parallel()
	// Per-IP limits off: this test makes more than 10 redemptions a minute.
	s := startServer(t, map[string]string{"LATCH_RATE_LIMITS": "false"})
	addr := "reset@example.com"
	conf := s.signupConfirmed(addr, goodPassword)
	other := s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": goodPassword}).want(t, 200, "")

	// Unknown and known addresses answer alike.
	a := s.do("POST", "/v1/password/forgot", "", map[string]string{"email": "nobody@example.com"}).want(t, 202, "")
	b := s.do("POST", "/v1/password/forgot", "", map[string]string{"email": addr}).want(t, 202, "")
	if a.Raw != b.Raw {
		t.Fatalf("forgot answers differ: %s vs %s", a.Raw, b.Raw)
	}
	// Merely requesting a reset changes nothing.
	s.do("GET", "/v1/me", conf.str("access_token"), nil).want(t, 200, "")
	first := linkToken(t, s.mailTo(addr, 2))
	// A newer request voids the older token.
	s.do("POST", "/v1/password/forgot", "", map[string]string{"email": addr}).want(t, 202, "")
	tok := linkToken(t, s.mailTo(addr, 3))
	s.do("POST", "/v1/password/reset", "", map[string]string{"token": first, "password": "another good passphrase"}).want(t, 400, "invalid_token")

	// A policy error leaves the token usable.
	s.do("POST", "/v1/password/reset", "", map[string]string{"token": tok, "password": "password"}).want(t, 422, "weak_password")

	// Ten concurrent redemptions: exactly one wins.
	const n = 10
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = s.do("POST", "/v1/password/reset", "", map[string]string{"token": tok, "password": "a brand new passphrase"}).Status
		}()
	}
	wg.Wait()
	wins := 0
	for _, st := range statuses {
		switch st {
		case 200:
			wins++
		case 400:
		default:
			t.Fatalf("unexpected status %d", st)
		}
	}
	if wins != 1 {
		t.Fatalf("%d redemptions won, want exactly 1 (%v)", wins, statuses)
	}
	// Every earlier session ended; the old password is refused.
	s.do("GET", "/v1/me", conf.str("access_token"), nil).want(t, 401, "invalid_token")
	s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": other.str("refresh_token")}).want(t, 401, "invalid_token")
	s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": goodPassword}).want(t, 401, "invalid_credentials")
	s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": "a brand new passphrase"}).want(t, 200, "")
	// The owner is notified.
	notice := s.mailTo(addr, 4)
	if strings.Contains(fmt.Sprint(notice["text"]), "token=") {
		t.Fatalf("reset notification carries a token: %v", notice)
	}
}

func TestPasswordChange(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	addr := "change@example.com"
	conf := s.signupConfirmed(addr, goodPassword)
	other := s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": goodPassword}).want(t, 200, "")

	s.do("POST", "/v1/password/change", conf.str("access_token"), map[string]string{"current_password": "wrong password here", "new_password": "a new good passphrase"}).want(t, 401, "invalid_credentials")
	s.do("POST", "/v1/password/change", conf.str("access_token"), map[string]string{"current_password": goodPassword, "new_password": "12345678"}).want(t, 422, "weak_password")
	ch := s.do("POST", "/v1/password/change", conf.str("access_token"), map[string]string{"current_password": goodPassword, "new_password": "a new good passphrase"}).want(t, 200, "")
	checkTokenAnswer(t, s, ch, addr)
	s.do("GET", "/v1/me", ch.str("access_token"), nil).want(t, 200, "")
	s.do("GET", "/v1/me", other.str("access_token"), nil).want(t, 401, "invalid_token")
	s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": conf.str("refresh_token")}).want(t, 401, "invalid_token")
	s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": ch.str("refresh_token")}).want(t, 200, "")
	s.mailTo(addr, 2) // password changed notice
}

func TestLogoutAllAndSessions(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	addr := "all@example.com"
	a := s.signupConfirmed(addr, goodPassword)
	b := s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": goodPassword}).want(t, 200, "")
	c := s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": goodPassword}).want(t, 200, "")

	// Ending one of my sessions by id.
	list := s.do("GET", "/v1/sessions", a.str("access_token"), nil).want(t, 200, "")
	var cID string
	for _, e := range list.Body["sessions"].([]any) {
		m := e.(map[string]any)
		if m["current"] != true && cID == "" {
			cID = m["id"].(string)
		}
	}
	s.do("DELETE", "/v1/sessions/"+cID, a.str("access_token"), nil).want(t, 204, "")
	s.do("DELETE", "/v1/sessions/"+cID, a.str("access_token"), nil).want(t, 404, "not_found")

	// Another user cannot end mine.
	x := s.signupConfirmed("intruder@example.com", goodPassword)
	s.do("DELETE", "/v1/sessions/"+cID, x.str("access_token"), nil).want(t, 404, "not_found")

	s.do("POST", "/v1/logout/all", a.str("access_token"), nil).want(t, 204, "")
	for _, r := range []*response{a, b, c} {
		s.do("GET", "/v1/me", r.str("access_token"), nil).want(t, 401, "invalid_token")
		s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": r.str("refresh_token")}).want(t, 401, "invalid_token")
	}
	s.do("GET", "/v1/me", x.str("access_token"), nil).want(t, 200, "")
}

func TestSignupDuplicateAndConfirmOff(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	addr := "dup@example.com"
	s.signupConfirmed(addr, goodPassword)
	r := s.do("POST", "/v1/signup", "", map[string]string{"email": "DUP@example.com", "password": "some other passphrase"}).want(t, 202, "")
	if r.str("status") != "confirmation_sent" {
		t.Fatalf("duplicate signup answered %s", r.Raw)
	}
	m := s.mailTo(addr, 2)
	if strings.Contains(fmt.Sprint(m["text"]), "token=") {
		t.Fatalf("duplicate-signup mail must not carry a confirm token: %v", m)
	}
	// The original password still works; the attempt changed nothing.
	s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": goodPassword}).want(t, 200, "")

	off := startServer(t, map[string]string{"LATCH_CONFIRM_EMAIL": "false"})
	r = off.do("POST", "/v1/signup", "", map[string]string{"email": addr, "password": goodPassword}).want(t, 201, "")
	checkTokenAnswer(t, off, r, addr)
	off.do("POST", "/v1/signup", "", map[string]string{"email": addr, "password": goodPassword}).want(t, 409, "email_taken")
}

func TestResendCap(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"LATCH_RATE_LIMITS": "false"})
	addr := "resend@example.com"
	s.do("POST", "/v1/signup", "", map[string]string{"email": addr, "password": goodPassword}).want(t, 202, "")
	s.mailTo(addr, 1)
	for i := 0; i < 8; i++ {
		s.do("POST", "/v1/confirm/resend", "", map[string]string{"email": addr}).want(t, 202, "")
	}
	s.do("POST", "/v1/confirm/resend", "", map[string]string{"email": "unknown@example.com"}).want(t, 202, "")
	last := s.mailTo(addr, 6) // the signup mail and five resends
	time.Sleep(300 * time.Millisecond)
	if n := s.mailCount(addr); n != 6 {
		t.Fatalf("%d mails, want 6 (signup + 5 resends)", n)
	}
	// Only the newest link works.
	first := linkToken(t, s.mailTo(addr, 1))
	s.do("POST", "/v1/confirm", "", map[string]string{"token": first}).want(t, 400, "invalid_token")
	s.do("POST", "/v1/confirm", "", map[string]string{"token": linkToken(t, last)}).want(t, 200, "")
}

func TestEmailChangeAndDelete(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	old, nu := "old@example.com", "new@example.com"
	conf := s.signupConfirmed(old, goodPassword)
	s.signupConfirmed("taken@example.com", goodPassword)
	at := conf.str("access_token")

	s.do("POST", "/v1/email/change", at, map[string]string{"new_email": nu, "password": "not my password"}).want(t, 401, "invalid_credentials")
	s.do("POST", "/v1/email/change", at, map[string]string{"new_email": "not an address", "password": goodPassword}).want(t, 422, "invalid_email")
	// A taken address answers the same and sends nothing.
	s.do("POST", "/v1/email/change", at, map[string]string{"new_email": "taken@example.com", "password": goodPassword}).want(t, 202, "")
	s.do("POST", "/v1/email/change", at, map[string]string{"new_email": nu, "password": goodPassword}).want(t, 202, "")
	// Nothing changes before the new address confirms.
	s.do("POST", "/v1/login", "", map[string]string{"email": old, "password": goodPassword}).want(t, 200, "")
	tok := linkToken(t, s.mailTo(nu, 1))
	// It starts no session: the click proves only that the new mailbox
	// was read.
	r := s.do("POST", "/v1/confirm", "", map[string]string{"token": tok}).want(t, 200, "")
	if r.str("status") != "email_changed" || r.str("access_token") != "" {
		t.Fatalf("email-change confirm answered %s", r.Raw)
	}
	s.mailTo(old, 2) // the old address is told
	if s.mailCount("taken@example.com") != 1 {
		t.Fatal("the taken address got a mail")
	}
	s.do("POST", "/v1/login", "", map[string]string{"email": old, "password": goodPassword}).want(t, 401, "invalid_credentials")
	login := s.do("POST", "/v1/login", "", map[string]string{"email": nu, "password": goodPassword}).want(t, 200, "")
	if u := login.Body["user"].(map[string]any); u["email"] != nu {
		t.Fatalf("email after the change: %v", u)
	}

	// Deleting the account.
	s.do("DELETE", "/v1/me", login.str("access_token"), map[string]string{"password": "wrong password!"}).want(t, 401, "invalid_credentials")
	s.do("DELETE", "/v1/me", login.str("access_token"), map[string]string{"password": goodPassword}).want(t, 204, "")
	s.do("GET", "/v1/me", login.str("access_token"), nil).want(t, 401, "invalid_token")
	s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": login.str("refresh_token")}).want(t, 401, "invalid_token")
	s.do("POST", "/v1/login", "", map[string]string{"email": nu, "password": goodPassword}).want(t, 401, "invalid_credentials")
	// The address is free again.
	s.do("POST", "/v1/signup", "", map[string]string{"email": nu, "password": goodPassword}).want(t, 202, "")
}

func TestLoginThrottleAndIPLimit(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	addr := "victim@example.com"
	s.signupConfirmed(addr, goodPassword)
	// Five free failures, then 429 with Retry-After. Unknown accounts are
	// throttled alike (nothing reveals existence).
	for _, email := range []string{addr, "ghost@example.com"} {
		wrong := map[string]string{"email": email, "password": "definitely wrong"}
		for i := 0; i < 5; i++ {
			s.do("POST", "/v1/login", "", wrong).want(t, 401, "invalid_credentials")
		}
		r := s.do("POST", "/v1/login", "", wrong)
		if !svctest.Timing() {
			// The fifth failure imposes a wait of 1 s, which a guess on a
			// slow machine (hashing takes long under the race detector and
			// load) can outlast; the waits double with each failure, so
			// the throttle soon holds.
			for i := 0; i < 8 && r.Status == 401; i++ {
				r.want(t, 401, "invalid_credentials")
				r = s.do("POST", "/v1/login", "", wrong)
			}
		}
		r.want(t, 429, "rate_limited")
		if r.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	// The per-IP limit: 20 logins a minute from one address (40 tries:
	// refills are slow, a slow machine still runs into it).
	saw429 := false
	for i := 0; i < 40 && !saw429; i++ {
		r := s.do("POST", "/v1/login", "", map[string]string{"email": fmt.Sprintf("u%d@example.com", i), "password": "whatever it is"})
		saw429 = r.Status == 429
	}
	if !saw429 {
		t.Fatal("no 429 from the per-IP login limit")
	}
}

func TestClientMistakesAre4xx(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"LATCH_RATE_LIMITS": "false"})
	conf := s.signupConfirmed("mistakes@example.com", goodPassword)
	at := conf.str("access_token")
	cases := []struct {
		method, path, bearer string
		body                 any
		ctype                string
		status               int
		code                 string
	}{
		{"POST", "/v1/login", "", `{"email":`, "application/json", 400, "invalid_request"},
		{"POST", "/v1/login", "", `{"email":"a@b.co","password":"x"} {}`, "application/json", 400, "invalid_request"},
		{"POST", "/v1/login", "", `{"email":1,"password":"x"}`, "application/json", 400, "invalid_request"},
		{"POST", "/v1/login", "", `[]`, "application/json", 400, "invalid_request"},
		{"POST", "/v1/login", "", `{"email":"a@b.co","password":"x"}`, "text/plain", 415, "unsupported_media_type"},
		{"POST", "/v1/login", "", `{"email":"` + strings.Repeat("a", 70<<10) + `"}`, "application/json", 413, "payload_too_large"},
		{"POST", "/v1/signup", "", `{"email":"nope","password":"correct horse battery"}`, "application/json", 422, "invalid_email"},
		{"POST", "/v1/signup", "", `{"email":"short@example.com","password":"short"}`, "application/json", 422, "weak_password"},
		{"POST", "/v1/signup", "", `{"email":"common@example.com","password":"password123"}`, "application/json", 422, "weak_password"},
		{"POST", "/v1/signup", "", `{"email":"localpart@example.com","password":"my localpart rocks"}`, "application/json", 422, "weak_password"},
		{"POST", "/v1/confirm", "", `{"token":"not-a-token"}`, "application/json", 400, "invalid_token"},
		{"POST", "/v1/confirm", "", `{"token":"` + strings.Repeat("A", 43) + `"}`, "application/json", 400, "invalid_token"},
		{"POST", "/v1/token/refresh", "", `{"refresh_token":"garbage"}`, "application/json", 401, "invalid_token"},
		{"GET", "/v1/me", "", nil, "", 401, "invalid_token"},
		{"GET", "/v1/me", "not.a.jwt", nil, "", 401, "invalid_token"},
		{"GET", "/v1/me", at + "x", nil, "", 401, "invalid_token"},
		{"GET", "/v1/nope", "", nil, "", 404, "not_found"},
		{"GET", "/v1/login", "", nil, "", 405, "method_not_allowed"},
		{"DELETE", "/v1/sessions/does-not-exist", at, nil, "", 404, "not_found"},
	}
	for _, c := range cases {
		hdr := map[string]string{}
		var body any
		if c.body != nil {
			body = c.body
		}
		if c.ctype != "" {
			hdr["Content-Type"] = c.ctype
		}
		r := s.doWith(c.method, c.path, c.bearer, body, hdr)
		if r.Status != c.status || r.str("code") != c.code {
			t.Errorf("%s %s %.40v: got %d %q, want %d %q (%s)", c.method, c.path, c.body, r.Status, r.str("code"), c.status, c.code, r.Raw)
		}
		if r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: no nosniff", c.method, c.path)
		}
	}
	// The data is intact after all that.
	s.do("GET", "/v1/me", at, nil).want(t, 200, "")
}

// TestNoSecretsInLogs checks that, apart from the development mail lines,
// no password, access token or refresh token reaches the log.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	pw := "unique passphrase 81723"
	conf := s.signupConfirmed("logs@example.com", pw)
	ref := s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": conf.str("refresh_token")}).want(t, 200, "")
	s.do("POST", "/v1/login", "", map[string]string{"email": "logs@example.com", "password": "wrong " + pw}).want(t, 401, "")
	s.do("GET", "/v1/me", ref.str("access_token"), nil).want(t, 200, "")
	s.do("GET", "/v1/me?access_token="+ref.str("access_token"), "", nil).want(t, 401, "invalid_token")
	s.stop()
	var nonMail strings.Builder
	for _, line := range strings.Split(s.logs.all(), "\n") {
		if !strings.Contains(line, `"msg":"`+mail.LogMessage) {
			nonMail.WriteString(line + "\n")
		}
	}
	logs := nonMail.String()
	for _, secret := range []string{pw, conf.str("access_token"), conf.str("refresh_token"), ref.str("access_token"), ref.str("refresh_token")} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a secret reached the log: %.12s...", secret)
		}
	}
	if !strings.Contains(logs, `"event":"login"`) && !strings.Contains(logs, `"event":"confirm"`) {
		t.Fatalf("expected security events in the log:\n%s", logs)
	}
}

func TestJWKSAndHealth(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	r := s.do("GET", "/.well-known/jwks.json", "", nil).want(t, 200, "")
	keys, _ := r.Body["keys"].([]any)
	if len(keys) == 0 {
		t.Fatalf("no keys: %s", r.Raw)
	}
	s.do("GET", "/readyz", "", nil).want(t, 200, "")
	resp, err := http.Get(s.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestKeysSurviveRestart checks that signing keys persist (sealed with the
// development secret beside the database): tokens issued before a restart
// verify after it.
func TestKeysSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{
		"LATCH_ADDR":         "127.0.0.1:0",
		"LATCH_DATABASE_URL": "sqlite:" + dir + "/latch.db",
		"LATCH_LOG_FORMAT":   "json",
		// Fixed: without it the issuer would follow port 0's new port.
		"LATCH_PUBLIC_URL": "http://latch.test",
	}
	s := startWith(t, env)
	conf := s.signupConfirmed("restart@example.com", goodPassword)
	s.stop()
	s2 := startWith(t, env)
	s2.do("GET", "/v1/me", conf.str("access_token"), nil).want(t, 200, "")
	s2.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": conf.str("refresh_token")}).want(t, 200, "")
}

func TestProductionRefusesUnsafeConfig(t *testing.T) {
	t.Parallel()
	err := run(t.Context(), []string{"serve"}, func(k string) string {
		return map[string]string{"LATCH_ENV": "production", "LATCH_PUBLIC_URL": "http://x.example"}[k]
	}, nil, nil)
	if err == nil {
		t.Fatal("production started without LATCH_SECRET, https and SMTP")
	}
	for _, want := range []string{"LATCH_SECRET", "https", "LATCH_SMTP_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}
