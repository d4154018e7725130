package auth_test

import (
	"context"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
)

// TestRekeyEmails: stored addresses keyed by strings.ToLower get the
// current keys; one whose key is taken, or that normalises to another
// spelling, gets a key no spelling reaches; running again changes nothing.
func TestRekeyEmails(t *testing.T) {
	ctx := context.Background()
	fx := authtest.New(t, auth.Config{})
	now := fx.Clock.Now()
	for id, email := range map[string]string{
		"idn-u":   "kate@ex\u00e4mple.com",   // joins the A-label...
		"idn-a":   "kate@xn--exmple-cua.com", // ...which this account already holds
		"idn":     "ann@ex\u00e4mple.com",
		"kelvin":  "\u212Aen@corp.example",
		"dotted":  "\u0130nfo@corp.example",
		"ascii":   "Bob@Example.com",
		"longs":   "\u017Fam@corp.example",
		"unicode": "J\u00f6rg@example.de",
	} {
		err := fx.DB.Tx(ctx, func(tx auth.Tx) error {
			return tx.CreateUser(ctx, &auth.User{ID: id, Email: email, EmailNorm: strings.ToLower(email), PasswordHash: "x",
				Roles: []string{auth.RoleUser}, CreatedAt: now, UpdatedAt: now})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	res, err := fx.Service.RekeyEmails(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (auth.RekeyResult{Rekeyed: 2, Unmatched: 3, UnicodeLocal: 2}); res != want {
		t.Errorf("RekeyEmails = %+v, want %+v", res, want)
	}
	for id, want := range map[string][2]string{
		"idn-u":   {"kate@ex\u00e4mple.com", "unmatched:idn-u"},
		"idn-a":   {"kate@xn--exmple-cua.com", "kate@xn--exmple-cua.com"},
		"idn":     {"ann@xn--exmple-cua.com", "ann@xn--exmple-cua.com"},
		"kelvin":  {"\u212Aen@corp.example", "unmatched:kelvin"},
		"dotted":  {"\u0130nfo@corp.example", "\u0130nfo@corp.example"},
		"ascii":   {"Bob@Example.com", "bob@example.com"},
		"longs":   {"\u017Fam@corp.example", "unmatched:longs"},
		"unicode": {"J\u00f6rg@example.de", "j\u00f6rg@example.de"},
	} {
		u, err := fx.DB.UserByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != want[0] || u.EmailNorm != want[1] {
			t.Errorf("%s: stored {%q, %q}, want {%q, %q}", id, u.Email, u.EmailNorm, want[0], want[1])
		}
	}
	// No spelling reaches an unmatched account, not even its key.
	if _, err := fx.Service.AdminUserByEmail(ctx, "unmatched:kelvin"); err == nil {
		t.Error("the unmatched key reaches its account")
	}
	res, err = fx.Service.RekeyEmails(ctx)
	if want := (auth.RekeyResult{UnicodeLocal: 2}); err != nil || res != want {
		t.Errorf("RekeyEmails again = %+v, %v; want %+v", res, err, want)
	}
}

// TestAdminAddressLookups: the admin's show and list match like login: no
// Unicode case folding, domains by A-label, ASCII case ignored.
func TestAdminAddressLookups(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) { c.UnicodeEmail = true })
	ctx := context.Background()
	for _, e := range []string{"info@corp.example", "\u0130nfo@corp.example", "kate@ex\u00e4mple.com"} {
		if _, err := f.svc.AdminCreateUser(ctx, auth.ActorAdminKey, auth.NewUser{Email: e, Password: pw}); err != nil {
			t.Fatalf("create %s: %v", e, err)
		}
	}
	for _, tt := range []struct{ filter, want string }{
		{"INFO@Corp.Example", "info@corp.example"},
		{"i", "info@corp.example"},
		{"\u0130", "\u0130nfo@corp.example"},
		{"\u0130NFO@corp.example", "\u0130nfo@corp.example"},
		{"KATE@XN--EXMPLE-CUA.COM", "kate@xn--exmple-cua.com"},
		{"kate@ex\u00c4mple.com", "kate@xn--exmple-cua.com"},
	} {
		page, err := f.svc.AdminListUsers(ctx, auth.UserFilter{Email: tt.filter})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Users) != 1 || page.Users[0].Email != tt.want {
			var got []string
			for _, u := range page.Users {
				got = append(got, u.Email)
			}
			t.Errorf("list %q: %q, want [%q]", tt.filter, got, tt.want)
		}
		if strings.Contains(tt.filter, "@") {
			u, err := f.svc.AdminUserByEmail(ctx, tt.filter)
			if err != nil || u.Email != tt.want {
				t.Errorf("show %q: %v, %v; want %s", tt.filter, u, err, tt.want)
			}
		}
	}
}
