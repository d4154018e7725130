package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/latchauth/latch/internal/svctest"
)

// A latch process killed (SIGKILL) while a webhook is on its way loses no
// event: the delivery's lease runs out and the next process sends it
// again, under the same webhook-id and signed with the same secret.
func TestWebhookSurvivesKilledProcess(t *testing.T) {
	t.Parallel()
	const adminKey = "admin-key-0123456789abcdef"
	env := map[string]string{
		"LATCH_ADDR":                  "127.0.0.1:0",
		"LATCH_DATABASE_URL":          "sqlite:" + filepath.Join(t.TempDir(), "latch.db"),
		"LATCH_SECRET":                testSecret,
		"LATCH_LOG_FORMAT":            "json",
		"LATCH_PUBLIC_URL":            "http://latch.test",
		"LATCH_RATE_LIMITS":           "false",
		"LATCH_ADMIN_KEY":             adminKey,
		"LATCH_WEBHOOK_ALLOW_PRIVATE": "true",
	}

	// The receiver holds the first request open (the delivery is in
	// flight when latch dies) and acknowledges every later one.
	inFlight := make(chan http.Header, 1)
	release := make(chan struct{})
	got := make(chan hookRequest, 8)
	var answered atomic.Bool
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if answered.CompareAndSwap(false, true) {
			inFlight <- r.Header.Clone()
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		got <- hookRequest{header: r.Header.Clone(), body: body}
		w.WriteHeader(http.StatusNoContent)
	}))
	rc.Config.SetKeepAlivesEnabled(false)
	t.Cleanup(rc.Close)
	t.Cleanup(func() { close(release) })

	one := startChild(t, env)
	secret := one.do("POST", "/admin/v1/webhooks", adminKey, map[string]any{
		"url": rc.URL + "/latch", "events": []string{"user.created"},
	}).want(t, 201, "").str("secret")
	one.do("POST", "/admin/v1/users", adminKey, map[string]any{
		"email": "kept@example.com", "password": goodPassword, "email_confirmed": true,
	}).want(t, 201, "")

	var firstHeader http.Header
	select {
	case firstHeader = <-inFlight:
	case <-time.After(svctest.Patience(30 * time.Second)):
		t.Fatal("the webhook never reached the receiver")
	}
	if err := one.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	one.wait(t, 10*time.Second)

	// The next process finds the delivery once its lease ends (a minute).
	startChild(t, env)
	var again hookRequest
	select {
	case again = <-got:
	case <-time.After(svctest.Patience(3 * time.Minute)):
		t.Fatal("the event was lost: no delivery after the restart")
	}
	if id := again.header.Get("webhook-id"); id == "" || id != firstHeader.Get("webhook-id") {
		t.Errorf("webhook-id after the restart %q, before %q: a receiver could not deduplicate", id, firstHeader.Get("webhook-id"))
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(again.body, again.header); err != nil {
		t.Errorf("the redelivery does not verify: %v\n%s", err, again.body)
	}
}
