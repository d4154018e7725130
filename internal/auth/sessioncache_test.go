package auth_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
)

// countingStore counts the reads a bearer check makes.
type countingStore struct {
	auth.Store
	sessions, users atomic.Int64
}

func (c *countingStore) SessionByID(ctx context.Context, id string) (*auth.Session, error) {
	c.sessions.Add(1)
	return c.Store.SessionByID(ctx, id)
}

func (c *countingStore) UserByID(ctx context.Context, id string) (*auth.User, error) {
	c.users.Add(1)
	return c.Store.UserByID(ctx, id)
}

// cachedFixture is a service whose cache entries never age out (only
// events clear them), with its store reads counted.
func cachedFixture(t *testing.T, mod func(*auth.Config), opts ...authtest.Option) (*fixture, *countingStore) {
	t.Helper()
	cfg := auth.Config{
		PublicURL:           "https://auth.example.com",
		RequireConfirmation: true,
		LoginAfterReset:     true,
		Secret:              testSecret,
		SessionCacheMaxAge:  24 * time.Hour,
	}
	if mod != nil {
		mod(&cfg)
	}
	cs := &countingStore{}
	opts = append(opts, authtest.WithDeps(func(d *auth.Deps) { cs.Store = d.Store; d.Store = cs }))
	fx := authtest.New(t, cfg, opts...)
	return &fixture{svc: fx.Service, db: fx.DB, clock: fx.Clock}, cs
}

func (f *fixture) login(t *testing.T, addr string) *auth.TokenPair {
	t.Helper()
	p, err := f.svc.Login(auth.ContextWithClient(context.Background(), client), addr, pw)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) principal(t *testing.T, access string) *auth.Principal {
	t.Helper()
	p, err := f.svc.Authenticate(context.Background(), access)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return p
}

// In the steady state a bearer check reads nothing from the store.
func TestAuthenticateSteadyStateReadsNoStore(t *testing.T) {
	t.Parallel()
	f, cs := cachedFixture(t, func(c *auth.Config) { c.RequireConfirmation = false })
	ctx := context.Background()
	if _, err := f.svc.Signup(auth.ContextWithClient(ctx, client), "steady@example.com", pw); err != nil {
		t.Fatal(err)
	}
	p := f.login(t, "steady@example.com")
	roles := len(f.principal(t, p.AccessToken).User.Roles) // fills the cache
	s0, u0 := cs.sessions.Load(), cs.users.Load()
	for range 100 {
		got := f.principal(t, p.AccessToken)
		if got.User.Email != "steady@example.com" {
			t.Fatalf("principal email %q", got.User.Email)
		}
		// The principal's user is the caller's own copy.
		got.User.Email = "scribbled@example.com"
		got.User.Roles = append(got.User.Roles, "admin")
	}
	if ds, du := cs.sessions.Load()-s0, cs.users.Load()-u0; ds != 0 || du != 0 {
		t.Errorf("100 cached bearer checks read %d sessions and %d users from the store, want 0", ds, du)
	}
	if got := f.principal(t, p.AccessToken); got.User.Email != "steady@example.com" || len(got.User.Roles) != roles {
		t.Errorf("a caller's changes to its principal leaked into the cache: %q %v", got.User.Email, got.User.Roles)
	}
	st := f.svc.SessionCacheStats()
	if st.Hits < 200 || st.Entries != 2 || st.Max != 10000 {
		t.Errorf("cache stats %+v, want >= 200 hits, 2 entries, max 10000", st)
	}
}

// Every event that ends a session or cuts a user off is seen by the next
// bearer check of the same instance, however long the cached copy would
// otherwise live.
func TestCachedBearerRefusedAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	yes := true
	cases := []struct {
		name string
		// act ends the victim's session; actor is another session of the
		// same user.
		act func(t *testing.T, f *fixture, actor, victim *auth.Principal)
	}{
		{"logout", func(t *testing.T, f *fixture, _, victim *auth.Principal) {
			if err := f.svc.Logout(ctx, victim, ""); err != nil {
				t.Fatal(err)
			}
		}},
		{"logout everywhere", func(t *testing.T, f *fixture, actor, _ *auth.Principal) {
			if err := f.svc.LogoutAll(ctx, actor); err != nil {
				t.Fatal(err)
			}
		}},
		{"end another session", func(t *testing.T, f *fixture, actor, victim *auth.Principal) {
			if err := f.svc.EndSession(ctx, actor, victim.SessionID); err != nil {
				t.Fatal(err)
			}
		}},
		{"password change", func(t *testing.T, f *fixture, actor, _ *auth.Principal) {
			if _, err := f.svc.ChangePassword(auth.ContextWithClient(ctx, client), actor, pw, "another long passphrase 42"); err != nil {
				t.Fatal(err)
			}
		}},
		{"account deleted", func(t *testing.T, f *fixture, actor, _ *auth.Principal) {
			if err := f.svc.DeleteAccount(auth.ContextWithClient(ctx, client), actor, pw); err != nil {
				t.Fatal(err)
			}
		}},
		{"admin force logout", func(t *testing.T, f *fixture, actor, _ *auth.Principal) {
			if err := f.svc.AdminLogout(ctx, "admin", actor.User.ID); err != nil {
				t.Fatal(err)
			}
		}},
		{"admin role change", func(t *testing.T, f *fixture, actor, _ *auth.Principal) {
			roles := []string{"editor"}
			if _, err := f.svc.AdminUpdateUser(ctx, "admin", actor.User.ID, auth.UserPatch{Roles: &roles}); err != nil {
				t.Fatal(err)
			}
		}},
		{"admin disable", func(t *testing.T, f *fixture, actor, _ *auth.Principal) {
			if _, err := f.svc.AdminUpdateUser(ctx, "admin", actor.User.ID, auth.UserPatch{Disabled: &yes}); err != nil {
				t.Fatal(err)
			}
		}},
		{"admin delete", func(t *testing.T, f *fixture, actor, _ *auth.Principal) {
			if err := f.svc.AdminDeleteUser(ctx, "admin", actor.User.ID); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, _ := cachedFixture(t, nil)
			const addr = "victim@example.com"
			f.confirmed(t, addr)
			// Tokens issued a second before the change, as in life: a
			// cut-off spares the tokens of its own second.
			a := f.login(t, addr)
			v := f.login(t, addr)
			f.clock.Advance(time.Second)
			actor, victim := f.principal(t, a.AccessToken), f.principal(t, v.AccessToken)
			f.principal(t, v.AccessToken) // answered from the cache
			tc.act(t, f, actor, victim)
			_, err := f.svc.Authenticate(ctx, v.AccessToken)
			wantCode(t, err, auth.CodeInvalidBearer)
		})
	}
}

// A role change shows in the user the next bearer check returns, and an
// account enabled again is let in again: the cache forgets a user on any
// event of theirs, not only on revocations.
func TestCachedUserFollowsChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, _ := cachedFixture(t, nil)
	f.confirmed(t, "changes@example.com")
	p := f.login(t, "changes@example.com")
	u := f.principal(t, p.AccessToken).User
	f.clock.Advance(time.Second)
	yes, no := true, false
	if _, err := f.svc.AdminUpdateUser(ctx, "admin", u.ID, auth.UserPatch{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AdminUpdateUser(ctx, "admin", u.ID, auth.UserPatch{Disabled: &no}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	q := f.login(t, "changes@example.com")
	if got := f.principal(t, q.AccessToken); got.User.Disabled {
		t.Errorf("after enabling, the bearer check still sees a disabled user")
	}
	if _, err := f.svc.AdminSetEmail(ctx, "admin", u.ID, "renamed@example.com"); err != nil {
		t.Fatal(err)
	}
	if got := f.principal(t, q.AccessToken); got.User.Email != "renamed@example.com" {
		t.Errorf("after an email change the bearer check returns %q", got.User.Email)
	}
}

// The cache never lengthens a session: an access token, unexpired itself,
// is refused at the session's idle end though the session is cached.
func TestCachedSessionIdleEnd(t *testing.T) {
	t.Parallel()
	f, _ := cachedFixture(t, func(c *auth.Config) { c.SessionIdle = 10 * time.Minute; c.AccessTTL = 15 * time.Minute })
	ctx := context.Background()
	f.confirmed(t, "idle-cached@example.com")
	p := f.login(t, "idle-cached@example.com")
	f.principal(t, p.AccessToken)
	f.clock.Advance(10*time.Minute - time.Second)
	f.principal(t, p.AccessToken)
	f.clock.Advance(time.Second)
	_, err := f.svc.Authenticate(ctx, p.AccessToken)
	wantCode(t, err, auth.CodeInvalidBearer)
}

// Two instances on one database: a refresh through B moves the session's
// idle end, and A, whose cached copy predates it, reads the session again
// rather than refuse it as idle. A logout through B is seen by A when the
// fan-out calls Invalidate, and without it once the cached copy is older
// than SessionCacheMaxAge.
func TestCacheAcrossInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mod := func(c *auth.Config) {
		c.SessionIdle = 10 * time.Minute
		c.AccessTTL = 15 * time.Minute
		c.SessionCacheMaxAge = time.Hour
	}
	a, _ := cachedFixture(t, mod)
	b, _ := cachedFixture(t, mod, authtest.WithStore(a.db), authtest.WithClock(a.clock))
	a.confirmed(t, "two@example.com")

	p := a.login(t, "two@example.com")
	a.principal(t, p.AccessToken)
	a.clock.Advance(9 * time.Minute)
	q, err := b.svc.Refresh(auth.ContextWithClient(ctx, client), p.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	a.clock.Advance(2 * time.Minute) // 11 min after A's copy, 2 after the refresh
	a.principal(t, q.AccessToken)

	// Logout through B: A holds its copy until told.
	if err := b.svc.Logout(ctx, b.principal(t, q.AccessToken), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := a.svc.Authenticate(ctx, q.AccessToken); err != nil {
		t.Fatalf("before any notice A answers from its copy; got %v", err)
	}
	uid := a.principal(t, q.AccessToken).User.ID
	a.svc.Invalidate(uid, "")
	_, err = a.svc.Authenticate(ctx, q.AccessToken)
	wantCode(t, err, auth.CodeInvalidBearer)

	// A lost notice: the copy is read again once older than the max age.
	r := a.login(t, "two@example.com")
	a.principal(t, r.AccessToken)
	if err := b.svc.Logout(ctx, b.principal(t, r.AccessToken), ""); err != nil {
		t.Fatal(err)
	}
	a.principal(t, r.AccessToken) // stale, within the max age
	a.clock.Advance(time.Hour)
	r2, err := a.svc.Authenticate(ctx, r.AccessToken)
	if err == nil {
		t.Fatalf("past the max age A still accepts a logged-out session: %+v", r2)
	}
}

// The cache holds at most SessionCache entries and stays correct when it
// evicts.
func TestSessionCacheBound(t *testing.T) {
	t.Parallel()
	f, _ := cachedFixture(t, func(c *auth.Config) { c.SessionCache = 5; c.RequireConfirmation = false })
	ctx := context.Background()
	var tokens []string
	for _, addr := range []string{"b1@example.com", "b2@example.com", "b3@example.com", "b4@example.com"} {
		if _, err := f.svc.Signup(auth.ContextWithClient(ctx, client), addr, pw); err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, f.login(t, addr).AccessToken)
	}
	for range 3 {
		for _, tok := range tokens {
			f.principal(t, tok)
		}
	}
	st := f.svc.SessionCacheStats()
	if st.Entries > 5 || st.Evictions == 0 {
		t.Errorf("stats %+v: want at most 5 entries and some evictions", st)
	}
	p := f.principal(t, tokens[0])
	if err := f.svc.Logout(ctx, p, ""); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Authenticate(ctx, tokens[0])
	wantCode(t, err, auth.CodeInvalidBearer)
	f.principal(t, tokens[1])
}

// A negative SessionCache turns the cache off: every check reads the store.
func TestSessionCacheOff(t *testing.T) {
	t.Parallel()
	f, cs := cachedFixture(t, func(c *auth.Config) { c.SessionCache = -1; c.RequireConfirmation = false })
	if _, err := f.svc.Signup(auth.ContextWithClient(context.Background(), client), "off@example.com", pw); err != nil {
		t.Fatal(err)
	}
	p := f.login(t, "off@example.com")
	s0 := cs.sessions.Load()
	for range 3 {
		f.principal(t, p.AccessToken)
	}
	if d := cs.sessions.Load() - s0; d != 3 {
		t.Errorf("3 checks without a cache read %d sessions, want 3", d)
	}
	if st := f.svc.SessionCacheStats(); st != (auth.CacheStats{}) {
		t.Errorf("stats of no cache = %+v", st)
	}
}

// Bearer checks racing a logout never leave the logged-out session in the
// cache: once Logout has returned, the next check is refused, whatever
// the concurrent checks read and stored meanwhile.
func TestCacheFillRacingLogout(t *testing.T) {
	t.Parallel()
	f, _ := cachedFixture(t, func(c *auth.Config) { c.RequireConfirmation = false })
	ctx := context.Background()
	if _, err := f.svc.Signup(auth.ContextWithClient(ctx, client), "race@example.com", pw); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		p := f.login(t, "race@example.com")
		pr := f.principal(t, p.AccessToken)
		if i%2 == 0 {
			// Start from an empty cache, so that the racing checks fill it.
			f.svc.Invalidate("", "")
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					_, _ = f.svc.Authenticate(ctx, p.AccessToken)
				}
			})
		}
		if err := f.svc.Logout(ctx, pr, ""); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.Authenticate(ctx, p.AccessToken)
		close(stop)
		wg.Wait()
		wantCode(t, err, auth.CodeInvalidBearer)
		_, err = f.svc.Authenticate(ctx, p.AccessToken)
		wantCode(t, err, auth.CodeInvalidBearer)
	}
}
