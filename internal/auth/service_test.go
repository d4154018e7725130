package auth_test

import (
	"context"
	"errors"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/sqlstore"
	"golang.org/x/crypto/bcrypt"
)

type fixture struct {
	svc   *auth.Service
	db    *sqlstore.DB
	clock *authtest.Clock
}

var testSecret = []byte(authtest.Secret)

func newFixture(t *testing.T, mod func(*auth.Config)) *fixture {
	t.Helper()
	cfg := auth.Config{
		PublicURL:           "https://auth.example.com",
		RequireConfirmation: true,
		LoginAfterReset:     true,
		Secret:              testSecret,
	}
	if mod != nil {
		mod(&cfg)
	}
	fx := authtest.New(t, cfg)
	return &fixture{svc: fx.Service, db: fx.DB, clock: fx.Clock}
}

// lastMailToken returns the token in the newest outbox mail to addr.
func (f *fixture) lastMailToken(t *testing.T, addr string) string {
	t.Helper()
	return authtest.LastMailToken(t, f.db, f.clock.Now(), addr)
}

const pw = "correct horse battery staple"

var client = auth.ClientInfo{IP: "192.0.2.1", UserAgent: "test"}

// confirmed signs up and confirms addr.
func (f *fixture) confirmed(t *testing.T, addr string) *auth.TokenPair {
	t.Helper()
	ctx := context.Background()
	if _, err := f.svc.Signup(auth.ContextWithClient(ctx, client), addr, pw); err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Confirm(auth.ContextWithClient(ctx, client), f.lastMailToken(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func wantCode(t *testing.T, err error, code auth.Code) {
	t.Helper()
	if got := auth.ErrorCode(err); err == nil || got != code {
		t.Fatalf("got %v (code %q), want code %q", err, got, code)
	}
}

func TestAccessTokenExpiry(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	p := f.confirmed(t, "exp@example.com")
	if _, err := f.svc.Authenticate(ctx, p.AccessToken); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(15*time.Minute + time.Second)
	_, err := f.svc.Authenticate(ctx, p.AccessToken)
	wantCode(t, err, auth.CodeTokenExpired)
	// The refresh token still works and gives a fresh access token.
	q, err := f.svc.Refresh(auth.ContextWithClient(ctx, client), p.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, q.AccessToken); err != nil {
		t.Fatal(err)
	}
}

func TestSessionIdleLifetime(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) { c.SessionIdle = time.Hour; c.SessionMax = 10 * time.Hour })
	ctx := context.Background()
	p := f.confirmed(t, "idle@example.com")
	// Refreshing within the idle lifetime keeps the session going.
	for range 3 {
		f.clock.Advance(50 * time.Minute)
		var err error
		if p, err = f.svc.Refresh(auth.ContextWithClient(ctx, client), p.RefreshToken); err != nil {
			t.Fatal(err)
		}
	}
	f.clock.Advance(61 * time.Minute)
	_, err := f.svc.Refresh(auth.ContextWithClient(ctx, client), p.RefreshToken)
	wantCode(t, err, auth.CodeInvalidBearer)
}

func TestSessionAbsoluteLifetime(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) { c.SessionIdle = time.Hour; c.SessionMax = 3 * time.Hour })
	ctx := context.Background()
	p := f.confirmed(t, "abs@example.com")
	var err error
	for range 5 { // 2.5 h of steady refreshing
		f.clock.Advance(30 * time.Minute)
		if p, err = f.svc.Refresh(auth.ContextWithClient(ctx, client), p.RefreshToken); err != nil {
			t.Fatal(err)
		}
	}
	f.clock.Advance(31 * time.Minute) // past 3 h since login: rotation never extends it
	_, err = f.svc.Refresh(auth.ContextWithClient(ctx, client), p.RefreshToken)
	wantCode(t, err, auth.CodeInvalidBearer)
	// The session's access tokens are refused too.
	_, err = f.svc.Authenticate(ctx, p.AccessToken)
	if err == nil {
		t.Fatal("access token of an expired session accepted")
	}
}

func TestRefreshGraceWindow(t *testing.T) {
	f := newFixture(t, nil) // grace 5 s
	ctx := context.Background()
	p0 := f.confirmed(t, "grace@example.com")
	p1, err := f.svc.Refresh(auth.ContextWithClient(ctx, client), p0.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	// A retry 4 s later gets the same successor.
	f.clock.Advance(4 * time.Second)
	again, err := f.svc.Refresh(auth.ContextWithClient(ctx, client), p0.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if again.RefreshToken != p1.RefreshToken {
		t.Fatal("retry within the grace window got a different successor")
	}
	// 6 s after the rotation, the old token is theft: the session ends.
	f.clock.Advance(2 * time.Second)
	_, err = f.svc.Refresh(auth.ContextWithClient(ctx, client), p0.RefreshToken)
	wantCode(t, err, auth.CodeInvalidBearer)
	_, err = f.svc.Refresh(auth.ContextWithClient(ctx, client), p1.RefreshToken)
	wantCode(t, err, auth.CodeInvalidBearer)
}

func TestRefreshTwoStepsBackIsTheft(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	p0 := f.confirmed(t, "steps@example.com")
	p1, err := f.svc.Refresh(auth.ContextWithClient(ctx, client), p0.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := f.svc.Refresh(auth.ContextWithClient(ctx, client), p1.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	// Within the grace window in time, but p1 (p0's successor) was used.
	_, err = f.svc.Refresh(auth.ContextWithClient(ctx, client), p0.RefreshToken)
	wantCode(t, err, auth.CodeInvalidBearer)
	_, err = f.svc.Refresh(auth.ContextWithClient(ctx, client), p2.RefreshToken)
	wantCode(t, err, auth.CodeInvalidBearer)
}

func TestConfirmAndResetTokensExpire(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if _, err := f.svc.Signup(auth.ContextWithClient(ctx, client), "late@example.com", pw); err != nil {
		t.Fatal(err)
	}
	tok := f.lastMailToken(t, "late@example.com")
	f.clock.Advance(24*time.Hour + time.Second)
	_, err := f.svc.Confirm(auth.ContextWithClient(ctx, client), tok)
	wantCode(t, err, auth.CodeInvalidToken)

	f.confirmed(t, "reset-late@example.com")
	if err := f.svc.ForgotPassword(auth.ContextWithClient(ctx, client), "reset-late@example.com"); err != nil {
		t.Fatal(err)
	}
	f.svc.Close() // wait for the off-path work
	tok = f.lastMailToken(t, "reset-late@example.com")
	f.clock.Advance(61 * time.Minute)
	_, err = f.svc.ResetPassword(auth.ContextWithClient(ctx, client), tok, "a fresh passphrase")
	wantCode(t, err, auth.CodeInvalidToken)
}

func TestForgotCapPerEmail(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	addr := "cap@example.com"
	f.confirmed(t, addr)
	for range 8 {
		if err := f.svc.ForgotPassword(ctx, addr); err != nil {
			t.Fatal(err)
		}
	}
	f.svc.Close()
	msgs, err := f.db.ClaimMail(ctx, f.clock.Now().Add(time.Hour), 1000, time.Nanosecond)
	if err != nil {
		t.Fatal(err)
	}
	resets := 0
	for _, m := range msgs {
		if m.Kind == auth.MailReset {
			resets++
		}
	}
	if resets != 5 {
		t.Fatalf("%d reset mails within an hour, want 5", resets)
	}
}

func TestDisabledUser(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	addr := "off@example.com"
	p := f.confirmed(t, addr)
	err := f.db.Tx(ctx, func(tx auth.Tx) error {
		u, err := tx.UserByEmail(ctx, auth.NormalizeEmail(addr))
		if err != nil {
			return err
		}
		u.Disabled = true
		return tx.UpdateUser(ctx, u)
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Login(auth.ContextWithClient(ctx, client), addr, "wrong password!")
	wantCode(t, err, auth.CodeInvalidCredentials)
	_, err = f.svc.Login(auth.ContextWithClient(ctx, client), addr, pw)
	wantCode(t, err, auth.CodeAccountDisabled)
	_, err = f.svc.Refresh(auth.ContextWithClient(ctx, client), p.RefreshToken)
	wantCode(t, err, auth.CodeAccountDisabled)
	_, err = f.svc.Authenticate(ctx, p.AccessToken)
	wantCode(t, err, auth.CodeInvalidBearer)
}

func TestBcryptUpgradedOnLogin(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	addr := "devise@example.com"
	f.confirmed(t, addr)
	hasher := password.NewHasher(password.Config{})
	// A bcrypt hash of pw with the $2a$ prefix Devise writes.
	raw, err := bcrypt.GenerateFromPassword([]byte(pw), 10)
	if err != nil {
		t.Fatal(err)
	}
	h := "$2a$" + string(raw[4:])
	setHash := func(hash string) {
		err := f.db.Tx(ctx, func(tx auth.Tx) error {
			u, err := tx.UserByEmail(ctx, auth.NormalizeEmail(addr))
			if err != nil {
				return err
			}
			u.PasswordHash = hash
			return tx.UpdateUser(ctx, u)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	setHash(h)
	if _, err := f.svc.Login(auth.ContextWithClient(ctx, client), addr, pw); err != nil {
		t.Fatal(err)
	}
	u, err := f.db.UserByEmail(ctx, auth.NormalizeEmail(addr))
	if err != nil {
		t.Fatal(err)
	}
	if u.PasswordHash == h || !regexp.MustCompile(`^\$argon2id\$`).MatchString(u.PasswordHash) {
		t.Fatalf("hash not upgraded: %.12s", u.PasswordHash)
	}
	if ok, _, err := hasher.Verify(ctx, pw, u.PasswordHash); !ok || err != nil {
		t.Fatalf("upgraded hash does not verify: %v", err)
	}
	if _, err := f.svc.Login(auth.ContextWithClient(ctx, client), addr, pw); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentConfirmExactlyOneWins(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	if _, err := f.svc.Signup(auth.ContextWithClient(ctx, client), "race@example.com", pw); err != nil {
		t.Fatal(err)
	}
	tok := f.lastMailToken(t, "race@example.com")
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.svc.Confirm(auth.ContextWithClient(ctx, client), tok)
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		var ae *auth.Error
		switch {
		case err == nil:
			wins++
		case errors.As(err, &ae) && ae.Code == auth.CodeInvalidToken:
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d confirmations won, want 1", wins)
	}
}

// TestLinkVariantsStartNoSession checks that the browser pages' confirm and
// reset leave no session behind (the user logs in in their app).
func TestLinkVariantsStartNoSession(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	addr := "page@example.com"
	if _, err := f.svc.Signup(auth.ContextWithClient(ctx, client), addr, pw); err != nil {
		t.Fatal(err)
	}
	u, err := f.svc.ConfirmLink(auth.ContextWithClient(ctx, client), f.lastMailToken(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	if !u.EmailConfirmed || u.Email != addr {
		t.Fatalf("confirmed user %+v", u)
	}
	if err := f.svc.ForgotPassword(auth.ContextWithClient(ctx, client), addr); err != nil {
		t.Fatal(err)
	}
	f.svc.Close()
	if err := f.svc.ResetPasswordLink(auth.ContextWithClient(ctx, client), f.lastMailToken(t, addr), "a fresh passphrase"); err != nil {
		t.Fatal(err)
	}
	sessions, err := f.db.SessionsByUser(ctx, u.ID, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 0 {
		t.Fatalf("%d sessions after page confirm and reset, want 0", len(sessions))
	}
	if _, err := f.svc.Login(auth.ContextWithClient(ctx, client), addr, "a fresh passphrase"); err != nil {
		t.Fatal(err)
	}
}

// TestPrune checks that ended sessions and used links go after the
// retention, and nothing a user still has.
func TestPrune(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	gone := f.confirmed(t, "gone@example.com")
	kept := f.confirmed(t, "kept@example.com")
	p, err := f.svc.Authenticate(ctx, gone.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(ctx, p, ""); err != nil {
		t.Fatal(err)
	}
	if n, err := f.svc.Prune(ctx); err != nil || n != 0 {
		t.Fatalf("Prune right away: %d rows, %v; want 0", n, err)
	}
	// kept's session is refreshed halfway, so it stays within its idle
	// lifetime.
	f.clock.Advance(auth.Retention / 2)
	if kept, err = f.svc.Refresh(auth.ContextWithClient(ctx, client), kept.RefreshToken); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(auth.Retention/2 + time.Minute)
	n, err := f.svc.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// gone's ended session and both used confirmation links.
	if n != 3 {
		t.Fatalf("Prune removed %d rows, want 3", n)
	}
	_, err = f.svc.Refresh(auth.ContextWithClient(ctx, client), gone.RefreshToken)
	wantCode(t, err, auth.CodeInvalidBearer)
	if _, err := f.svc.Refresh(auth.ContextWithClient(ctx, client), kept.RefreshToken); err != nil {
		t.Fatalf("a live session's refresh token was pruned: %v", err)
	}
}
