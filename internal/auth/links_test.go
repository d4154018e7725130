package auth_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
)

// pendingLinks gives the confirmed account addr an email-change link (to
// moved-<addr>) and a reset link, and returns both tokens.
func (f *fixture) pendingLinks(t *testing.T, addr string) (change, reset string) {
	t.Helper()
	ctx := context.Background()
	p := f.confirmed(t, addr)
	pr, err := f.svc.Authenticate(ctx, p.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ChangeEmail(auth.ContextWithClient(ctx, client), pr, "moved-"+addr, pw); err != nil {
		t.Fatal(err)
	}
	change = f.lastMailToken(t, "moved-"+addr)
	if err := f.svc.ForgotPassword(auth.ContextWithClient(ctx, client), addr); err != nil {
		t.Fatal(err)
	}
	f.svc.Close() // wait for the off-path work
	reset = f.lastMailToken(t, addr)
	return change, reset
}

// TestAdminCutOffsVoidLinks: an admin's force logout, disable or role
// change is a cut-off, and a cut-off kills every pending emailed link.
func TestAdminCutOffsVoidLinks(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	yes, no := true, false
	roles := []string{"user", "support"}
	for _, c := range []struct {
		name, addr string
		cut        func(id string) error
	}{
		{"force logout", "forced@example.com", func(id string) error { return f.svc.AdminLogout(ctx, auth.ActorAdminKey, id) }},
		{"disable", "disabled@example.com", func(id string) error {
			if _, err := f.svc.AdminUpdateUser(ctx, auth.ActorAdminKey, id, auth.UserPatch{Disabled: &yes}); err != nil {
				return err
			}
			// Enabled again, the account's links stay dead.
			_, err := f.svc.AdminUpdateUser(ctx, auth.ActorAdminKey, id, auth.UserPatch{Disabled: &no})
			return err
		}},
		{"role change", "promoted@example.com", func(id string) error {
			_, err := f.svc.AdminUpdateUser(ctx, auth.ActorAdminKey, id, auth.UserPatch{Roles: &roles})
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := c.addr
			change, reset := f.pendingLinks(t, addr)
			u, err := f.db.UserByEmail(ctx, addr)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.cut(u.ID); err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.Confirm(auth.ContextWithClient(ctx, client), change)
			wantCode(t, err, auth.CodeInvalidToken)
			_, err = f.svc.ResetPassword(auth.ContextWithClient(ctx, client), reset, "an entirely new passphrase")
			wantCode(t, err, auth.CodeInvalidToken)
			if _, err := f.svc.Login(auth.ContextWithClient(ctx, client), addr, pw); err != nil {
				t.Fatalf("the account changed: login: %v", err)
			}
		})
	}

	// An admin change that is no cut-off leaves the links alone.
	change, _ := f.pendingLinks(t, "kept@example.com")
	u, err := f.db.UserByEmail(ctx, "kept@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AdminUpdateUser(ctx, auth.ActorAdminKey, u.ID, auth.UserPatch{EmailConfirmed: &yes}); err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Confirm(auth.ContextWithClient(ctx, client), change)
	if err != nil || p != nil {
		t.Fatalf("email-change confirm: got %v, %v, want no session and no error", p, err)
	}
	if _, err := f.svc.Login(auth.ContextWithClient(ctx, client), "moved-kept@example.com", pw); err != nil {
		t.Fatalf("login at the new address: %v", err)
	}
}

// TestConfirmLinkActivatesItsSignupsPassword: a later signup over the resend
// cap gets no link but may not change what an earlier link activates.
func TestConfirmLinkActivatesItsSignupsPassword(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) { c.ResendCap = auth.Rate{N: 1, Per: 24 * time.Hour} })
	ctx := context.Background()
	addr := "owner@example.com"
	const squatter = "a squatter's passphrase"
	if _, err := f.svc.Signup(auth.ContextWithClient(ctx, client), addr, squatter); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Signup(auth.ContextWithClient(ctx, client), addr, pw); err != nil {
		t.Fatal(err)
	}
	link := f.lastMailToken(t, addr)
	// Over the cap: no new link, the owner's stays usable.
	if _, err := f.svc.Signup(auth.ContextWithClient(ctx, client), addr, squatter); err != nil {
		t.Fatal(err)
	}
	if got := f.lastMailToken(t, addr); got != link {
		t.Fatal("a signup over the resend cap mailed a link")
	}
	if _, err := f.svc.Confirm(auth.ContextWithClient(ctx, client), link); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Login(auth.ContextWithClient(ctx, client), addr, squatter)
	wantCode(t, err, auth.CodeInvalidCredentials)
	if _, err := f.svc.Login(auth.ContextWithClient(ctx, client), addr, pw); err != nil {
		t.Fatalf("the owner's password: %v", err)
	}
}

// TestPruneUnconfirmedAccounts: a squat expires ConfirmTTL + 24 h after the
// signup, and the address is then free for its owner.
func TestPruneUnconfirmedAccounts(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	squatted := "squatted@example.com"
	if _, err := f.svc.Signup(auth.ContextWithClient(ctx, client), squatted, "a squatter's passphrase"); err != nil {
		t.Fatal(err)
	}
	f.confirmed(t, "owner@example.com")
	exists := func(addr string) bool {
		t.Helper()
		_, err := f.db.UserByEmail(ctx, addr)
		if err != nil && !errors.Is(err, auth.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}

	f.clock.Advance(48*time.Hour - time.Minute)
	if _, err := f.svc.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if !exists(squatted) {
		t.Fatal("an unconfirmed account was pruned before ConfirmTTL + 24 h")
	}
	// A resend does not extend it.
	if err := f.svc.ResendConfirmation(auth.ContextWithClient(ctx, client), squatted); err != nil {
		t.Fatal(err)
	}
	f.svc.Close()
	f.clock.Advance(2 * time.Minute)
	if _, err := f.svc.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if exists(squatted) {
		t.Fatal("an unconfirmed account outlived ConfirmTTL + 24 h")
	}
	if !exists("owner@example.com") {
		t.Fatal("a confirmed account was pruned")
	}

	// The owner signs up afresh and confirms.
	authtest.DrainMail(t, f.db, f.clock.Now())
	f.confirmed(t, squatted)
	if _, err := f.svc.Login(auth.ContextWithClient(ctx, client), squatted, pw); err != nil {
		t.Fatalf("login after the squat expired: %v", err)
	}
}

// TestPruneKeepsUnconfirmedWithoutConfirmation: with confirmation off an
// unconfirmed account is a normal one and stays.
func TestPruneKeepsUnconfirmedWithoutConfirmation(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) { c.RequireConfirmation = false })
	ctx := context.Background()
	if _, err := f.svc.Signup(auth.ContextWithClient(ctx, client), "open@example.com", pw); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(30 * 24 * time.Hour)
	if _, err := f.svc.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Login(auth.ContextWithClient(ctx, client), "open@example.com", pw); err != nil {
		t.Fatalf("login after a prune: %v", err)
	}
}

// TestNoticeCapUnderConcurrency: racing duplicate signups for a confirmed
// address queue exactly NoticeCap.N notices.
func TestNoticeCapUnderConcurrency(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	addr := "popular@example.com"
	f.confirmed(t, addr)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := f.svc.Signup(auth.ContextWithClient(ctx, client), addr, "another person's passphrase"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	n := 0
	for _, m := range authtest.PeekMail(t, f.db, f.clock.Now()) {
		if m.Kind == auth.MailDuplicateSignup && m.Message.To == addr {
			n++
		}
	}
	if n != 5 {
		t.Fatalf("8 duplicate signups queued %d notices, want 5", n)
	}
	// The count survives delivery, and the window moves on.
	authtest.DrainMail(t, f.db, f.clock.Now())
	if _, err := f.svc.Signup(auth.ContextWithClient(ctx, client), addr, "another person's passphrase"); err != nil {
		t.Fatal(err)
	}
	if got := len(authtest.PeekMail(t, f.db, f.clock.Now())); got != 0 {
		t.Fatalf("a notice over the cap after delivery: %d mails", got)
	}
	f.clock.Advance(24*time.Hour + time.Second)
	if _, err := f.svc.Signup(auth.ContextWithClient(ctx, client), addr, "another person's passphrase"); err != nil {
		t.Fatal(err)
	}
	if got := len(authtest.PeekMail(t, f.db, f.clock.Now())); got != 1 {
		t.Fatalf("a day later: %d mails, want 1 notice", got)
	}
}
