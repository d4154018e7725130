// Package storetest is the conformance suite every auth.Store (and
// auth.Outbox) implementation must pass, after dexidp/dex's
// storage/conformance.
//
// A store's own tests call Run (and RunOutbox) with a function that returns
// a fresh, migrated, empty store for each subtest:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) auth.Store { return newTestDB(t) })
//	}
//
// Besides the contract in auth's doc comments the suite pins down what the
// doc comments leave open, so that every store behaves alike:
//   - times come back in UTC, truncated to the microsecond;
//   - nil and empty roles both come back empty;
//   - a row referring to a missing user or session is refused with
//     auth.ErrNotFound;
//   - RevokeSession, MarkRefreshTokenUsed, RotateRefreshTokenIfAllowed and
//     ConsumeOneTimeToken report false, without error, when no row matches
//     (a missing row included);
//   - UpdateUser, DeleteUser, TouchSession, UpdateSigningKey, MailSent and
//     MailFailed return auth.ErrNotFound for a missing row;
//   - CountOneTimeTokens counts tokens created at or after since.
package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// t0 is the suite's "now": a fixed instant with microseconds, so that a
// store dropping them is caught.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

// Run runs the conformance suite for auth.Store, its subtests in parallel.
// open must return a fresh, empty store for each call; Run closes it when
// the subtest ends.
func Run(t *testing.T, open func(t *testing.T) auth.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s auth.Store)
	}{
		{"UserCreateGet", testUserCreateGet},
		{"UserNotFound", testUserNotFound},
		{"UserConflict", testUserConflict},
		{"UserUpdate", testUserUpdate},
		{"UserUpdateConflict", testUserUpdateConflict},
		{"UserRoles", testUserRoles},
		{"UserDeleteCascades", testUserDeleteCascades},
		{"UserMetadata", testUserMetadata}, // metadata.go
		{"Times", testTimes},
		{"Session", testSession},
		{"SessionsByUser", testSessionsByUser},
		{"SessionClient", testSessionClient},
		{"RevokeUserSessions", testRevokeUserSessions},
		{"MissingReference", testMissingReference},
		{"RefreshToken", testRefreshToken},
		{"OneTimeToken", testOneTimeToken},
		{"VoidOneTimeTokens", testVoidOneTimeTokens},
		{"CountOneTimeTokens", testCountOneTimeTokens},
		{"SigningKeys", testSigningKeys},
		{"RetireSigningKey", testRetireSigningKey},
		{"ConcurrentRetireSigningKey", testConcurrentRetireSigningKey},
		{"TxRollback", testTxRollback},
		{"TxSeesOwnWrites", testTxSeesOwnWrites},
		{"ConcurrentConsumeOneTimeToken", testConcurrentConsume},
		{"ConcurrentMarkRefreshTokenUsed", testConcurrentMarkUsed},
		// Refresh rotation outside a transaction: rotation.go.
		{"RefreshTokenState", testRefreshTokenState},
		{"RotateRefreshTokenIfAllowed", testRotateRefreshTokenIfAllowed},
		{"RotateIfAllowedRules", testRotateIfAllowedRules},
		{"RotateRevokedSession", testRotateRevokedSession},
		{"ConcurrentRotate", testConcurrentRotate},
		{"RotateRacesRevoke", testRotateRacesRevoke},
		{"ConcurrentRotateManySessions", testConcurrentRotateManySessions},
		{"ConcurrentCreateUser", testConcurrentCreateUser},
		// Concurrency without a single writer.
		{"ConflictThenContinue", testConflictThenContinue},
		{"ConcurrentCountThenInsert", testConcurrentCountThenInsert},
		{"ConcurrentReadModifyWrite", testConcurrentReadModifyWrite},
		// Revocations.
		{"RevokedSessionsSince", testRevokedSessionsSince},
		{"UserCutoffsSince", testUserCutoffsSince},
		// Housekeeping: prune.go.
		{"Prune", testPrune},
		// Emailed links and notices: links.go.
		{"OneTimeTokenPasswordHash", testOneTimeTokenPasswordHash},
		{"VoidAllKinds", testVoidAllKinds},
		{"Notices", testNotices},
		{"ConcurrentNoticeCap", testConcurrentNoticeCap},
		{"PruneUnconfirmed", testPruneUnconfirmed},
		{"PruneUnconfirmedBatches", testPruneUnconfirmedBatches},
		// Admin: admin.go.
		{"ListUsers", testListUsers},
		{"ListUsersEmailPrefix", testListUsersEmailPrefix},
		{"ListUsersNonASCIIEmail", testListUsersNonASCIIEmail},
		{"CreateUsersIfAbsent", testCreateUsersIfAbsent},
		{"AuditAppendAndQuery", testAuditAppendAndQuery},
		{"AuditRollback", testAuditRollback},
		// Second factors: mfa.go.
		{"Factors", testFactors},
		{"LoginUser", testLoginUser},
		{"RecoveryCodes", testRecoveryCodes},
		{"MFAChallenge", testMFAChallenge},
		{"ConcurrentAdvanceFactor", testConcurrentAdvanceFactor},
		{"ConcurrentUseRecoveryCode", testConcurrentUseRecoveryCode},
		{"ConcurrentConsumeMFAChallenge", testConcurrentConsumeMFAChallenge},
		// Passkeys: passkeys.go.
		{"PasskeyFactor", testPasskeyFactor},
		{"PasskeyChallenge", testPasskeyChallenge},
		{"ConcurrentConsumePasskeyChallenge", testConcurrentConsumePasskeyChallenge},
		{"ConcurrentUsePasskey", testConcurrentUsePasskey},
		// OAuth clients, codes, browser sessions: oauth.go.
		{"Clients", testClients},
		{"AuthCode", testAuthCode},
		{"ConcurrentRedeemAuthCode", testConcurrentRedeemAuthCode},
		{"BrowserSession", testBrowserSession},
	}
	runEach(t, open, tests)
}

// runEach runs each test as a parallel subtest on a fresh store from open,
// closed (and the close checked) when the subtest ends.
func runEach[S interface{ Close() error }](t *testing.T, open func(t *testing.T) S, tests []struct {
	name string
	fn   func(t *testing.T, s S)
}) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each subtest has a store of its own
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

// Helpers.

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// show prints a value for comparison: every field, times with their
// location, the elements of slices of pointers rather than their addresses.
// nil and empty slices print alike.
func show(v any) string {
	switch v := v.(type) {
	case []*auth.Session:
		return showAll(v)
	case []*auth.SigningKey:
		return showAll(v)
	case []*auth.OutboxMessage:
		return showAll(v)
	}
	return fmt.Sprintf("%+v", v)
}

func showAll[T any](xs []*T) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%+v", x)
	}
	return "[" + strings.Join(parts, ",\n ") + "]"
}

func tx(t *testing.T, s auth.Store, fn func(tx auth.Tx) error) {
	t.Helper()
	if err := s.Tx(context.Background(), fn); err != nil {
		t.Fatalf("Tx: %v", err)
	}
}

func newUser(id, email string) *auth.User {
	return &auth.User{
		ID:           id,
		Email:        email,
		EmailNorm:    strings.ToLower(email),
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		Roles:        []string{"user"},
		CreatedAt:    t0,
		UpdatedAt:    t0,
	}
}

func createUser(t *testing.T, s auth.Store, u *auth.User) {
	t.Helper()
	tx(t, s, func(tx auth.Tx) error { return tx.CreateUser(context.Background(), u) })
}

func newSession(id, userID string, created time.Time) *auth.Session {
	return &auth.Session{
		ID:         id,
		UserID:     userID,
		CreatedAt:  created,
		LastUsedAt: created,
		ExpiresAt:  created.Add(30 * 24 * time.Hour),
		IP:         "192.0.2.1",
		UserAgent:  "Mozilla/5.0 (X11; Linux x86_64)",
	}
}

func createSession(t *testing.T, s auth.Store, x *auth.Session) {
	t.Helper()
	tx(t, s, func(tx auth.Tx) error { return tx.CreateSession(context.Background(), x) })
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

func getUser(t *testing.T, s auth.Store, id string) *auth.User {
	t.Helper()
	u, err := s.UserByID(context.Background(), id)
	if err != nil {
		t.Fatalf("UserByID(%q): %v", id, err)
	}
	return u
}

func getSession(t *testing.T, s auth.Store, id string) *auth.Session {
	t.Helper()
	x, err := s.SessionByID(context.Background(), id)
	if err != nil {
		t.Fatalf("SessionByID(%q): %v", id, err)
	}
	return x
}

// Users.

func testUserCreateGet(t *testing.T, s auth.Store) {
	ctx := context.Background()
	u := newUser("u1", "Alice@Example.COM")
	u.EmailConfirmed = true
	u.Roles = []string{"admin", "user"}
	u.TokensValidAfter = t0.Add(time.Minute)
	createUser(t, s, u)

	got, err := s.UserByID(ctx, "u1")
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	if show(got) != show(u) {
		t.Errorf("UserByID:\ngot  %s\nwant %s", show(got), show(u))
	}
	got, err = s.UserByEmail(ctx, "alice@example.com")
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	if show(got) != show(u) {
		t.Errorf("UserByEmail:\ngot  %s\nwant %s", show(got), show(u))
	}
	// Lookups are by the normalised form only.
	_, err = s.UserByEmail(ctx, "Alice@Example.COM")
	wantErr(t, "UserByEmail(as given)", err, auth.ErrNotFound)
}

func testUserNotFound(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	_, err := s.UserByID(ctx, "nobody")
	wantErr(t, "UserByID", err, auth.ErrNotFound)
	_, err = s.UserByEmail(ctx, "nobody@example.com")
	wantErr(t, "UserByEmail", err, auth.ErrNotFound)
	_, err = s.SessionByID(ctx, "nothing")
	wantErr(t, "SessionByID", err, auth.ErrNotFound)
	_, err = s.RefreshTokenByHash(ctx, hash("nothing"))
	wantErr(t, "RefreshTokenByHash", err, auth.ErrNotFound)
	_, err = s.OneTimeTokenByHash(ctx, hash("nothing"))
	wantErr(t, "OneTimeTokenByHash", err, auth.ErrNotFound)

	err = s.Tx(ctx, func(tx auth.Tx) error { return tx.UpdateUser(ctx, newUser("nobody", "n@example.com")) })
	wantErr(t, "UpdateUser", err, auth.ErrNotFound)
	err = s.Tx(ctx, func(tx auth.Tx) error { return tx.DeleteUser(ctx, "nobody") })
	wantErr(t, "DeleteUser", err, auth.ErrNotFound)
	err = s.Tx(ctx, func(tx auth.Tx) error { return tx.TouchSession(ctx, "nothing", t0) })
	wantErr(t, "TouchSession", err, auth.ErrNotFound)
	err = s.Tx(ctx, func(tx auth.Tx) error {
		return tx.UpdateSigningKey(ctx, &auth.SigningKey{KID: "nothing", Alg: "EdDSA"})
	})
	wantErr(t, "UpdateSigningKey", err, auth.ErrNotFound)

	var ok bool
	tx(t, s, func(tx auth.Tx) (err error) { ok, err = tx.RevokeSession(ctx, "nothing", t0); return err })
	if ok {
		t.Errorf("RevokeSession(missing) = true, want false")
	}
	tx(t, s, func(tx auth.Tx) (err error) {
		ok, err = tx.MarkRefreshTokenUsed(ctx, hash("nothing"), t0, hash("next"), []byte("sealed"))
		return err
	})
	if ok {
		t.Errorf("MarkRefreshTokenUsed(missing) = true, want false")
	}
	wantNotConsumed(t, s, "nothing", auth.KindReset, "missing")
}

func testUserConflict(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	tests := []struct {
		name string
		u    *auth.User
	}{
		{"same email_norm", newUser("u2", "a@example.com")},
		{"same email_norm, other case as given", func() *auth.User {
			u := newUser("u3", "A@EXAMPLE.com")
			u.EmailNorm = "a@example.com"
			return u
		}()},
		{"same id", newUser("u1", "b@example.com")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Tx(ctx, func(tx auth.Tx) error {
				if err := tx.CreateSession(ctx, newSession("s-"+tt.u.ID, "u1", t0)); err != nil {
					return err
				}
				return tx.CreateUser(ctx, tt.u)
			})
			wantErr(t, "CreateUser", err, auth.ErrConflict)
			// The failed transaction left nothing behind.
			_, err = s.SessionByID(ctx, "s-"+tt.u.ID)
			wantErr(t, "SessionByID after rollback", err, auth.ErrNotFound)
		})
	}
	if got := getUser(t, s, "u1"); got.Email != "a@example.com" {
		t.Errorf("u1 email: got %q, want %q", got.Email, "a@example.com")
	}
}

func testUserUpdate(t *testing.T, s auth.Store) {
	ctx := context.Background()
	u := newUser("u1", "a@example.com")
	createUser(t, s, u)

	upd := &auth.User{
		ID:               "u1",
		Email:            "New@Example.com",
		EmailNorm:        "new@example.com",
		PasswordHash:     "$2a$10$abcdefghijklmnopqrstuu",
		EmailConfirmed:   true,
		Roles:            []string{"admin"},
		Disabled:         true,
		CreatedAt:        t0.Add(time.Hour), // must be ignored
		UpdatedAt:        t0.Add(2 * time.Hour),
		TokensValidAfter: t0.Add(2 * time.Hour),
	}
	tx(t, s, func(tx auth.Tx) error { return tx.UpdateUser(ctx, upd) })

	want := *upd
	want.CreatedAt = t0
	if got := getUser(t, s, "u1"); show(got) != show(&want) {
		t.Errorf("after UpdateUser:\ngot  %s\nwant %s", show(got), show(&want))
	}
	if _, err := s.UserByEmail(ctx, "a@example.com"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("UserByEmail(old email): got %v, want %v", err, auth.ErrNotFound)
	}
	if got, err := s.UserByEmail(ctx, "new@example.com"); err != nil || got.ID != "u1" {
		t.Errorf("UserByEmail(new email): got %v, %v, want u1", got, err)
	}

	// Clearing fields clears them.
	upd2 := *upd
	upd2.Roles = nil
	upd2.Disabled = false
	upd2.TokensValidAfter = time.Time{}
	tx(t, s, func(tx auth.Tx) error { return tx.UpdateUser(ctx, &upd2) })
	want = upd2
	want.CreatedAt = t0
	if got := getUser(t, s, "u1"); show(got) != show(&want) {
		t.Errorf("after second UpdateUser:\ngot  %s\nwant %s", show(got), show(&want))
	}
}

func testUserUpdateConflict(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	b := newUser("u2", "b@example.com")
	createUser(t, s, b)

	moved := *b
	moved.Email, moved.EmailNorm = "A@example.com", "a@example.com"
	err := s.Tx(ctx, func(tx auth.Tx) error { return tx.UpdateUser(ctx, &moved) })
	wantErr(t, "UpdateUser to a taken email", err, auth.ErrConflict)
	if got := getUser(t, s, "u2"); show(got) != show(b) {
		t.Errorf("u2 after failed update:\ngot  %s\nwant %s", show(got), show(b))
	}
}

func testUserRoles(t *testing.T, s auth.Store) {
	tests := []struct {
		name  string
		roles []string
	}{
		{"nil", nil},
		{"empty", []string{}},
		{"one", []string{"admin"}},
		{"several", []string{"admin", "billing", "support:read", "ünïcode"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUser(fmt.Sprintf("u%d", i), fmt.Sprintf("u%d@example.com", i))
			u.Roles = tt.roles
			createUser(t, s, u)
			got := getUser(t, s, u.ID).Roles
			if len(got) != len(tt.roles) || (len(got) > 0 && !slices.Equal(got, tt.roles)) {
				t.Errorf("roles: got %q, want %q", got, tt.roles)
			}
		})
	}
}

func testUserDeleteCascades(t *testing.T, s auth.Store) {
	ctx := context.Background()
	for _, id := range []string{"gone", "kept"} {
		createUser(t, s, newUser(id, id+"@example.com"))
		tx(t, s, func(tx auth.Tx) error {
			if err := tx.CreateSession(ctx, newSession("s-"+id, id, t0)); err != nil {
				return err
			}
			if err := tx.CreateRefreshToken(ctx, &auth.RefreshToken{Hash: hash("rt-" + id), SessionID: "s-" + id, UserID: id, CreatedAt: t0}); err != nil {
				return err
			}
			return tx.CreateOneTimeToken(ctx, &auth.OneTimeToken{Hash: hash("ott-" + id), Kind: auth.KindReset, UserID: id, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
		})
	}
	tx(t, s, func(tx auth.Tx) error { return tx.DeleteUser(ctx, "gone") })

	_, err := s.UserByID(ctx, "gone")
	wantErr(t, "UserByID(deleted)", err, auth.ErrNotFound)
	_, err = s.UserByEmail(ctx, "gone@example.com")
	wantErr(t, "UserByEmail(deleted)", err, auth.ErrNotFound)
	_, err = s.SessionByID(ctx, "s-gone")
	wantErr(t, "SessionByID(deleted user's)", err, auth.ErrNotFound)
	_, err = s.RefreshTokenByHash(ctx, hash("rt-gone"))
	wantErr(t, "RefreshTokenByHash(deleted user's)", err, auth.ErrNotFound)
	_, err = s.OneTimeTokenByHash(ctx, hash("ott-gone"))
	wantErr(t, "OneTimeTokenByHash(deleted user's)", err, auth.ErrNotFound)

	getUser(t, s, "kept")
	getSession(t, s, "s-kept")
	if _, err := s.RefreshTokenByHash(ctx, hash("rt-kept")); err != nil {
		t.Errorf("RefreshTokenByHash(other user's): %v", err)
	}
	if _, err := s.OneTimeTokenByHash(ctx, hash("ott-kept")); err != nil {
		t.Errorf("OneTimeTokenByHash(other user's): %v", err)
	}
	// The email is free again.
	createUser(t, s, newUser("again", "gone@example.com"))
}

func testTimes(t *testing.T, s auth.Store) {
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	tests := []struct {
		name string
		in   time.Time
		want time.Time
	}{
		{"utc micro", t0, t0},
		{"nanoseconds truncated", time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.UTC), time.Date(2025, 1, 2, 3, 4, 5, 123456000, time.UTC)},
		{"other zone to utc", time.Date(2025, 6, 1, 12, 0, 0, 1000, zone), time.Date(2025, 6, 1, 6, 30, 0, 1000, time.UTC)},
		{"before 1970", time.Date(1969, 7, 20, 20, 17, 40, 500, time.UTC), time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC)},
		{"far future", time.Date(2999, 12, 31, 23, 59, 59, 999999000, time.UTC), time.Date(2999, 12, 31, 23, 59, 59, 999999000, time.UTC)},
		{"zero", time.Time{}, time.Time{}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUser(fmt.Sprintf("u%d", i), fmt.Sprintf("u%d@example.com", i))
			u.CreatedAt, u.UpdatedAt, u.TokensValidAfter = tt.in, tt.in, tt.in
			createUser(t, s, u)
			got := getUser(t, s, u.ID)
			for _, f := range []struct {
				name string
				v    time.Time
			}{{"CreatedAt", got.CreatedAt}, {"UpdatedAt", got.UpdatedAt}, {"TokensValidAfter", got.TokensValidAfter}} {
				if !f.v.Equal(tt.want) || f.v.IsZero() != tt.want.IsZero() {
					t.Errorf("%s: got %v, want %v", f.name, f.v, tt.want)
				}
				if !f.v.IsZero() && f.v.Location() != time.UTC {
					t.Errorf("%s: got location %v, want UTC", f.name, f.v.Location())
				}
			}
		})
	}
}

// Sessions.

func testSession(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	x := newSession("s1", "u1", t0)
	createSession(t, s, x)
	if got := getSession(t, s, "s1"); show(got) != show(x) {
		t.Errorf("SessionByID:\ngot  %s\nwant %s", show(got), show(x))
	}

	touched := t0.Add(time.Hour + time.Microsecond)
	tx(t, s, func(tx auth.Tx) error { return tx.TouchSession(ctx, "s1", touched) })
	want := *x
	want.LastUsedAt = touched
	if got := getSession(t, s, "s1"); show(got) != show(&want) {
		t.Errorf("after TouchSession:\ngot  %s\nwant %s", show(got), show(&want))
	}

	revoked := t0.Add(2 * time.Hour)
	var ok bool
	tx(t, s, func(tx auth.Tx) (err error) { ok, err = tx.RevokeSession(ctx, "s1", revoked); return err })
	if !ok {
		t.Errorf("first RevokeSession = false, want true")
	}
	tx(t, s, func(tx auth.Tx) (err error) {
		ok, err = tx.RevokeSession(ctx, "s1", revoked.Add(time.Hour))
		return err
	})
	if ok {
		t.Errorf("second RevokeSession = true, want false")
	}
	want.RevokedAt = revoked
	if got := getSession(t, s, "s1"); show(got) != show(&want) {
		t.Errorf("after RevokeSession:\ngot  %s\nwant %s", show(got), show(&want))
	}

	err := s.Tx(ctx, func(tx auth.Tx) error { return tx.CreateSession(ctx, newSession("s1", "u1", t0)) })
	wantErr(t, "CreateSession(same id)", err, auth.ErrConflict)
}

func testSessionsByUser(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	createUser(t, s, newUser("u2", "b@example.com"))
	now := t0

	old := newSession("old", "u1", now.Add(-48*time.Hour))
	recent := newSession("recent", "u1", now.Add(-time.Hour))
	newest := newSession("newest", "u1", now)
	revoked := newSession("revoked", "u1", now.Add(-2*time.Hour))
	revoked.RevokedAt = now.Add(-time.Minute)
	expired := newSession("expired", "u1", now.Add(-3*time.Hour))
	expired.ExpiresAt = now.Add(-time.Microsecond)
	endsNow := newSession("ends-now", "u1", now.Add(-4*time.Hour))
	endsNow.ExpiresAt = now
	other := newSession("other", "u2", now)
	for _, x := range []*auth.Session{recent, revoked, old, expired, endsNow, other, newest} {
		createSession(t, s, x)
	}

	got, err := s.SessionsByUser(ctx, "u1", now)
	if err != nil {
		t.Fatalf("SessionsByUser: %v", err)
	}
	want := []*auth.Session{newest, recent, old}
	if show(got) != show(want) {
		var g, w []string
		for _, x := range got {
			g = append(g, x.ID)
		}
		for _, x := range want {
			w = append(w, x.ID)
		}
		t.Errorf("SessionsByUser: got %q, want %q\ngot  %s\nwant %s", g, w, show(got), show(want))
	}

	got, err = s.SessionsByUser(ctx, "nobody", now)
	if err != nil || len(got) != 0 {
		t.Errorf("SessionsByUser(nobody): got %v, %v, want none", got, err)
	}
}

func testRevokeUserSessions(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	createUser(t, s, newUser("u2", "b@example.com"))
	earlier := t0.Add(-time.Hour)
	for _, x := range []*auth.Session{
		newSession("keep", "u1", t0),
		newSession("a", "u1", t0),
		newSession("b", "u1", t0),
		func() *auth.Session { x := newSession("done", "u1", t0); x.RevokedAt = earlier; return x }(),
		newSession("other", "u2", t0),
	} {
		createSession(t, s, x)
	}

	at := t0.Add(time.Minute)
	var ids []string
	tx(t, s, func(tx auth.Tx) (err error) { ids, err = tx.RevokeUserSessions(ctx, "u1", "keep", at); return err })
	slices.Sort(ids)
	if want := []string{"a", "b"}; !slices.Equal(ids, want) {
		t.Errorf("RevokeUserSessions(except keep): got %q, want %q", ids, want)
	}
	for _, c := range []struct {
		id   string
		want time.Time
	}{{"keep", time.Time{}}, {"a", at}, {"b", at}, {"done", earlier}, {"other", time.Time{}}} {
		if got := getSession(t, s, c.id).RevokedAt; !got.Equal(c.want) {
			t.Errorf("session %s RevokedAt: got %v, want %v", c.id, got, c.want)
		}
	}

	tx(t, s, func(tx auth.Tx) (err error) {
		ids, err = tx.RevokeUserSessions(ctx, "u1", "", at.Add(time.Minute))
		return err
	})
	if want := []string{"keep"}; !slices.Equal(ids, want) {
		t.Errorf("RevokeUserSessions(except none): got %q, want %q", ids, want)
	}
	tx(t, s, func(tx auth.Tx) (err error) {
		ids, err = tx.RevokeUserSessions(ctx, "u1", "", at.Add(time.Hour))
		return err
	})
	if len(ids) != 0 {
		t.Errorf("RevokeUserSessions(all revoked): got %q, want none", ids)
	}
}

func testMissingReference(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	createSession(t, s, newSession("s1", "u1", t0))
	tests := []struct {
		name string
		fn   func(tx auth.Tx) error
	}{
		{"session of missing user", func(tx auth.Tx) error { return tx.CreateSession(ctx, newSession("s2", "nobody", t0)) }},
		{"refresh token of missing session", func(tx auth.Tx) error {
			return tx.CreateRefreshToken(ctx, &auth.RefreshToken{Hash: hash("rt"), SessionID: "nothing", UserID: "u1", CreatedAt: t0})
		}},
		{"one-time token of missing user", func(tx auth.Tx) error {
			return tx.CreateOneTimeToken(ctx, &auth.OneTimeToken{Hash: hash("ott"), Kind: auth.KindConfirm, UserID: "nobody", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, "Tx", s.Tx(ctx, tt.fn), auth.ErrNotFound)
		})
	}
}

// Refresh tokens.

func testRefreshToken(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	createSession(t, s, newSession("s1", "u1", t0))
	rt := &auth.RefreshToken{Hash: hash("token-1"), SessionID: "s1", UserID: "u1", CreatedAt: t0}
	tx(t, s, func(tx auth.Tx) error { return tx.CreateRefreshToken(ctx, rt) })

	got, err := s.RefreshTokenByHash(ctx, hash("token-1"))
	if err != nil {
		t.Fatalf("RefreshTokenByHash: %v", err)
	}
	if show(got) != show(rt) {
		t.Errorf("RefreshTokenByHash:\ngot  %s\nwant %s", show(got), show(rt))
	}

	used := t0.Add(time.Minute)
	sealed := []byte("\x00sealed successor\xff")
	var ok bool
	tx(t, s, func(tx auth.Tx) (err error) {
		ok, err = tx.MarkRefreshTokenUsed(ctx, hash("token-1"), used, hash("token-2"), sealed)
		return err
	})
	if !ok {
		t.Errorf("first MarkRefreshTokenUsed = false, want true")
	}
	tx(t, s, func(tx auth.Tx) (err error) {
		ok, err = tx.MarkRefreshTokenUsed(ctx, hash("token-1"), used.Add(time.Second), hash("token-3"), []byte("other"))
		return err
	})
	if ok {
		t.Errorf("second MarkRefreshTokenUsed = true, want false")
	}
	want := *rt
	want.UsedAt, want.SuccessorHash, want.SuccessorSealed = used, hash("token-2"), sealed
	got, err = s.RefreshTokenByHash(ctx, hash("token-1"))
	if err != nil {
		t.Fatalf("RefreshTokenByHash: %v", err)
	}
	if show(got) != show(&want) {
		t.Errorf("after MarkRefreshTokenUsed:\ngot  %s\nwant %s", show(got), show(&want))
	}

	err = s.Tx(ctx, func(tx auth.Tx) error { return tx.CreateRefreshToken(ctx, rt) })
	wantErr(t, "CreateRefreshToken(same hash)", err, auth.ErrConflict)
}

// One-time tokens.

func testOneTimeToken(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	expires := t0.Add(time.Hour)
	tokens := []*auth.OneTimeToken{
		{Hash: hash("change"), Kind: auth.KindEmailChange, UserID: "u1", NewEmail: "New@example.com", CreatedAt: t0, ExpiresAt: expires},
		{Hash: hash("reset"), Kind: auth.KindReset, UserID: "u1", CreatedAt: t0, ExpiresAt: expires},
	}
	for _, x := range tokens {
		tx(t, s, func(tx auth.Tx) error { return tx.CreateOneTimeToken(ctx, x) })
		got, err := s.OneTimeTokenByHash(ctx, x.Hash)
		if err != nil {
			t.Fatalf("OneTimeTokenByHash: %v", err)
		}
		if show(got) != show(x) {
			t.Errorf("OneTimeTokenByHash:\ngot  %s\nwant %s", show(got), show(x))
		}
	}
	err := s.Tx(ctx, func(tx auth.Tx) error { return tx.CreateOneTimeToken(ctx, tokens[1]) })
	wantErr(t, "CreateOneTimeToken(same hash)", err, auth.ErrConflict)

	consume := func(h []byte, kind auth.TokenKind, at time.Time) bool {
		t.Helper()
		var ok bool
		tx(t, s, func(tx auth.Tx) (err error) { ok, err = tx.ConsumeOneTimeToken(ctx, h, kind, at); return err })
		return ok
	}
	steps := []struct {
		name string
		kind auth.TokenKind
		at   time.Time
		want bool
	}{
		{"wrong kind", auth.KindConfirm, t0, false},
		{"at expiry", auth.KindReset, expires, false},
		{"after expiry", auth.KindReset, expires.Add(time.Hour), false},
		{"just before expiry", auth.KindReset, expires.Add(-time.Microsecond), true},
		{"again", auth.KindReset, t0, false},
	}
	for _, st := range steps {
		if got := consume(hash("reset"), st.kind, st.at); got != st.want {
			t.Errorf("ConsumeOneTimeToken %s: got %v, want %v", st.name, got, st.want)
		}
	}
	got, err := s.OneTimeTokenByHash(ctx, hash("reset"))
	if err != nil {
		t.Fatalf("OneTimeTokenByHash: %v", err)
	}
	if want := expires.Add(-time.Microsecond); !got.UsedAt.Equal(want) {
		t.Errorf("UsedAt: got %v, want %v", got.UsedAt, want)
	}
	// The other token is untouched.
	got, err = s.OneTimeTokenByHash(ctx, hash("change"))
	if err != nil || !got.UsedAt.IsZero() {
		t.Errorf("other token: got %+v, %v, want unused", got, err)
	}
}

func testVoidOneTimeTokens(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	createUser(t, s, newUser("u2", "b@example.com"))
	usedEarlier := t0.Add(-time.Minute)
	tx(t, s, func(tx auth.Tx) error {
		for _, x := range []*auth.OneTimeToken{
			{Hash: hash("r1"), Kind: auth.KindReset, UserID: "u1", CreatedAt: t0.Add(-time.Hour), ExpiresAt: t0.Add(time.Hour)},
			{Hash: hash("r2"), Kind: auth.KindReset, UserID: "u1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
			{Hash: hash("r3"), Kind: auth.KindReset, UserID: "u1", CreatedAt: t0.Add(-2 * time.Hour), ExpiresAt: t0.Add(time.Hour), UsedAt: usedEarlier},
			{Hash: hash("c1"), Kind: auth.KindConfirm, UserID: "u1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
			{Hash: hash("o1"), Kind: auth.KindReset, UserID: "u2", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
		} {
			if err := tx.CreateOneTimeToken(ctx, x); err != nil {
				return err
			}
		}
		return nil
	})
	at := t0.Add(time.Second)
	tx(t, s, func(tx auth.Tx) error { return tx.VoidOneTimeTokens(ctx, "u1", auth.KindReset, at) })
	wantUsedAt(t, s, []usedAt{{"r1", at}, {"r2", at}, {"r3", usedEarlier}, {"c1", time.Time{}}, {"o1", time.Time{}}})
	wantNotConsumed(t, s, "r2", auth.KindReset, "voided")
}

// usedAt is a one-time token (by its plain text) and the UsedAt it should
// have.
type usedAt struct {
	token string
	want  time.Time
}

// wantUsedAt checks the UsedAt of each token.
func wantUsedAt(t *testing.T, s auth.Store, tokens []usedAt) {
	t.Helper()
	for _, c := range tokens {
		got, err := s.OneTimeTokenByHash(context.Background(), hash(c.token))
		if err != nil {
			t.Fatalf("OneTimeTokenByHash(%s): %v", c.token, err)
		}
		if !got.UsedAt.Equal(c.want) {
			t.Errorf("token %s UsedAt: got %v, want %v", c.token, got.UsedAt, c.want)
		}
	}
}

// wantNotConsumed checks that the token (what describes it) cannot be
// consumed.
func wantNotConsumed(t *testing.T, s auth.Store, token string, kind auth.TokenKind, what string) {
	t.Helper()
	var ok bool
	tx(t, s, func(tx auth.Tx) (err error) {
		ok, err = tx.ConsumeOneTimeToken(context.Background(), hash(token), kind, t0)
		return err
	})
	if ok {
		t.Errorf("ConsumeOneTimeToken(%s) = true, want false", what)
	}
}

func testCountOneTimeTokens(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	createUser(t, s, newUser("u2", "b@example.com"))
	tx(t, s, func(tx auth.Tx) error {
		for i, x := range []struct {
			kind    auth.TokenKind
			user    string
			created time.Time
		}{
			{auth.KindReset, "u1", t0.Add(-2 * time.Hour)},
			{auth.KindReset, "u1", t0.Add(-30 * time.Minute)},
			{auth.KindReset, "u1", t0},
			{auth.KindConfirm, "u1", t0},
			{auth.KindReset, "u2", t0},
		} {
			err := tx.CreateOneTimeToken(ctx, &auth.OneTimeToken{Hash: hash(fmt.Sprint(i)), Kind: x.kind, UserID: x.user,
				CreatedAt: x.created, ExpiresAt: x.created.Add(time.Hour)})
			if err != nil {
				return err
			}
		}
		return nil
	})
	tests := []struct {
		user  string
		kind  auth.TokenKind
		since time.Time
		want  int
	}{
		{"u1", auth.KindReset, t0.Add(-time.Hour), 2},
		{"u1", auth.KindReset, t0.Add(-30 * time.Minute), 2}, // since is inclusive
		{"u1", auth.KindReset, t0.Add(-30*time.Minute + time.Microsecond), 1},
		{"u1", auth.KindReset, t0.Add(-24 * time.Hour), 3},
		{"u1", auth.KindConfirm, t0.Add(-time.Hour), 1},
		{"u1", auth.KindEmailChange, t0.Add(-time.Hour), 0},
		{"u2", auth.KindReset, t0.Add(-time.Hour), 1},
		{"nobody", auth.KindReset, t0.Add(-time.Hour), 0},
	}
	for _, tt := range tests {
		got, err := s.CountOneTimeTokens(ctx, tt.user, tt.kind, tt.since)
		if err != nil {
			t.Fatalf("CountOneTimeTokens: %v", err)
		}
		if got != tt.want {
			t.Errorf("CountOneTimeTokens(%s, %s, %v) = %d, want %d", tt.user, tt.kind, tt.since, got, tt.want)
		}
	}
}

// Signing keys.

func testSigningKeys(t *testing.T, s auth.Store) {
	ctx := context.Background()
	keys, err := s.SigningKeys(ctx)
	if err != nil || len(keys) != 0 {
		t.Fatalf("SigningKeys(empty store): got %v, %v, want none", keys, err)
	}
	k1 := &auth.SigningKey{KID: "k1", Alg: "EdDSA", PrivateEnc: []byte("\x01sealed-1\x00"), PublicJWK: []byte(`{"kty":"OKP","crv":"Ed25519","x":"AAA"}`),
		CreatedAt: t0.Add(-48 * time.Hour), ActiveAt: t0.Add(-47 * time.Hour)}
	k2 := &auth.SigningKey{KID: "k2", Alg: "ES256", PrivateEnc: []byte("\x02sealed-2"), PublicJWK: []byte(`{"kty":"EC"}`),
		CreatedAt: t0, ActiveAt: t0.Add(time.Hour)}
	// Created newest first; listed oldest first.
	tx(t, s, func(tx auth.Tx) error {
		if err := tx.CreateSigningKey(ctx, k2); err != nil {
			return err
		}
		return tx.CreateSigningKey(ctx, k1)
	})
	keys, err = s.SigningKeys(ctx)
	if err != nil {
		t.Fatalf("SigningKeys: %v", err)
	}
	if want := []*auth.SigningKey{k1, k2}; show(keys) != show(want) {
		t.Errorf("SigningKeys:\ngot  %s\nwant %s", show(keys), show(want))
	}

	upd := *k1
	upd.RetiredAt = t0.Add(time.Hour)
	upd.ExpiresAt = t0.Add(25 * time.Hour)
	upd.CreatedAt = t0.Add(time.Hour) // must be ignored
	tx(t, s, func(tx auth.Tx) error { return tx.UpdateSigningKey(ctx, &upd) })
	want := upd
	want.CreatedAt = k1.CreatedAt
	keys, err = s.SigningKeys(ctx)
	if err != nil {
		t.Fatalf("SigningKeys: %v", err)
	}
	if len(keys) != 2 || show(keys[0]) != show(&want) || show(keys[1]) != show(k2) {
		t.Errorf("after UpdateSigningKey:\ngot  %s\nwant %s", show(keys), show([]*auth.SigningKey{&want, k2}))
	}

	err = s.Tx(ctx, func(tx auth.Tx) error { return tx.CreateSigningKey(ctx, k1) })
	wantErr(t, "CreateSigningKey(same kid)", err, auth.ErrConflict)
}

// Transactions.

func testTxRollback(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u0", "z@example.com"))
	boom := errors.New("boom")
	err := s.Tx(ctx, func(tx auth.Tx) error {
		steps := []error{
			tx.CreateUser(ctx, newUser("u1", "a@example.com")),
			tx.CreateSession(ctx, newSession("s1", "u1", t0)),
			tx.CreateOneTimeToken(ctx, &auth.OneTimeToken{Hash: hash("ott"), Kind: auth.KindConfirm, UserID: "u1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}),
			tx.CreateSigningKey(ctx, &auth.SigningKey{KID: "k1", Alg: "EdDSA", PrivateEnc: []byte("x"), PublicJWK: []byte("{}"), CreatedAt: t0}),
			tx.DeleteUser(ctx, "u0"),
		}
		for i, err := range steps {
			if err != nil {
				return fmt.Errorf("step %d: %w", i, err)
			}
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Tx: got error %v, want %v unchanged", err, boom)
	}
	_, err = s.UserByID(ctx, "u1")
	wantErr(t, "UserByID(rolled back)", err, auth.ErrNotFound)
	_, err = s.SessionByID(ctx, "s1")
	wantErr(t, "SessionByID(rolled back)", err, auth.ErrNotFound)
	_, err = s.OneTimeTokenByHash(ctx, hash("ott"))
	wantErr(t, "OneTimeTokenByHash(rolled back)", err, auth.ErrNotFound)
	if keys, err := s.SigningKeys(ctx); err != nil || len(keys) != 0 {
		t.Errorf("SigningKeys after rollback: got %v, %v, want none", keys, err)
	}
	getUser(t, s, "u0") // the delete was rolled back

	// A store error returned by fn rolls back too, and comes back as is.
	err = s.Tx(ctx, func(tx auth.Tx) error {
		if err := tx.CreateUser(ctx, newUser("u2", "b@example.com")); err != nil {
			return err
		}
		return tx.CreateUser(ctx, newUser("u3", "z@example.com"))
	})
	wantErr(t, "Tx", err, auth.ErrConflict)
	_, err = s.UserByID(ctx, "u2")
	wantErr(t, "UserByID(rolled back after conflict)", err, auth.ErrNotFound)
}

func testTxSeesOwnWrites(t *testing.T, s auth.Store) {
	ctx := context.Background()
	tx(t, s, func(tx auth.Tx) error {
		if err := tx.CreateUser(ctx, newUser("u1", "a@example.com")); err != nil {
			return err
		}
		u, err := tx.UserByEmail(ctx, "a@example.com")
		if err != nil {
			return fmt.Errorf("UserByEmail in tx: %w", err)
		}
		if u.ID != "u1" {
			return fmt.Errorf("UserByEmail in tx: got id %q, want u1", u.ID)
		}
		if err := tx.CreateSession(ctx, newSession("s1", "u1", t0)); err != nil {
			return err
		}
		list, err := tx.SessionsByUser(ctx, "u1", t0)
		if err != nil || len(list) != 1 {
			return fmt.Errorf("SessionsByUser in tx: got %d sessions, %v, want 1", len(list), err)
		}
		return nil
	})
}

// Concurrency: real goroutines against the real store.

const racers = 10

// race runs fn in racers goroutines released at once and returns their
// results.
func race[T any](fn func(i int) T) []T {
	out := make([]T, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			out[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return out
}

type result struct {
	ok  bool
	err error
}

func countWinners(t *testing.T, what string, results []result) {
	t.Helper()
	wins := 0
	for _, r := range results {
		if r.err != nil {
			t.Errorf("%s: %v", what, r.err)
		}
		if r.ok {
			wins++
		}
	}
	if wins != 1 {
		t.Errorf("%s: %d of %d concurrent callers got true, want exactly 1", what, wins, racers)
	}
}

func testConcurrentConsume(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	tx(t, s, func(tx auth.Tx) error {
		return tx.CreateOneTimeToken(ctx, &auth.OneTimeToken{Hash: hash("t"), Kind: auth.KindReset, UserID: "u1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)})
	})
	results := race(func(i int) (r result) {
		r.err = s.Tx(ctx, func(tx auth.Tx) (err error) {
			r.ok, err = tx.ConsumeOneTimeToken(ctx, hash("t"), auth.KindReset, t0.Add(time.Duration(i)*time.Second))
			return err
		})
		return r
	})
	countWinners(t, "ConsumeOneTimeToken", results)
}

func testConcurrentMarkUsed(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "a@example.com"))
	createSession(t, s, newSession("s1", "u1", t0))
	tx(t, s, func(tx auth.Tx) error {
		return tx.CreateRefreshToken(ctx, &auth.RefreshToken{Hash: hash("rt"), SessionID: "s1", UserID: "u1", CreatedAt: t0})
	})
	results := race(func(i int) (r result) {
		r.err = s.Tx(ctx, func(tx auth.Tx) (err error) {
			r.ok, err = tx.MarkRefreshTokenUsed(ctx, hash("rt"), t0.Add(time.Second), hash(fmt.Sprint("next", i)), []byte(fmt.Sprint("sealed", i)))
			return err
		})
		return r
	})
	countWinners(t, "MarkRefreshTokenUsed", results)

	// The stored successor is the winner's.
	got, err := s.RefreshTokenByHash(ctx, hash("rt"))
	if err != nil {
		t.Fatalf("RefreshTokenByHash: %v", err)
	}
	for i, r := range results {
		if r.ok && (string(got.SuccessorHash) != string(hash(fmt.Sprint("next", i))) || string(got.SuccessorSealed) != fmt.Sprint("sealed", i)) {
			t.Errorf("successor: got sealed %q, want the winner's %q", got.SuccessorSealed, fmt.Sprint("sealed", i))
		}
	}
}

func testConcurrentCreateUser(t *testing.T, s auth.Store) {
	ctx := context.Background()
	errs := race(func(i int) error {
		return s.Tx(ctx, func(tx auth.Tx) error {
			return tx.CreateUser(ctx, newUser(fmt.Sprint("u", i), "same@example.com"))
		})
	})
	created, conflicts := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			created++
		case errors.Is(err, auth.ErrConflict):
			conflicts++
		default:
			t.Errorf("CreateUser: unexpected error %v", err)
		}
	}
	if created != 1 || conflicts != racers-1 {
		t.Errorf("concurrent CreateUser: %d created, %d conflicts; want 1 and %d", created, conflicts, racers-1)
	}
	u, err := s.UserByEmail(ctx, "same@example.com")
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	for i, err := range errs {
		if err == nil && u.ID != fmt.Sprint("u", i) {
			t.Errorf("stored user: got %s, want the winner u%d", u.ID, i)
		}
	}
}
