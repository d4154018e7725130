package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
)

// outboxKinds drains the outbox and counts its mails by kind and recipient.
func (f *fixture) outboxKinds(t *testing.T) map[string]int {
	t.Helper()
	f.svc.Close() // wait for the work done off the request path
	out := map[string]int{}
	for _, m := range authtest.DrainMail(t, f.db, f.clock.Now()) {
		out[m.Kind+" "+m.Message.To]++
		if m.Kind == auth.MailUnknownAccount && !strings.Contains(m.Message.Text, "https://auth.example.com/forgot-password") {
			t.Errorf("unknown-account mail lacks the forgot-password link:\n%s", m.Message.Text)
		}
	}
	return out
}

func TestForgotUnknownAccount(t *testing.T) {
	tests := []struct {
		name string
		on   bool
		want map[string]int
	}{
		{"off by default", false, map[string]int{"reset known@example.com": 1}},
		{"on, capped per address", true, map[string]int{
			"reset known@example.com":            1,
			"unknown_account Nobody@Example.com": 5, // ForgotCap: 5 per hour
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *auth.Config) { c.MailUnknownAccounts = tt.on })
			ctx := context.Background()
			f.confirmed(t, "known@example.com")
			f.outboxKinds(t) // drop the signup mails
			if err := f.svc.ForgotPassword(ctx, "known@example.com"); err != nil {
				t.Fatal(err)
			}
			for range 7 {
				if err := f.svc.ForgotPassword(ctx, "Nobody@Example.com"); err != nil {
					t.Fatal(err)
				}
			}
			// Not an address: never mailed.
			if err := f.svc.ForgotPassword(ctx, "not an address"); err != nil {
				t.Fatal(err)
			}
			got := f.outboxKinds(t)
			if len(got) != len(tt.want) {
				t.Errorf("outbox %v, want %v", got, tt.want)
			}
			for k, n := range tt.want {
				if got[k] != n {
					t.Errorf("outbox has %d %q, want %d (all: %v)", got[k], k, n, got)
				}
			}
			if !tt.on {
				return
			}
			// The cap is per hour: an hour later one more goes out.
			f.clock.Advance(time.Hour + time.Second)
			if err := f.svc.ForgotPassword(ctx, "nobody@example.com"); err != nil {
				t.Fatal(err)
			}
			if got := f.outboxKinds(t); got["unknown_account nobody@example.com"] != 1 {
				t.Errorf("an hour later: outbox %v, want one unknown_account mail", got)
			}
		})
	}
}
