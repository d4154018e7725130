package main

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/password"
	"github.com/latchauth/latch/internal/sqlstore"
	"github.com/latchauth/latch/internal/svctest"
)

// Spellings that strings.ToLower folds onto ASCII addresses.
const (
	dottedI = "\u0130" // "İ": ToLower gives "i"
	kelvin  = "\u212A" // Kelvin sign: ToLower gives "k"
)

// onEveryStore runs f against a latch on SQLite and one on PostgreSQL
// (skipped, saying so, when PostgreSQL is not reachable), each with env.
func onEveryStore(t *testing.T, env map[string]string, f func(t *testing.T, s *server)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		f(t, startServer(t, env))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		full := map[string]string{"LATCH_DATABASE_URL": svctest.PostgresURL(t)}
		maps.Copy(full, env)
		f(t, startServer(t, full))
	})
}

// wantMail checks that the n-th mail to addr is the one whose text holds
// want (the mails of a test arrive in the order they were caused).
func wantMail(t *testing.T, s *server, addr string, n int, want string) {
	t.Helper()
	if text, _ := s.mailTo(addr, n)["text"].(string); !strings.Contains(text, want) {
		t.Fatalf("mail #%d to %s is not the expected one (want %q in it):\n%s", n, addr, want, text)
	}
}

// TestAddressLookalikesCannotTakeAnAddress: with ToLower, "İnfo@..." was
// the account of "info@..." while mail went to the spelling as typed, so
// the spelling squatted the address (or reached its account). Non-ASCII
// local parts are refused by default.
func TestAddressLookalikesCannotTakeAnAddress(t *testing.T) {
	t.Parallel()
	onEveryStore(t, map[string]string{"LATCH_ADMIN_KEY": testAdminKey}, func(t *testing.T, s *server) {
		const victim = "info@corp.example"
		squat := dottedI + "nfo@corp.example"

		// Before the owner signs up: the lookalike cannot take the address.
		r := s.do("POST", "/v1/signup", "", map[string]string{"email": squat, "password": "attacker's passphrase"}).want(t, 422, "invalid_email")
		if !strings.Contains(r.str("detail"), "before the @ must be ASCII") {
			t.Errorf("detail %q does not say what is wrong", r.str("detail"))
		}
		// So the owner's signup is a new account, confirmed from their mailbox.
		s.signupConfirmed(victim, goodPassword)

		// After: the lookalike neither signs up, logs in, nor gets a link.
		s.do("POST", "/v1/signup", "", map[string]string{"email": squat, "password": goodPassword}).want(t, 422, "invalid_email")
		s.do("POST", "/v1/login", "", map[string]string{"email": squat, "password": goodPassword}).want(t, 401, "invalid_credentials")
		s.do("POST", "/v1/password/forgot", "", map[string]string{"email": squat}).want(t, 202, "")
		s.do("POST", "/v1/confirm/resend", "", map[string]string{"email": squat}).want(t, 202, "")
		// Nor is it an address an account can move to.
		at := s.login(victim, goodPassword).str("access_token")
		s.do("POST", "/v1/email/change", at, map[string]string{"new_email": "K" + dottedI + "M@corp.example", "password": goodPassword}).want(t, 422, "invalid_email")

		// The owner's next mail is the reset they ask for now: nothing the
		// lookalike did mailed them (a "someone signed up" notice would
		// come first), and nothing went to the lookalike.
		s.do("POST", "/v1/password/forgot", "", map[string]string{"email": victim}).want(t, 202, "")
		wantMail(t, s, victim, 2, "/reset-password?token=")
		if n := s.mailCount(squat); n != 0 {
			t.Errorf("%d mails to %s", n, squat)
		}

		// The Kelvin sign likewise.
		s.signupConfirmed("kate@corp.example", goodPassword)
		s.do("POST", "/v1/signup", "", map[string]string{"email": kelvin + "ate@corp.example", "password": goodPassword}).want(t, 422, "invalid_email")
		s.do("POST", "/v1/login", "", map[string]string{"email": kelvin + "ate@corp.example", "password": goodPassword}).want(t, 401, "invalid_credentials")
		s.do("POST", "/admin/v1/users", testAdminKey, map[string]any{"email": kelvin + "ate@corp.example", "password": goodPassword}).want(t, 422, "invalid_email")
	})
}

// TestAddressIDNADomainsAreOneAccount: a domain in Unicode and in A-label
// form is one domain, so one account; latch mails the A-label form.
func TestAddressIDNADomainsAreOneAccount(t *testing.T) {
	t.Parallel()
	onEveryStore(t, map[string]string{"LATCH_ADMIN_KEY": testAdminKey}, func(t *testing.T, s *server) {
		const (
			unicode = "kate@ex\u00e4mple.com"
			alabel  = "kate@xn--exmple-cua.com"
		)
		s.do("POST", "/v1/signup", "", map[string]string{"email": unicode, "password": goodPassword}).want(t, 202, "")
		wantMail(t, s, alabel, 1, "/confirm?token=")
		second := s.do("POST", "/v1/signup", "", map[string]string{"email": alabel, "password": goodPassword}).want(t, 202, "")
		if second.str("status") != "confirmation_sent" {
			t.Fatalf("second signup answered %s", second.Raw)
		}
		// The second signup found the unconfirmed account and mailed it a
		// new link: there is one account.
		wantMail(t, s, alabel, 2, "/confirm?token=")
		tok := linkToken(t, s.mailTo(alabel, 2))
		list := s.do("GET", "/admin/v1/users?email=kate@", testAdminKey, nil).want(t, 200, "")
		if users, _ := list.Body["users"].([]any); len(users) != 1 {
			t.Fatalf("users after two signups: %s", list.Raw)
		}
		conf := s.do("POST", "/v1/confirm", "", map[string]string{"token": tok}).want(t, 200, "")
		id := conf.Body["user"].(map[string]any)["id"]
		for _, spelling := range []string{unicode, alabel, "KATE@XN--EXMPLE-CUA.COM", "Kate@EX\u00c4MPLE.com"} {
			l := s.login(spelling, goodPassword)
			if got := l.Body["user"].(map[string]any); got["id"] != id || got["email"] != alabel {
				t.Errorf("login as %s: user %v, want id %v, email %s", spelling, got, id, alabel)
			}
		}
		// A domain that is not a valid IDNA name is not an address.
		s.do("POST", "/v1/signup", "", map[string]string{"email": "kate@xn--abc-.com", "password": goodPassword}).want(t, 422, "invalid_email")
		s.do("POST", "/v1/signup", "", map[string]string{"email": "kate@exa\u200dmple.com", "password": goodPassword}).want(t, 422, "invalid_email")
	})
}

// TestAddressUnicodeLocalParts: with LATCH_UNICODE_EMAIL=true a local part
// outside ASCII is accepted after PRECIS normalisation, and mail goes to
// the normalised form: the Kelvin sign normalises to "K", so that
// spelling is kate's account and its mail goes to kate; "İ" stays itself,
// an account of its own that never reaches info's.
func TestAddressUnicodeLocalParts(t *testing.T) {
	t.Parallel()
	onEveryStore(t, map[string]string{"LATCH_UNICODE_EMAIL": "true", "LATCH_ADMIN_KEY": testAdminKey}, func(t *testing.T, s *server) {
		s.signupConfirmed("kate@corp.example", goodPassword)
		s.signupConfirmed("info@corp.example", goodPassword)

		// Kelvin: the same account, mailed at its own address.
		s.do("POST", "/v1/signup", "", map[string]string{"email": kelvin + "ate@corp.example", "password": "another passphrase"}).want(t, 202, "")
		wantMail(t, s, "kate@corp.example", 2, "/forgot-password")
		s.login(kelvin+"ate@corp.example", goodPassword)
		s.do("POST", "/v1/login", "", map[string]string{"email": kelvin + "ate@corp.example", "password": "another passphrase"}).want(t, 401, "invalid_credentials")

		// Kelvin first, no account yet: the confirmation goes to the ASCII
		// address it normalises to, never to the Kelvin spelling.
		s.do("POST", "/v1/signup", "", map[string]string{"email": kelvin + "en@corp.example", "password": goodPassword}).want(t, 202, "")
		tok := linkToken(t, s.mailTo("Ken@corp.example", 1))
		s.do("POST", "/v1/confirm", "", map[string]string{"token": tok}).want(t, 200, "")
		s.login("ken@corp.example", goodPassword)

		// "İnfo": its own account, mailed at its own spelling.
		squat := dottedI + "nfo@corp.example"
		s.do("POST", "/v1/signup", "", map[string]string{"email": squat, "password": "attacker's passphrase"}).want(t, 202, "")
		linkToken(t, s.mailTo(squat, 1))
		s.do("POST", "/v1/login", "", map[string]string{"email": squat, "password": goodPassword}).want(t, 401, "invalid_credentials")
		s.do("POST", "/v1/password/forgot", "", map[string]string{"email": "info@corp.example"}).want(t, 202, "")
		wantMail(t, s, "info@corp.example", 2, "/reset-password?token=")

		// Long s is a compatibility character: refused.
		s.do("POST", "/v1/signup", "", map[string]string{"email": "\u017Fam@corp.example", "password": goodPassword}).want(t, 422, "invalid_email")
	})
}

// TestAddressStoredUnderOldRules: accounts stored when keys were
// strings.ToLower of the address are re-keyed at start, and a lookalike
// that held an ASCII address's key lets go of it, so the address's owner
// can sign up and gets their own mail: "İnfo" becomes an account of its
// own (reached only with LATCH_UNICODE_EMAIL, like every Unicode local
// part); the Kelvin sign, which normalises to another spelling, keeps its
// account but no spelling reaches it (logged). A Unicode domain joins its
// A-label.
func TestAddressStoredUnderOldRules(t *testing.T) {
	t.Parallel()
	for _, flavour := range []string{"sqlite", "postgres"} {
		t.Run(flavour, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{
				"LATCH_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "latch.db"),
				"LATCH_SECRET":       "an old secret of at least 32 bytes, for two starts",
			}
			if flavour == "postgres" {
				env["LATCH_DATABASE_URL"] = svctest.PostgresURL(t)
			}
			const squatPW = "the squatter's passphrase"
			seedOldRules(t, env["LATCH_DATABASE_URL"], map[string][2]string{
				"squat-i": {dottedI + "nfo@corp.example", squatPW},
				"squat-k": {kelvin + "ate@corp.example", squatPW},
				"idn":     {"kate@ex\u00e4mple.com", goodPassword},
				"jorg":    {"J\u00f6rg@example.de", goodPassword},
				"bob":     {"Bob@Example.com", goodPassword},
			})
			s := startServer(t, env)

			for _, victim := range []string{"info@corp.example", "kate@corp.example"} {
				// The address is free: its owner's signup mails them a link.
				s.do("POST", "/v1/login", "", map[string]string{"email": victim, "password": squatPW}).want(t, 401, "invalid_credentials")
				s.signupConfirmed(victim, goodPassword)
				s.login(victim, goodPassword)
			}
			if n := s.logs.count(func(l map[string]any) bool { return l["level"] == "WARN" && l["user_id"] == "squat-k" }); n != 1 {
				t.Errorf("%d warnings naming squat-k, want 1:\n%s", n, s.logs.all())
			}
			s.do("POST", "/v1/login", "", map[string]string{"email": dottedI + "nfo@corp.example", "password": squatPW}).want(t, 401, "invalid_credentials")
			l := s.login("KATE@xn--exmple-cua.com", goodPassword).Body["user"].(map[string]any)
			if l["id"] != "idn" || l["email"] != "kate@xn--exmple-cua.com" {
				t.Errorf("login with the A-label: user %v", l)
			}
			s.login("bob@example.com", goodPassword)
			s.do("POST", "/v1/login", "", map[string]string{"email": "J\u00f6rg@example.de", "password": goodPassword}).want(t, 401, "invalid_credentials")
			if s.logs.count(func(l map[string]any) bool {
				return l["level"] == "WARN" && strings.Contains(fmt.Sprint(l["msg"]), "LATCH_UNICODE_EMAIL") && l["accounts"] == 2.0
			}) != 1 {
				t.Errorf("no warning that two accounts need LATCH_UNICODE_EMAIL:\n%s", s.logs.all())
			}
			s.stop()

			// Started again with Unicode local parts: those accounts log in
			// with their address (ASCII case aside: "ö" is not "Ö"), the
			// Kelvin spelling still reaches nothing, and nothing is re-keyed
			// twice.
			env["LATCH_UNICODE_EMAIL"] = "true"
			s = startServer(t, env)
			s.login("J\u00f6rg@example.de", goodPassword)
			s.login("j\u00f6RG@EXAMPLE.de", goodPassword)
			s.do("POST", "/v1/login", "", map[string]string{"email": "J\u00d6rg@example.de", "password": goodPassword}).want(t, 401, "invalid_credentials")
			s.login(dottedI+"nfo@corp.example", squatPW)
			s.do("POST", "/v1/login", "", map[string]string{"email": kelvin + "ate@corp.example", "password": squatPW}).want(t, 401, "invalid_credentials")
			if n := s.logs.count(func(l map[string]any) bool {
				return l["level"] == "WARN" && (l["user_id"] != nil || strings.Contains(fmt.Sprint(l["msg"]), "LATCH_UNICODE_EMAIL"))
			}); n != 0 {
				t.Errorf("%d address warnings on the second start:\n%s", n, s.logs.all())
			}
		})
	}
}

// seedOldRules stores confirmed accounts (id: address, password) keyed as
// latch once keyed them: strings.ToLower of the address.
func seedOldRules(t *testing.T, url string, users map[string][2]string) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	hasher := password.NewHasher(password.Config{})
	now := time.Now().UTC()
	for id, u := range users {
		hash, err := hasher.Hash(ctx, u[1])
		if err != nil {
			t.Fatal(err)
		}
		err = db.Tx(ctx, func(tx auth.Tx) error {
			return tx.CreateUser(ctx, &auth.User{ID: id, Email: u[0], EmailNorm: strings.ToLower(u[0]), PasswordHash: hash,
				EmailConfirmed: true, Roles: []string{auth.RoleUser}, CreatedAt: now, UpdatedAt: now})
		})
		if err != nil {
			t.Fatalf("seeding %s: %v", u[0], err)
		}
	}
}
