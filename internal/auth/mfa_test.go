package auth_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/mfa"
)

// mfaUser signs up addr, turns on an authenticator app at the fixture's
// clock and returns its secret, the recovery codes and the principal.
func (f *fixture) mfaUser(t *testing.T, addr string) (string, []string, *auth.Principal) {
	t.Helper()
	ctx := auth.ContextWithClient(context.Background(), client)
	p, err := f.svc.Authenticate(ctx, f.confirmed(t, addr).AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	e, err := f.svc.EnrolTOTP(ctx, p, pw, "")
	if err != nil {
		t.Fatal(err)
	}
	codes, err := f.svc.ConfirmTOTP(ctx, p, codeAt(t, e.Secret, f.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return e.Secret, codes, p
}

func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := mfa.CodeAt(secret, mfa.Step(at))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mfaToken(t *testing.T, err error) string {
	t.Helper()
	var mr *auth.MFARequiredError
	if !errors.As(err, &mr) || mr.Token == "" {
		t.Fatalf("got %v, want mfa_required with a token", err)
	}
	return mr.Token
}

// TestTOTPSteps: one step of drift either way; a code is accepted only for
// a step later than the last accepted one.
func TestTOTPSteps(t *testing.T) {
	f := newFixture(t, nil)
	ctx := auth.ContextWithClient(context.Background(), client)
	const addr = "steps@example.com"
	secret, _, _ := f.mfaUser(t, addr)
	login := func(code string) error {
		_, err := f.svc.Login(ctx, addr, pw)
		_, err = f.svc.LoginMFA(ctx, mfaToken(t, err), code, "")
		return err
	}
	enrolled := f.clock.Now()
	// The enrolment's code (this step) is spent, and so is the step before.
	wantCode(t, login(codeAt(t, secret, enrolled)), auth.CodeInvalidCredentials)
	wantCode(t, login(codeAt(t, secret, enrolled.Add(-30*time.Second))), auth.CodeInvalidCredentials)
	// The next step's code works now (a clock ahead of ours), once.
	next := codeAt(t, secret, enrolled.Add(30*time.Second))
	if err := login(next); err != nil {
		t.Fatalf("next step's code: %v", err)
	}
	wantCode(t, login(next), auth.CodeInvalidCredentials)
	// Two minutes on, a code two steps old is refused; the current works.
	f.clock.Advance(2 * time.Minute)
	wantCode(t, login(codeAt(t, secret, f.clock.Now().Add(-time.Minute))), auth.CodeInvalidCredentials)
	if err := login(codeAt(t, secret, f.clock.Now())); err != nil {
		t.Fatalf("current code: %v", err)
	}
}

// TestMFATokenExpires: an mfa_token lives five minutes.
func TestMFATokenExpires(t *testing.T) {
	f := newFixture(t, nil)
	ctx := auth.ContextWithClient(context.Background(), client)
	const addr = "slow@example.com"
	_, codes, _ := f.mfaUser(t, addr)
	_, err := f.svc.Login(ctx, addr, pw)
	tok := mfaToken(t, err)
	f.clock.Advance(5*time.Minute + time.Second)
	_, err = f.svc.LoginMFA(ctx, tok, "", codes[0])
	wantCode(t, err, auth.CodeInvalidToken)
	// The code was not spent by the refusal.
	_, err = f.svc.Login(ctx, addr, pw)
	pair, err := f.svc.LoginMFA(ctx, mfaToken(t, err), "", codes[0])
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Authenticate(ctx, pair.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.svc.MFAStatus(ctx, p)
	if err != nil || !st.TOTP || st.RecoveryCodesLeft != 9 {
		t.Fatalf("status %+v, %v", st, err)
	}
}

// TestMFASecretSealed: the stored secret is not the secret, and another
// LATCH_SECRET cannot use it.
func TestMFASecretSealed(t *testing.T) {
	f := newFixture(t, nil)
	ctx := auth.ContextWithClient(context.Background(), client)
	secret, _, p := f.mfaUser(t, "sealed@example.com")
	fs, err := f.db.Factors(ctx, p.User.ID)
	if err != nil || len(fs) != 1 {
		t.Fatalf("factors %v, %v", fs, err)
	}
	if len(fs[0].SecretSealed) == 0 || slices.Equal(fs[0].SecretSealed, []byte(secret)) ||
		bytesContain(fs[0].SecretSealed, []byte(secret)) {
		t.Fatal("the TOTP secret is stored readable")
	}
}

func bytesContain(b, sub []byte) bool {
	for i := 0; i+len(sub) <= len(b); i++ {
		if slices.Equal(b[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// FuzzLoginMFA: whatever mfa_token and codes arrive, LoginMFA answers a
// client error (never internal) and logs nobody in without a real token.
func FuzzLoginMFA(f *testing.F) {
	f.Add("", "123456", "")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "000000", "")
	f.Add("not a token", "", "k7dq-x2mf-9hcw-tp4e")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "12 34 56", "\x00")
	svc := authtest.New(f, auth.Config{PublicURL: "https://auth.example.com", Secret: testSecret}).Service
	f.Fuzz(func(t *testing.T, tok, code, recovery string) {
		p, err := svc.LoginMFA(auth.ContextWithClient(context.Background(), client), tok, code, recovery)
		if err == nil || p != nil {
			t.Fatalf("LoginMFA(%q, %q, %q) logged in", tok, code, recovery)
		}
		switch c := auth.ErrorCode(err); c {
		case auth.CodeInvalidToken, auth.CodeInvalidRequest:
		default:
			t.Fatalf("LoginMFA(%q, %q, %q): %v (code %s)", tok, code, recovery, err, c)
		}
	})
}
