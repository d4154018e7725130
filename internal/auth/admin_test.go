package auth_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"golang.org/x/crypto/bcrypt"
)

func TestNormalizeRoles(t *testing.T) {
	var many []string
	for i := range auth.MaxRoles + 1 {
		many = append(many, fmt.Sprintf("r%d", i))
	}
	tests := []struct {
		in      []string
		want    []string
		wantErr bool
	}{
		{nil, []string{}, false},
		{[]string{}, []string{}, false},
		{[]string{"user"}, []string{"user"}, false},
		{[]string{"user", "admin", "user", "admin"}, []string{"user", "admin"}, false},
		{[]string{"billing:read", "a-b_c", "0"}, []string{"billing:read", "a-b_c", "0"}, false},
		{[]string{strings.Repeat("a", 64)}, []string{strings.Repeat("a", 64)}, false},
		{[]string{strings.Repeat("a", 65)}, nil, true},
		{[]string{""}, nil, true},
		{[]string{"Admin"}, nil, true},
		{[]string{"a b"}, nil, true},
		{[]string{"rôle"}, nil, true},
		{[]string{"a/b"}, nil, true},
		{many[:auth.MaxRoles], many[:auth.MaxRoles], false},
		{many, nil, true},
		{append(slices.Clone(many[:auth.MaxRoles]), "r0", "r1"), many[:auth.MaxRoles], false}, // 32 after deduplication
	}
	for _, tt := range tests {
		got, err := auth.NormalizeRoles(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("NormalizeRoles(%q): error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			if auth.ErrorCode(err) != auth.CodeInvalidRequest {
				t.Errorf("NormalizeRoles(%q): code %s, want invalid_request", tt.in, auth.ErrorCode(err))
			}
			continue
		}
		if got == nil || !slices.Equal(got, tt.want) {
			t.Errorf("NormalizeRoles(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// events returns the types of the audit events of userID, newest first.
func (f *fixture) events(t *testing.T, userID string) []*auth.AuditEvent {
	t.Helper()
	page, err := f.svc.Audit(context.Background(), auth.AuditFilter{UserID: userID, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	return page.Events
}

func types(evs []*auth.AuditEvent) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func TestAdminUpdateUser(t *testing.T) {
	f := newFixture(t, nil)
	ctx := auth.ContextWithClient(context.Background(), auth.ClientInfo{IP: "198.51.100.7", UserAgent: "admin-ui"})
	p := f.confirmed(t, "amy@example.com")
	id := p.User.ID

	f.clock.Advance(time.Minute)
	roles := []string{"user", "admin", "admin"}
	u, err := f.svc.AdminUpdateUser(ctx, "admin-1", id, auth.UserPatch{Roles: &roles})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(u.Roles, []string{"user", "admin"}) || !u.TokensValidAfter.Equal(f.clock.Now()) {
		t.Fatalf("after role change: roles %v, cut-off %v (now %v)", u.Roles, u.TokensValidAfter, f.clock.Now())
	}
	if _, err := f.svc.Authenticate(ctx, p.AccessToken); auth.ErrorCode(err) != auth.CodeInvalidBearer {
		t.Errorf("old token after role change: %v, want invalid_bearer", err)
	}
	if _, err := f.svc.Refresh(auth.ContextWithClient(ctx, client), p.RefreshToken); err == nil {
		t.Errorf("old refresh token after role change still works")
	}

	// The same roles in another order change nothing: no event, no cut-off.
	f.clock.Advance(time.Minute)
	login, err := f.svc.Login(auth.ContextWithClient(ctx, client), "amy@example.com", pw)
	if err != nil {
		t.Fatal(err)
	}
	same := []string{"admin", "user"}
	if _, err := f.svc.AdminUpdateUser(ctx, "admin-1", id, auth.UserPatch{Roles: &same}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, login.AccessToken); err != nil {
		t.Errorf("token after a no-op role change: %v", err)
	}

	yes := true
	if _, err := f.svc.AdminUpdateUser(ctx, "admin-1", id, auth.UserPatch{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, login.AccessToken); err == nil {
		t.Error("token of a disabled user accepted")
	}
	if _, err := f.svc.Login(auth.ContextWithClient(ctx, client), "amy@example.com", pw); auth.ErrorCode(err) != auth.CodeAccountDisabled {
		t.Errorf("login of a disabled user: %v, want account_disabled", err)
	}

	evs := f.events(t, id)
	if got, want := types(evs), []string{"disabled", "login", "role_changed", "confirm", "signup"}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	rc := evs[2]
	if rc.Actor != "admin-1" || rc.IP != "198.51.100.7" || rc.UserAgent != "admin-ui" ||
		rc.Details["from"] != "user" || rc.Details["to"] != "user,admin" || rc.Details["sessions_ended"] != "1" {
		t.Errorf("role_changed event %+v", rc)
	}

	if _, err := f.svc.AdminUpdateUser(ctx, "admin-1", "nobody", auth.UserPatch{Disabled: &yes}); auth.ErrorCode(err) != auth.CodeNotFound {
		t.Errorf("unknown user: %v, want not_found", err)
	}
	bad := []string{"BAD"}
	if _, err := f.svc.AdminUpdateUser(ctx, "admin-1", id, auth.UserPatch{Roles: &bad}); auth.ErrorCode(err) != auth.CodeInvalidRequest {
		t.Errorf("bad role: %v, want invalid_request", err)
	}
}

func TestAdminCreateDeleteLogout(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	u, err := f.svc.AdminCreateUser(ctx, auth.ActorAdminKey, auth.NewUser{Email: "Zoe@Example.com", Password: pw, EmailConfirmed: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(u.Roles, []string{"user"}) || !u.EmailConfirmed || u.Email != "Zoe@Example.com" {
		t.Errorf("created %+v", u)
	}
	none, err := f.svc.AdminCreateUser(ctx, auth.ActorAdminKey, auth.NewUser{Email: "bot@example.com", Password: pw, Roles: []string{}})
	if err != nil || len(none.Roles) != 0 {
		t.Errorf("explicitly no roles: %v %v", none.Roles, err)
	}
	for _, tc := range []struct {
		in   auth.NewUser
		code auth.Code
	}{
		{auth.NewUser{Email: "zoe@example.COM", Password: pw}, auth.CodeEmailTaken},
		{auth.NewUser{Email: "x", Password: pw}, auth.CodeInvalidEmail},
		{auth.NewUser{Email: "y@example.com", Password: "short"}, auth.CodeWeakPassword},
		{auth.NewUser{Email: "y@example.com", Password: pw, Roles: []string{"!"}}, auth.CodeInvalidRequest},
	} {
		if _, err := f.svc.AdminCreateUser(ctx, auth.ActorAdminKey, tc.in); auth.ErrorCode(err) != tc.code {
			t.Errorf("AdminCreateUser(%s): %v, want %s", tc.in.Email, err, tc.code)
		}
	}

	p1, err := f.svc.Login(auth.ContextWithClient(ctx, client), "zoe@example.com", pw)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := f.svc.Login(auth.ContextWithClient(ctx, client), "zoe@example.com", pw)
	if err != nil {
		t.Fatal(err)
	}
	if list, err := f.svc.AdminSessions(ctx, u.ID); err != nil || len(list) != 2 {
		t.Fatalf("AdminSessions: %d %v", len(list), err)
	}
	f.clock.Advance(time.Second)
	if err := f.svc.AdminLogout(ctx, auth.ActorAdminKey, u.ID); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*auth.TokenPair{p1, p2} {
		if _, err := f.svc.Authenticate(ctx, p.AccessToken); err == nil {
			t.Error("access token alive after force logout")
		}
	}
	if list, err := f.svc.AdminSessions(ctx, u.ID); err != nil || len(list) != 0 {
		t.Errorf("sessions after force logout: %d %v", len(list), err)
	}
	if err := f.svc.AdminLogout(ctx, auth.ActorAdminKey, "nobody"); auth.ErrorCode(err) != auth.CodeNotFound {
		t.Errorf("force logout of nobody: %v", err)
	}

	if err := f.svc.AdminDeleteUser(ctx, auth.ActorAdminKey, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AdminUser(ctx, u.ID); auth.ErrorCode(err) != auth.CodeNotFound {
		t.Errorf("deleted user: %v", err)
	}
	if err := f.svc.AdminDeleteUser(ctx, auth.ActorAdminKey, u.ID); auth.ErrorCode(err) != auth.CodeNotFound {
		t.Errorf("second delete: %v", err)
	}
	// The deleted account's audit trail stays.
	if got, want := types(f.events(t, u.ID)), []string{"user_deleted", "force_logout", "login", "login", "user_created"}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

func TestAdminListUsersCursor(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	var want []string
	for i := range 5 {
		u, err := f.svc.AdminCreateUser(ctx, auth.ActorCLI, auth.NewUser{Email: fmt.Sprintf("p%d@example.com", i), Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, u.ID)
		if i%2 == 0 {
			f.clock.Advance(time.Millisecond) // some share a created_at
		}
	}
	var got []string
	f2 := auth.UserFilter{Limit: 2}
	for range 10 {
		page, err := f.svc.AdminListUsers(ctx, f2)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range page.Users {
			got = append(got, u.ID)
		}
		if page.NextCursor == "" {
			break
		}
		f2.Cursor = page.NextCursor
	}
	// (created_at, id) order: same created_at sorts by id.
	slices.SortFunc(want, func(a, b string) int {
		ua, _ := f.db.UserByID(ctx, a)
		ub, _ := f.db.UserByID(ctx, b)
		if c := ua.CreatedAt.Compare(ub.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	if !slices.Equal(got, want) {
		t.Errorf("paged %v, want %v", got, want)
	}
	for _, c := range []string{"x", "dTE6", "dTE6MTIzOg", "YTE6NQ"} {
		if _, err := f.svc.AdminListUsers(ctx, auth.UserFilter{Cursor: c}); auth.ErrorCode(err) != auth.CodeInvalidRequest {
			t.Errorf("cursor %q: %v, want invalid_request", c, err)
		}
	}
}

func TestImportUsers(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	bc, err := bcrypt.GenerateFromPassword([]byte(pw), 4)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2019, 5, 6, 7, 8, 9, 0, time.UTC)
	rows := []auth.ImportUser{
		{ID: "42", Email: "devise@example.com", PasswordHash: string(bc), EmailConfirmed: true, CreatedAt: created},
		{Email: "noid@example.com", PasswordHash: string(bc), Roles: []string{"user", "editor"}},
		{ID: "bad id", Email: "x1@example.com", PasswordHash: string(bc)},
		{Email: "not an email", PasswordHash: string(bc)},
		{Email: "x2@example.com", PasswordHash: "$pbkdf2-sha256$29000$c2FsdA$aGFzaA"},
		{Email: "x3@example.com", PasswordHash: "plaintext-secret"},
		{Email: "x4@example.com", PasswordHash: ""},
		{Email: "x5@example.com", PasswordHash: string(bc), Roles: []string{"UPPER"}},
		{Email: "DEVISE@example.com", PasswordHash: string(bc)}, // same email as row 0
		{Email: "future@example.com", PasswordHash: string(bc), CreatedAt: f.clock.Now().Add(48 * time.Hour)},
	}
	res, err := f.svc.ImportUsers(ctx, auth.ActorCLI, rows)
	if err != nil {
		t.Fatal(err)
	}
	want := []auth.ImportStatus{auth.ImportCreated, auth.ImportCreated, auth.ImportInvalid, auth.ImportInvalid,
		auth.ImportInvalid, auth.ImportInvalid, auth.ImportInvalid, auth.ImportInvalid, auth.ImportExists, auth.ImportInvalid}
	for i, r := range res {
		if r.Status != want[i] {
			t.Errorf("row %d: status %d (%v), want %d", i, r.Status, r.Err, want[i])
		}
		if r.Err != nil && (strings.Contains(r.Err.Error(), "plaintext-secret") || strings.Contains(r.Err.Error(), "c2FsdA")) {
			t.Errorf("row %d: error repeats the hash: %v", i, r.Err)
		}
	}
	u, err := f.svc.AdminUser(ctx, "42")
	if err != nil {
		t.Fatal(err)
	}
	if !u.CreatedAt.Equal(created) || !u.EmailConfirmed || !slices.Equal(u.Roles, []string{"user"}) {
		t.Errorf("imported user %+v", u)
	}
	// Re-running skips everything that is there.
	res, err = f.svc.ImportUsers(ctx, auth.ActorCLI, rows[:2])
	if err != nil || res[0].Status != auth.ImportExists || res[1].Status != auth.ImportExists {
		t.Errorf("re-run: %+v %v", res, err)
	}

	// The imported bcrypt hash logs in and is upgraded to argon2id.
	if _, err := f.svc.Login(auth.ContextWithClient(ctx, client), "devise@example.com", pw); err != nil {
		t.Fatalf("login with an imported bcrypt hash: %v", err)
	}
	u, _ = f.db.UserByID(ctx, "42")
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Errorf("hash not upgraded: %.10s...", u.PasswordHash)
	}
	if _, err := f.svc.Login(auth.ContextWithClient(ctx, client), "devise@example.com", pw); err != nil {
		t.Fatalf("login after the upgrade: %v", err)
	}
	// Not confirmed (and confirmation is required): like any unconfirmed account.
	if _, err := f.svc.Login(auth.ContextWithClient(ctx, client), "noid@example.com", pw); auth.ErrorCode(err) != auth.CodeEmailNotConfirmed {
		t.Errorf("unconfirmed imported account: %v", err)
	}
	evs, err := f.svc.Audit(ctx, auth.AuditFilter{Type: auth.EventUsersImported})
	if err != nil || len(evs.Events) != 2 {
		t.Fatalf("users_imported events: %v %v", evs, err)
	}
	if d := evs.Events[1].Details; d["created"] != "2" || d["existing"] != "1" || d["invalid"] != "7" || evs.Events[1].Actor != "cli" {
		t.Errorf("users_imported event %+v", evs.Events[1])
	}
}

func TestAuditPaging(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	for range 7 {
		f.svc.Login(auth.ContextWithClient(ctx, client), "nobody@example.com", pw) //nolint:errcheck // fails, and is audited
		f.clock.Advance(time.Second)
	}
	var ids []int64
	filter := auth.AuditFilter{Type: auth.EventLoginFailed, Limit: 3}
	for range 10 {
		page, err := f.svc.Audit(ctx, filter)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			ids = append(ids, e.ID)
		}
		if page.NextCursor == "" {
			break
		}
		filter.Cursor = page.NextCursor
	}
	if len(ids) != 7 || !slices.IsSortedFunc(ids, func(a, b int64) int { return int(b - a) }) {
		t.Errorf("paged ids %v: want 7, newest first", ids)
	}
	page, err := f.svc.Audit(ctx, auth.AuditFilter{Since: f.clock.Now().Add(-3 * time.Second)})
	if err != nil || len(page.Events) != 3 { // at now-3s, now-2s and now-1s
		t.Errorf("since: %d events, %v", len(page.Events), err)
	}
	if _, err := f.svc.Audit(ctx, auth.AuditFilter{Cursor: "nope"}); auth.ErrorCode(err) != auth.CodeInvalidRequest {
		t.Errorf("bad cursor: %v", err)
	}
}
