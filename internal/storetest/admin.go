package storetest

// Admin: the user listing, imports and the audit log.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

func userIDs(us []*auth.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

func listUsers(t *testing.T, s auth.Reader, q auth.UserQuery) []string {
	t.Helper()
	us, err := s.ListUsers(context.Background(), q)
	if err != nil {
		t.Fatalf("ListUsers(%+v): %v", q, err)
	}
	return userIDs(us)
}

func testListUsers(t *testing.T, s auth.Store) {
	// Created out of order, two sharing a created_at: order is
	// (created_at, id).
	for _, c := range []struct {
		id  string
		off time.Duration
	}{{"c", 2}, {"a", 0}, {"e", 1}, {"b", 1}, {"d", 3}} {
		u := newUser(c.id, c.id+"@example.com")
		u.CreatedAt = t0.Add(c.off * time.Second)
		createUser(t, s, u)
	}
	all := listUsers(t, s, auth.UserQuery{Limit: 10})
	if want := []string{"a", "b", "e", "c", "d"}; !slices.Equal(all, want) {
		t.Fatalf("ListUsers: got %v, want %v", all, want)
	}
	if got := listUsers(t, s, auth.UserQuery{Limit: 2}); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("ListUsers limit 2: got %v", got)
	}
	// After "b" (t0+1s): "e" at the same time, then the rest.
	got := listUsers(t, s, auth.UserQuery{AfterCreated: t0.Add(time.Second), AfterID: "b", Limit: 10})
	if want := []string{"e", "c", "d"}; !slices.Equal(got, want) {
		t.Errorf("ListUsers after b: got %v, want %v", got, want)
	}
	got = listUsers(t, s, auth.UserQuery{AfterCreated: t0.Add(3 * time.Second), AfterID: "d", Limit: 10})
	if len(got) != 0 {
		t.Errorf("ListUsers after the last: got %v", got)
	}
	// Whole users come back, as UserByID returns them.
	us, err := s.ListUsers(context.Background(), auth.UserQuery{Limit: 1})
	if err != nil || len(us) != 1 {
		t.Fatalf("ListUsers: %v %v", us, err)
	}
	if want := getUser(t, s, "a"); show(us[0]) != show(want) {
		t.Errorf("ListUsers user:\ngot  %s\nwant %s", show(us[0]), show(want))
	}
}

func testListUsersEmailPrefix(t *testing.T, s auth.Store) {
	for i, e := range []string{"ann@example.com", "anna@example.com", "an_x@example.com", "an%y@example.com", "bob@example.com", `an\z@example.com`} {
		u := newUser(fmt.Sprintf("u%d", i), e)
		u.CreatedAt = t0.Add(time.Duration(i) * time.Second)
		createUser(t, s, u)
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"u0", "u1", "u2", "u3", "u4", "u5"}},
		{"an", []string{"u0", "u1", "u2", "u3", "u5"}},
		{"ann", []string{"u0", "u1"}},
		{"ann@example.com", []string{"u0"}},
		{"an_", []string{"u2"}}, // '_' is literal
		{"an%", []string{"u3"}}, // '%' is literal
		{`an\`, []string{"u5"}}, // '\' is literal
		{"zzz", []string{}},     // nothing
		{"example", []string{}}, // a prefix, not a substring
	}
	for _, tt := range tests {
		got := listUsers(t, s, auth.UserQuery{EmailPrefix: tt.prefix, Limit: 10})
		if !slices.Equal(got, tt.want) {
			t.Errorf("ListUsers(prefix %q): got %v, want %v", tt.prefix, got, tt.want)
		}
	}
}

// testListUsersNonASCIIEmail: the filter is on the stored address (a
// lookalike's key may be ASCII), byte-wise, and pages like the rest.
func testListUsersNonASCIIEmail(t *testing.T, s auth.Store) {
	for i, e := range [][2]string{
		{"ann@example.com", "ann@example.com"},
		{"\u0130nfo@corp.example", "info@corp.example"},
		{"kate@ex\u00e4mple.com", "kate@ex\u00e4mple.com"},
		{"Bob@Example.com", "bob@example.com"},
		{"j\u00f6rg@example.de", "j\u00f6rg@example.de"},
		{"odd@example.com", "\u00f6dd@example.com"},
	} {
		u := newUser(fmt.Sprintf("u%d", i), e[0])
		u.EmailNorm = e[1]
		u.CreatedAt = t0.Add(time.Duration(i) * time.Second)
		createUser(t, s, u)
	}
	if got, want := listUsers(t, s, auth.UserQuery{NonASCIIEmail: true, Limit: 10}), []string{"u1", "u2", "u4"}; !slices.Equal(got, want) {
		t.Errorf("ListUsers(non-ASCII): got %v, want %v", got, want)
	}
	q := auth.UserQuery{NonASCIIEmail: true, Limit: 1, AfterCreated: t0.Add(time.Second), AfterID: "u1"}
	if got, want := listUsers(t, s, q), []string{"u2"}; !slices.Equal(got, want) {
		t.Errorf("ListUsers(non-ASCII after u1, limit 1): got %v, want %v", got, want)
	}
	q = auth.UserQuery{NonASCIIEmail: true, EmailPrefix: "j", Limit: 10}
	if got, want := listUsers(t, s, q), []string{"u4"}; !slices.Equal(got, want) {
		t.Errorf("ListUsers(non-ASCII, prefix j): got %v, want %v", got, want)
	}
}

func testCreateUsersIfAbsent(t *testing.T, s auth.Store) {
	ctx := context.Background()
	createUser(t, s, newUser("u1", "one@example.com"))
	create := func(us ...*auth.User) []bool {
		t.Helper()
		var got []bool
		tx(t, s, func(tx auth.Tx) error {
			var err error
			got, err = tx.CreateUsersIfAbsent(ctx, us)
			return err
		})
		return got
	}
	got := create(
		newUser("u2", "two@example.com"),
		newUser("u1", "other@example.com"), // same id as a stored user
		newUser("u3", "ONE@example.com"),   // same email
		newUser("u4", "four@example.com"),
		newUser("u4", "four-again@example.com"), // same id as an earlier row
		newUser("u5", "Four@Example.com"),       // same email as an earlier row
	)
	if want := []bool{true, false, false, true, false, false}; !slices.Equal(got, want) {
		t.Errorf("CreateUsersIfAbsent: got %v, want %v", got, want)
	}
	if got := getUser(t, s, "u2"); show(got) != show(newUser("u2", "two@example.com")) {
		t.Errorf("created user: %s", show(got))
	}
	if got := getUser(t, s, "u1"); got.Email != "one@example.com" {
		t.Errorf("existing user changed: %s", show(got))
	}
	if got := getUser(t, s, "u4"); got.Email != "four@example.com" {
		t.Errorf("first of two rows with one id: %s", show(got))
	}
	for _, id := range []string{"u3", "u5"} {
		if _, err := s.UserByID(ctx, id); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("%s was created: %v", id, err)
		}
	}
	// Again: nothing goes in. None at all is fine too.
	if got := create(newUser("u2", "two@example.com")); !slices.Equal(got, []bool{false}) {
		t.Errorf("again: %v", got)
	}
	if got := create(); len(got) != 0 {
		t.Errorf("no users: %v", got)
	}
	// Many rows (more than one statement's worth).
	var many []*auth.User
	for i := range 1234 {
		many = append(many, newUser(fmt.Sprintf("m%04d", i), fmt.Sprintf("m%d@example.com", i)))
	}
	many = append(many, newUser("m0001", "dup@example.com"))
	got = create(many...)
	n := 0
	for _, c := range got {
		if c {
			n++
		}
	}
	if len(got) != 1235 || n != 1234 || got[1234] {
		t.Errorf("1235 rows: %d results, %d created, last %v", len(got), n, got[len(got)-1])
	}
	if all := listUsers(t, s, auth.UserQuery{Limit: 2000}); len(all) != 1234+3 {
		t.Errorf("stored %d users, want %d", len(all), 1234+3)
	}
}

func appendAudit(t *testing.T, s auth.Store, e *auth.AuditEvent) {
	t.Helper()
	tx(t, s, func(tx auth.Tx) error { return tx.AppendAudit(context.Background(), e) })
	if e.ID <= 0 {
		t.Fatalf("AppendAudit set ID %d", e.ID)
	}
}

func auditIDs(t *testing.T, s auth.Store, q auth.AuditQuery) []int64 {
	t.Helper()
	evs, err := s.AuditEvents(context.Background(), q)
	if err != nil {
		t.Fatalf("AuditEvents(%+v): %v", q, err)
	}
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func testAuditAppendAndQuery(t *testing.T, s auth.Store) {
	first := &auth.AuditEvent{
		Type: "login", UserID: "u1", SessionID: "s1", IP: "192.0.2.1", UserAgent: "UA/1",
		Details: map[string]string{"reason": "x", "ünï": "cödé"}, CreatedAt: t0,
	}
	appendAudit(t, s, first)
	evs := []*auth.AuditEvent{first}
	for i, c := range []struct{ typ, user, actor string }{
		{"login_failed", "u1", ""},
		{"login_failed", "", ""},
		{"role_changed", "u2", "admin_key"},
		{"login", "u2", ""},
	} {
		e := &auth.AuditEvent{Type: c.typ, UserID: c.user, Actor: c.actor, CreatedAt: t0.Add(time.Duration(i+1) * time.Minute)}
		appendAudit(t, s, e)
		if e.ID <= evs[len(evs)-1].ID {
			t.Fatalf("IDs do not increase: %d after %d", e.ID, evs[len(evs)-1].ID)
		}
		evs = append(evs, e)
	}
	id := func(i int) int64 { return evs[i].ID }

	got, err := s.AuditEvents(context.Background(), auth.AuditQuery{UserID: "u1", Type: "login", Limit: 10})
	if err != nil || len(got) != 1 {
		t.Fatalf("AuditEvents: %v %v", got, err)
	}
	if show(got[0]) != show(first) {
		t.Errorf("stored event:\ngot  %s\nwant %s", show(got[0]), show(first))
	}
	tests := []struct {
		name string
		q    auth.AuditQuery
		want []int64
	}{
		{"all, newest first", auth.AuditQuery{Limit: 10}, []int64{id(4), id(3), id(2), id(1), id(0)}},
		{"limit", auth.AuditQuery{Limit: 2}, []int64{id(4), id(3)}},
		{"user", auth.AuditQuery{UserID: "u2", Limit: 10}, []int64{id(4), id(3)}},
		{"type", auth.AuditQuery{Type: "login_failed", Limit: 10}, []int64{id(2), id(1)}},
		{"before id", auth.AuditQuery{BeforeID: id(3), Limit: 10}, []int64{id(2), id(1), id(0)}},
		{"since", auth.AuditQuery{Since: t0.Add(3 * time.Minute), Limit: 10}, []int64{id(4), id(3)}},
		{"until", auth.AuditQuery{Until: t0.Add(time.Minute), Limit: 10}, []int64{id(0)}},
		{"since and until", auth.AuditQuery{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute), Limit: 10}, []int64{id(2), id(1)}},
		{"combined", auth.AuditQuery{UserID: "u1", Type: "login_failed", BeforeID: id(4), Limit: 10}, []int64{id(1)}},
		{"nothing", auth.AuditQuery{UserID: "nobody", Limit: 10}, []int64{}},
	}
	for _, tt := range tests {
		if got := auditIDs(t, s, tt.q); !slices.Equal(got, tt.want) {
			t.Errorf("AuditEvents %s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func testAuditRollback(t *testing.T, s auth.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Tx(ctx, func(tx auth.Tx) error {
		if err := tx.AppendAudit(ctx, &auth.AuditEvent{Type: "x", CreatedAt: t0}); err != nil {
			return err
		}
		return boom
	})
	wantErr(t, "Tx", err, boom)
	if got := auditIDs(t, s, auth.AuditQuery{Limit: 10}); len(got) != 0 {
		t.Errorf("rolled-back audit event stored: %v", got)
	}
}
