package auth_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
)

// The delivery worker is woken after a change that queued deliveries, and
// not after one that queued none because no webhook listens: a login with
// no webhook configured costs the worker no pass.
func TestWebhookWorkerWokenOnlyForDeliveries(t *testing.T) {
	var wakes atomic.Int32
	fx := authtest.New(t, auth.Config{PublicURL: "https://auth.example.com", Secret: testSecret, WebhookAllowPrivate: true},
		authtest.WithDeps(func(d *auth.Deps) { d.WebhookNotify = func() { wakes.Add(1) } }))
	ctx := auth.ContextWithClient(context.Background(), client)
	if _, err := fx.Service.Signup(ctx, "quiet@example.com", pw); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.Service.Login(ctx, "quiet@example.com", pw); err != nil {
		t.Fatal(err)
	}
	if n := wakes.Load(); n != 0 {
		t.Fatalf("the worker was woken %d times with no webhook configured", n)
	}
	if _, _, err := fx.Service.CreateWebhook(ctx, "admin_key", "http://127.0.0.1:9/hook", []string{auth.WebhookUserLogin}); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.Service.Login(ctx, "quiet@example.com", pw); err != nil {
		t.Fatal(err)
	}
	if n := wakes.Load(); n != 1 {
		t.Fatalf("the worker was woken %d times after a login with a user.login webhook, want 1", n)
	}
}
