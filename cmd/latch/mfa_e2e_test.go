package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// authenticator is the test's authenticator app: it computes TOTP codes
// from the secret latch handed out, with pquerna/otp as any app would,
// and remembers the last time step it used so that each code it gives is
// one latch has not seen (a code is accepted once, for a later step only).
type authenticator struct {
	t      *testing.T
	secret string
	last   int64
}

// code returns a code for a time step latch will accept now: the first
// unused step within one step of drift, waiting for the clock when all
// three are used. It keeps clear of step boundaries, where the test and
// the server could see different steps.
func (a *authenticator) code() string {
	a.t.Helper()
	for {
		now := time.Now()
		if into := now.Unix() % 30; into >= 28 {
			time.Sleep(time.Duration(31-into) * time.Second)
			continue
		}
		cur := now.Unix() / 30
		step := max(a.last+1, cur-1)
		if step > cur+1 {
			time.Sleep(time.Until(time.Unix((cur+1)*30+1, 0)))
			continue
		}
		c, err := totp.GenerateCodeCustom(a.secret, time.Unix(step*30, 0), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			a.t.Fatal(err)
		}
		a.last = step
		return c
	}
}

// enrolTOTP turns on an authenticator app for the holder of access and
// returns it with the recovery codes.
func (s *server) enrolTOTP(access, password string) (*authenticator, []string) {
	s.t.Helper()
	t := s.t
	r := s.do("POST", "/v1/mfa/totp", access, map[string]string{"password": password}).want(t, 200, "")
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("enrolment answer Cache-Control %q, want no-store", cc)
	}
	secret, u := r.str("secret"), r.str("otpauth_url")
	if secret == "" || !strings.HasPrefix(u, "otpauth://totp/") {
		t.Fatalf("enrolment: %s", r.Raw)
	}
	key, err := otp.NewKeyFromURL(u)
	if err != nil || key.Secret() != secret || key.Period() != 30 || key.Digits() != otp.DigitsSix || key.Algorithm() != otp.AlgorithmSHA1 {
		t.Fatalf("otpauth URL %q: %v", u, err)
	}
	img, err := base64.StdEncoding.DecodeString(r.str("qr_png"))
	if err != nil {
		t.Fatalf("qr_png: %v", err)
	}
	if _, err := png.Decode(bytes.NewReader(img)); err != nil {
		t.Fatalf("qr_png is no PNG: %v", err)
	}
	a := &authenticator{t: t, secret: secret, last: -1}
	// Not on until the first code.
	st := s.do("GET", "/v1/mfa", access, nil).want(t, 200, "")
	if st.Body["totp"] != false {
		t.Fatalf("TOTP on before its first code: %s", st.Raw)
	}
	s.do("POST", "/v1/mfa/totp/confirm", access, map[string]string{"code": "000000x"}).want(t, 401, "invalid_credentials")
	c := s.do("POST", "/v1/mfa/totp/confirm", access, map[string]string{"code": a.code()}).want(t, 200, "")
	var codes []string
	for _, v := range c.Body["recovery_codes"].([]any) {
		codes = append(codes, v.(string))
	}
	if len(codes) != 10 {
		t.Fatalf("recovery codes: %s", c.Raw)
	}
	return a, codes
}

// mfaRequired logs in with the password of an account with a second
// factor and returns the mfa_token.
func (s *server) mfaRequired(addr, pw string) string {
	s.t.Helper()
	r := s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": pw}).want(s.t, 403, "mfa_required")
	if r.str("mfa_token") == "" {
		s.t.Fatalf("mfa_required without an mfa_token: %s", r.Raw)
	}
	if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Authorization") != "" {
		s.t.Fatalf("mfa_required headers: %v", r.Header)
	}
	return r.str("mfa_token")
}

// accessClaims decodes the claims of an access token.
func accessClaims(t *testing.T, at string) map[string]any {
	t.Helper()
	parts := strings.Split(at, ".")
	if len(parts) != 3 {
		t.Fatalf("access token %q", at)
	}
	var c map[string]any
	decodeSeg(t, parts[1], &c)
	return c
}

func wantAMR(t *testing.T, at string, amr []string, acr string) {
	t.Helper()
	c := accessClaims(t, at)
	var got []string
	for _, v := range c["amr"].([]any) {
		got = append(got, v.(string))
	}
	if !slices.Equal(got, amr) || c["acr"] != acr {
		t.Fatalf("amr %v acr %v, want %v %v", got, c["acr"], amr, acr)
	}
}

// TestMFATOTPLogin: enrol with the password, activate with a first code,
// then a login answers mfa_required and completes with a code; a code is
// accepted once; recovery codes work once each; amr and acr say how the
// session was authenticated, across refreshes. On SQLite and PostgreSQL.
func TestMFATOTPLogin(t *testing.T) {
	adminFlavours(t, func(t *testing.T, env map[string]string) {
		s := startServer(t, env)
		const addr = "kate@example.com"
		id := s.adminCreate(addr)
		first := s.login(addr, goodPassword)
		wantAMR(t, first.str("access_token"), []string{"pwd"}, "aal1")
		access := first.str("access_token")

		s.do("POST", "/v1/mfa/totp", access, map[string]string{}).want(t, 400, "invalid_request")
		s.do("POST", "/v1/mfa/totp", access, map[string]string{"password": "wrong password!"}).want(t, 401, "invalid_credentials")
		s.do("POST", "/v1/mfa/totp", "", map[string]string{"password": goodPassword}).want(t, 401, "invalid_token")
		app, recovery := s.enrolTOTP(access, goodPassword)
		st := s.do("GET", "/v1/mfa", access, nil).want(t, 200, "")
		if st.Body["totp"] != true || st.Body["recovery_codes_left"] != float64(10) {
			t.Fatalf("status after enrolment: %s", st.Raw)
		}
		// A second enrolment is refused while one is on.
		s.do("POST", "/v1/mfa/totp", access, map[string]string{"password": goodPassword}).want(t, 409, "mfa_already_enabled")
		if !strings.Contains(s.mailTo(addr, 1)["subject"].(string), "second factor") {
			t.Fatalf("no notice of the new factor")
		}

		// The password alone no longer logs in.
		r := s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": goodPassword}).want(t, 403, "mfa_required")
		if got := r.Body["methods"]; len(got.([]any)) != 2 || got.([]any)[0] != "totp" || got.([]any)[1] != "recovery_code" {
			t.Fatalf("methods: %s", r.Raw)
		}
		mt := r.str("mfa_token")
		s.do("POST", "/v1/login/mfa", "", map[string]string{"mfa_token": mt}).want(t, 400, "invalid_request")
		s.do("POST", "/v1/login/mfa", "", map[string]string{"mfa_token": "not-a-token", "code": "123456"}).want(t, 400, "invalid_token")
		s.do("POST", "/v1/login/mfa", "", map[string]string{"mfa_token": mt, "code": "12345"}).want(t, 401, "invalid_credentials")
		// The code that activated the app is spent already.
		spent := app.last
		spentCode, _ := totp.GenerateCodeCustom(app.secret, time.Unix(spent*30, 0), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		s.do("POST", "/v1/login/mfa", "", map[string]string{"mfa_token": mt, "code": spentCode}).want(t, 401, "invalid_credentials")
		// A wrong code leaves the token usable; the right one uses it up.
		code := app.code()
		ok := s.do("POST", "/v1/login/mfa", "", map[string]string{"mfa_token": mt, "code": code}).want(t, 200, "")
		wantAMR(t, ok.str("access_token"), []string{"pwd", "otp", "mfa"}, "aal2")
		if ok.Header.Get("Authorization") != "Bearer "+ok.str("access_token") {
			t.Fatal("token answer without the Authorization header")
		}
		s.do("POST", "/v1/login/mfa", "", map[string]string{"mfa_token": mt, "code": "123456"}).want(t, 400, "invalid_token")
		// The same code again, with a fresh mfa_token: refused.
		mt2 := s.mfaRequired(addr, goodPassword)
		s.do("POST", "/v1/login/mfa", "", map[string]string{"mfa_token": mt2, "code": code}).want(t, 401, "invalid_credentials")
		// The session keeps its amr across refreshes.
		ref := s.do("POST", "/v1/token/refresh", "", map[string]string{"refresh_token": ok.str("refresh_token")}).want(t, 200, "")
		wantAMR(t, ref.str("access_token"), []string{"pwd", "otp", "mfa"}, "aal2")

		// A recovery code logs in once.
		rc := s.do("POST", "/v1/login/mfa", "", map[string]string{"mfa_token": mt2, "recovery_code": strings.ToUpper(recovery[0])}).want(t, 200, "")
		wantAMR(t, rc.str("access_token"), []string{"pwd", "mfa"}, "aal2")
		mt3 := s.mfaRequired(addr, goodPassword)
		s.do("POST", "/v1/login/mfa", "", map[string]string{"mfa_token": mt3, "recovery_code": recovery[0]}).want(t, 401, "invalid_credentials")
		if left := s.do("GET", "/v1/mfa", rc.str("access_token"), nil).want(t, 200, "").Body["recovery_codes_left"]; left != float64(9) {
			t.Fatalf("recovery codes left %v, want 9", left)
		}
		m := s.mailTo(addr, 2)
		if !strings.Contains(m["subject"].(string), "recovery code") || !strings.Contains(m["text"].(string), "9 are left") {
			t.Fatalf("recovery code notice: %v", m)
		}

		// Audit: the factor's life is on record.
		au := s.do("GET", "/admin/v1/audit?user_id="+id, testAdminKey, nil).want(t, 200, "")
		var types []string
		for _, e := range au.Body["events"].([]any) {
			types = append(types, e.(map[string]any)["type"].(string))
		}
		for _, want := range []string{"mfa_enabled", "mfa_failed", "recovery_code_used"} {
			if !slices.Contains(types, want) {
				t.Errorf("audit has no %s event: %v", want, types)
			}
		}
	})
}

// TestMFAReplayRace: the same TOTP code sent in parallel requests, each
// with its own mfa_token, logs in exactly once. On SQLite and PostgreSQL.
func TestMFAReplayRace(t *testing.T) {
	adminFlavours(t, func(t *testing.T, env map[string]string) {
		s := startServer(t, env)
		const addr = "race@example.com"
		s.adminCreate(addr)
		app, _ := s.enrolTOTP(s.login(addr, goodPassword).str("access_token"), goodPassword)
		const n = 8
		tokens := make([]string, n)
		for i := range tokens {
			tokens[i] = s.mfaRequired(addr, goodPassword)
		}
		code := app.code()
		statuses := make([]int, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				statuses[i] = s.do("POST", "/v1/login/mfa", "", map[string]string{"mfa_token": tokens[i], "code": code}).Status
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, st := range statuses {
			switch st {
			case 200:
				wins++
			case 401:
			default:
				t.Errorf("status %d, want 200 once and 401 otherwise", st)
			}
		}
		if wins != 1 {
			t.Fatalf("the same code logged in %d times (statuses %v); want once", wins, statuses)
		}
	})
}

// TestMFAStepUp: with a factor on, password change, email change, account
// deletion and factor changes need a current code besides the password;
// a password reset answers mfa_required instead of tokens.
func TestMFAStepUp(t *testing.T) {
	adminFlavours(t, func(t *testing.T, env map[string]string) {
		s := startServer(t, env)
		const addr = "step@example.com"
		s.adminCreate(addr)
		access := s.login(addr, goodPassword).str("access_token")
		app, recovery := s.enrolTOTP(access, goodPassword)
		const newPW = "a brand new passphrase"

		s.do("POST", "/v1/password/change", access, map[string]string{"current_password": goodPassword, "new_password": newPW}).want(t, 403, "mfa_required")
		s.do("POST", "/v1/password/change", access, map[string]string{"current_password": goodPassword, "new_password": newPW, "code": "000000"}).want(t, 401, "invalid_credentials")
		s.do("POST", "/v1/email/change", access, map[string]string{"new_email": "moved@example.com", "password": goodPassword}).want(t, 403, "mfa_required")
		s.do("DELETE", "/v1/me", access, map[string]string{"password": goodPassword}).want(t, 403, "mfa_required")
		s.do("POST", "/v1/mfa/recovery-codes", access, map[string]string{"password": goodPassword}).want(t, 400, "invalid_request")
		s.do("DELETE", "/v1/mfa/totp", access, map[string]string{"password": goodPassword, "code": "000000"}).want(t, 401, "invalid_credentials")
		// Nothing changed.
		s.mfaRequired(addr, goodPassword)

		pc := s.do("POST", "/v1/password/change", access, map[string]string{"current_password": goodPassword, "new_password": newPW, "code": app.code()}).want(t, 200, "")
		access = pc.str("access_token")
		// The session goes on with how it was authenticated.
		wantAMR(t, access, []string{"pwd"}, "aal1")

		// New recovery codes replace the old ones; a recovery code works
		// as the step-up code too.
		rc := s.do("POST", "/v1/mfa/recovery-codes", access, map[string]string{"password": newPW, "code": recovery[0]}).want(t, 200, "")
		fresh := rc.Body["recovery_codes"].([]any)
		if len(fresh) != 10 {
			t.Fatalf("new recovery codes: %s", rc.Raw)
		}
		mt := s.mfaRequired(addr, newPW)
		s.do("POST", "/v1/login/mfa", "", map[string]string{"mfa_token": mt, "recovery_code": recovery[1]}).want(t, 401, "invalid_credentials")

		// A reset proves the mailbox only: the second factor is still asked.
		s.do("POST", "/v1/password/forgot", "", map[string]string{"email": addr}).want(t, 202, "")
		var resetMail map[string]any
		for i := 1; ; i++ {
			m := s.mailTo(addr, i)
			if strings.Contains(m["text"].(string), "/reset-password?token=") {
				resetMail = m
				break
			}
		}
		const resetPW = "reset passphrase here"
		r := s.do("POST", "/v1/password/reset", "", map[string]string{"token": linkToken(t, resetMail), "password": resetPW}).want(t, 403, "mfa_required")
		if r.str("access_token") != "" || r.str("mfa_token") == "" {
			t.Fatalf("reset answer: %s", r.Raw)
		}
		s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": newPW}).want(t, 401, "invalid_credentials")
		done := s.do("POST", "/v1/login/mfa", "", map[string]string{"mfa_token": r.str("mfa_token"), "recovery_code": fresh[0].(string)}).want(t, 200, "")
		access = done.str("access_token")

		// Turning the app off needs the password and a code; then the
		// password alone logs in again and the recovery codes are gone.
		s.do("DELETE", "/v1/mfa/totp", access, map[string]string{"password": resetPW, "code": app.code()}).want(t, 204, "")
		st := s.do("GET", "/v1/mfa", access, nil).want(t, 200, "")
		if st.Body["totp"] != false || st.Body["recovery_codes_left"] != float64(0) {
			t.Fatalf("after turning off: %s", st.Raw)
		}
		s.login(addr, resetPW)
		s.do("DELETE", "/v1/me", access, map[string]string{"password": resetPW}).want(t, 204, "")
	})
}

// TestMFAOAuthGrant: the password grant answers mfa_required with an
// mfa_token, and the MFA grant completes it.
func TestMFAOAuthGrant(t *testing.T) {
	s := startServer(t, map[string]string{"LATCH_ADMIN_KEY": testAdminKey, "LATCH_RATE_LIMITS": "false"})
	const addr = "oauth@example.com"
	s.adminCreate(addr)
	app, recovery := s.enrolTOTP(s.login(addr, goodPassword).str("access_token"), goodPassword)
	form := func(v url.Values) *response {
		t.Helper()
		resp, err := http.PostForm(s.URL+"/oauth/token", v)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		out := &response{Status: resp.StatusCode, Header: resp.Header, Raw: buf.String()}
		_ = json.Unmarshal(buf.Bytes(), &out.Body)
		return out
	}
	r := form(url.Values{"grant_type": {"password"}, "username": {addr}, "password": {goodPassword}})
	if r.Status != 403 || r.str("error") != "mfa_required" || r.str("mfa_token") == "" {
		t.Fatalf("password grant: %d %s", r.Status, r.Raw)
	}
	grant := "urn:latch:params:oauth:grant-type:mfa"
	bad := form(url.Values{"grant_type": {grant}, "mfa_token": {r.str("mfa_token")}, "otp": {"000000"}})
	if bad.Status != 400 || bad.str("error") != "invalid_grant" {
		t.Fatalf("wrong otp: %d %s", bad.Status, bad.Raw)
	}
	ok := form(url.Values{"grant_type": {grant}, "mfa_token": {r.str("mfa_token")}, "otp": {app.code()}})
	if ok.Status != 200 || ok.str("access_token") == "" || ok.str("refresh_token") == "" {
		t.Fatalf("MFA grant: %d %s", ok.Status, ok.Raw)
	}
	wantAMR(t, ok.str("access_token"), []string{"pwd", "otp", "mfa"}, "aal2")
	again := form(url.Values{"grant_type": {grant}, "mfa_token": {r.str("mfa_token")}, "recovery_code": {recovery[0]}})
	if again.Status != 400 || again.str("error") != "invalid_grant" {
		t.Fatalf("used mfa_token: %d %s", again.Status, again.Raw)
	}
}

// TestMFAAdminReset: an admin sees and removes a user's factors (audited,
// the user told); then the password alone logs in.
func TestMFAAdminReset(t *testing.T) {
	adminFlavours(t, func(t *testing.T, env map[string]string) {
		s := startServer(t, env)
		const addr = "lost@example.com"
		id := s.adminCreate(addr)
		s.enrolTOTP(s.login(addr, goodPassword).str("access_token"), goodPassword)
		st := s.do("GET", "/admin/v1/users/"+id+"/mfa", testAdminKey, nil).want(t, 200, "")
		if st.Body["totp"] != true {
			t.Fatalf("admin status: %s", st.Raw)
		}
		s.do("DELETE", "/admin/v1/users/"+id+"/mfa", "", nil).want(t, 401, "")
		s.do("DELETE", "/admin/v1/users/nobody/mfa", testAdminKey, nil).want(t, 404, "not_found")
		s.mfaRequired(addr, goodPassword)
		s.do("DELETE", "/admin/v1/users/"+id+"/mfa", testAdminKey, nil).want(t, 204, "")
		s.login(addr, goodPassword)
		au := s.do("GET", "/admin/v1/audit?type=mfa_reset&user_id="+id, testAdminKey, nil).want(t, 200, "")
		evs := au.Body["events"].([]any)
		if len(evs) != 1 || evs[0].(map[string]any)["actor"] != "admin_key" {
			t.Fatalf("audit: %s", au.Raw)
		}
		if m := s.mailTo(addr, 2); !strings.Contains(m["text"].(string), "administrator removed") {
			t.Fatalf("reset notice: %v", m)
		}
	})
}

// TestMFAThrottle: wrong codes count against login's per-account throttle
// (and the right password does not clear it while the code is missing).
func TestMFAThrottle(t *testing.T) {
	s := startServer(t, map[string]string{"LATCH_ADMIN_KEY": testAdminKey})
	const addr = "guess@example.com"
	s.adminCreate(addr)
	app, _ := s.enrolTOTP(s.login(addr, goodPassword).str("access_token"), goodPassword)
	mt := s.mfaRequired(addr, goodPassword) // one attempt
	for range 4 {
		s.do("POST", "/v1/login/mfa", "", map[string]string{"mfa_token": mt, "code": "000000"}).want(t, 401, "invalid_credentials")
	}
	r := s.do("POST", "/v1/login/mfa", "", map[string]string{"mfa_token": mt, "code": app.code()}).want(t, 429, "rate_limited")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// The password does not reset the count either.
	s.do("POST", "/v1/login", "", map[string]string{"email": addr, "password": goodPassword}).want(t, 429, "rate_limited")
}

// mfaTOTPOpenAPI drives every second-factor operation for
// TestOpenAPIResponses, which checks each answer against the document.
func mfaTOTPOpenAPI[A any](t *testing.T, call func(method, path, bearer string, body any) A, want func(A, int) A, str func(A, string) string, adminKey, pw string) {
	t.Helper()
	const addr = "two-factor@example.com"
	id := str(want(call("POST", "/admin/v1/users", adminKey, map[string]any{"email": addr, "password": pw, "email_confirmed": true}), 201), "id")
	at := str(want(call("POST", "/v1/login", "", map[string]string{"email": addr, "password": pw}), 200), "access_token")
	want(call("GET", "/v1/mfa", at, nil), 200)
	app := &authenticator{t: t, secret: str(want(call("POST", "/v1/mfa/totp", at, map[string]string{"password": pw}), 200), "secret"), last: -1}
	want(call("POST", "/v1/mfa/totp/confirm", at, map[string]string{"code": "000000"}), 401)
	want(call("POST", "/v1/mfa/totp/confirm", at, map[string]string{"code": app.code()}), 200)
	want(call("POST", "/v1/mfa/totp", at, map[string]string{"password": pw}), 409)
	want(call("POST", "/v1/password/change", at, map[string]string{"current_password": pw, "new_password": pw + "?"}), 403)
	mt := str(want(call("POST", "/v1/login", "", map[string]string{"email": addr, "password": pw}), 403), "mfa_token")
	want(call("POST", "/v1/login/mfa", "", map[string]string{"mfa_token": mt, "code": "000000"}), 401)
	want(call("POST", "/v1/login/mfa", "", map[string]string{"mfa_token": mt, "code": app.code()}), 200)
	want(call("POST", "/v1/login/mfa", "", map[string]string{"mfa_token": mt, "code": "000000"}), 400)
	want(call("POST", "/oauth/token", "", url.Values{"grant_type": {"password"}, "username": {addr}, "password": {pw}}), 403)
	want(call("POST", "/v1/mfa/recovery-codes", at, map[string]string{"password": pw, "code": "000000"}), 401)
	want(call("DELETE", "/v1/mfa/totp", at, map[string]string{"password": pw, "code": app.code()}), 204)
	want(call("POST", "/v1/mfa/recovery-codes", at, map[string]string{"password": pw, "code": "000000"}), 400)
	want(call("GET", "/admin/v1/users/"+id+"/mfa", adminKey, nil), 200)
	want(call("DELETE", "/admin/v1/users/"+id+"/mfa", adminKey, nil), 204)
	want(call("DELETE", "/admin/v1/users/nobody/mfa", adminKey, nil), 404)
}

// TestMFACLIReset: latch user reset-mfa removes a user's factors on the
// database directly, audited with the actor "cli".
func TestMFACLIReset(t *testing.T) {
	s := startServer(t, map[string]string{"LATCH_ADMIN_KEY": testAdminKey, "LATCH_RATE_LIMITS": "false"})
	const addr = "phone-lost@example.com"
	id := s.adminCreate(addr)
	s.enrolTOTP(s.login(addr, goodPassword).str("access_token"), goodPassword)
	s.mfaRequired(addr, goodPassword)
	out, err := s.cli("user", "reset-mfa", addr)
	if err != nil || !strings.Contains(out, "second factors removed "+id) {
		t.Fatalf("latch user reset-mfa: %v\n%s", err, out)
	}
	s.login(addr, goodPassword)
	evs := s.events("type=mfa_reset&user_id=" + id)
	if len(evs) != 1 || evs[0]["actor"] != "cli" {
		t.Fatalf("audit: %v", evs)
	}
	if out, err := s.cli("user", "reset-mfa", "nobody@example.com"); err == nil {
		t.Fatalf("reset-mfa of an unknown user succeeded: %s", out)
	}
}

// TestMFATokenBinding: an mfa_token is bound to its password check and
// to the client that asked: a password change or logout everywhere voids
// it, and one asked for through an OAuth client is redeemed only there.
func TestMFATokenBinding(t *testing.T) {
	s := startServer(t, map[string]string{"LATCH_ADMIN_KEY": testAdminKey, "LATCH_RATE_LIMITS": "false"})
	const addr = "bound@example.com"
	s.adminCreate(addr)
	access := s.login(addr, goodPassword).str("access_token")
	app, recovery := s.enrolTOTP(access, goodPassword)

	// Through a client: not redeemable without it.
	resp, err := http.PostForm(s.URL+"/oauth/token", url.Values{"grant_type": {"password"}, "username": {addr}, "password": {goodPassword}, "client_id": {"mobile"}})
	if err != nil {
		t.Fatal(err)
	}
	var oe map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&oe)
	resp.Body.Close()
	clientToken, _ := oe["mfa_token"].(string)
	if resp.StatusCode != 403 || clientToken == "" {
		t.Fatalf("password grant with a client: %d %v", resp.StatusCode, oe)
	}
	s.do("POST", "/v1/login/mfa", "", map[string]string{"mfa_token": clientToken, "recovery_code": recovery[0]}).want(t, 400, "invalid_token")

	// A password change voids tokens asked for with the old password.
	stale := s.mfaRequired(addr, goodPassword)
	const newPW = "another fine passphrase"
	s.do("POST", "/v1/password/change", access, map[string]string{"current_password": goodPassword, "new_password": newPW, "code": app.code()}).want(t, 200, "")
	s.do("POST", "/v1/login/mfa", "", map[string]string{"mfa_token": stale, "recovery_code": recovery[0]}).want(t, 400, "invalid_token")

	// So does logging out everywhere.
	live := s.mfaRequired(addr, newPW)
	pair := s.do("POST", "/v1/login/mfa", "", map[string]string{"mfa_token": s.mfaRequired(addr, newPW), "recovery_code": recovery[0]}).want(t, 200, "")
	s.do("POST", "/v1/logout/all", pair.str("access_token"), nil).want(t, 204, "")
	s.do("POST", "/v1/login/mfa", "", map[string]string{"mfa_token": live, "recovery_code": recovery[1]}).want(t, 400, "invalid_token")
}

// TestMFAStepUpThrottle: the right password with wrong codes at a step-up
// never clears the account throttle, so it buys no extra guesses.
func TestMFAStepUpThrottle(t *testing.T) {
	s := startServer(t, map[string]string{"LATCH_ADMIN_KEY": testAdminKey})
	const addr = "stepguess@example.com"
	s.adminCreate(addr)
	access := s.login(addr, goodPassword).str("access_token")
	s.enrolTOTP(access, goodPassword)
	saw429 := false
	for i := 0; i < 6 && !saw429; i++ {
		r := s.do("DELETE", "/v1/mfa/totp", access, map[string]string{"password": goodPassword, "code": "000000"})
		switch r.Status {
		case 401:
		case 429:
			saw429 = true
		default:
			t.Fatalf("step-up with a wrong code: %d %s", r.Status, r.Raw)
		}
	}
	if !saw429 {
		t.Fatal("six step-ups with the right password and a wrong code were never throttled")
	}
}

// TestMFAFailureBurst: a burst of wrong codes is an audit event and mails
// the user once.
func TestMFAFailureBurst(t *testing.T) {
	s := startServer(t, map[string]string{"LATCH_ADMIN_KEY": testAdminKey, "LATCH_RATE_LIMITS": "false"})
	const addr = "burst@example.com"
	id := s.adminCreate(addr)
	s.enrolTOTP(s.login(addr, goodPassword).str("access_token"), goodPassword)
	mt := s.mfaRequired(addr, goodPassword)
	for range 8 {
		s.do("POST", "/v1/login/mfa", "", map[string]string{"mfa_token": mt, "code": "000000"}).want(t, 401, "invalid_credentials")
	}
	if evs := s.events("type=mfa_failure_burst&user_id=" + id); len(evs) != 1 {
		t.Fatalf("burst events: %v", evs)
	}
	if m := s.mailTo(addr, 2); !strings.Contains(m["subject"].(string), "Wrong codes") {
		t.Fatalf("burst notice: %v", m)
	}
	// The enrolment's wrong code made one failure too: 9 in all.
	if evs := s.events("type=mfa_failed&user_id=" + id); len(evs) != 9 {
		t.Fatalf("mfa_failed events: %d, want 9", len(evs))
	}
}
