package authtest_test

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
)

// No program or library package may link the test fixture in.
func TestImportedByTestsOnly(t *testing.T) {
	const self = "github.com/latchauth/latch/internal/authtest"
	// go test puts its own GOROOT/bin first on PATH, so this is the
	// toolchain running the test.
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool: %v", err)
	}
	out, err := exec.Command(gotool, "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "github.com/latchauth/latch/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && slices.Contains(f[1:], self) {
			t.Errorf("package %s imports %s outside its tests", f[0], self)
		}
	}
}

func TestClock(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := authtest.NewClock(start)
	c.Advance(90 * time.Second)
	if got, want := c.Now(), start.Add(90*time.Second); !got.Equal(want) {
		t.Errorf("after Advance: got %v, want %v", got, want)
	}
	c.Set(start)
	if got := c.Now(); !got.Equal(start) {
		t.Errorf("after Set: got %v, want %v", got, start)
	}
}

func TestMailTokens(t *testing.T) {
	f := authtest.New(t, auth.Config{PublicURL: "https://auth.example.com", RequireConfirmation: true})
	ctx := context.Background()
	for range 2 {
		if _, err := f.Service.Signup(ctx, "ada@example.com", "correct horse battery staple"); err != nil {
			t.Fatal(err)
		}
	}
	f.Service.Close() // wait for the mail queued off the request path
	peeked := authtest.PeekMail(t, f.DB, f.Clock.Now())
	toks := authtest.MailTokens(peeked, "ada@example.com", auth.MailConfirm)
	if len(toks) != 2 || len(toks[1]) != 43 {
		t.Fatalf("tokens = %q, want two of 43 characters", toks)
	}
	if got := authtest.LastMailToken(t, f.DB, f.Clock.Now(), "ada@example.com"); got != toks[1] {
		t.Errorf("LastMailToken = %q, want the newest %q", got, toks[1])
	}
	if got := authtest.MailTokens(peeked, "bob@example.com", ""); len(got) != 0 {
		t.Errorf("tokens to another address = %q, want none", got)
	}
	if n := len(authtest.DrainMail(t, f.DB, f.Clock.Now())); n != len(peeked) {
		t.Errorf("drained %d mails, want the %d peeked", n, len(peeked))
	}
	if n := len(authtest.PeekMail(t, f.DB, f.Clock.Now())); n != 0 {
		t.Errorf("%d mails after the drain, want none", n)
	}
}
