package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/webhook"
)

// sink is a real HTTP server on loopback that records what it gets
// and answers as told.
type sink struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(w http.ResponseWriter, r *http.Request) // default 204
}

type received struct {
	header http.Header
	body   []byte
}

func (r received) id() string { return r.header.Get("webhook-id") }

func (r received) typ(t *testing.T) string {
	t.Helper()
	var p struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("payload %q: %v", r.body, err)
	}
	return p.Type
}

func newReceiver(t *testing.T) *sink {
	rc := &sink{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: body})
		answer := rc.answer
		rc.mu.Unlock()
		if answer == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		answer(w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *sink) setAnswer(f func(w http.ResponseWriter, r *http.Request)) {
	rc.mu.Lock()
	rc.answer = f
	rc.mu.Unlock()
}

func (rc *sink) received() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

func status(code int) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

type setup struct {
	f      *authtest.Fixture
	rc     *sink
	hook   *auth.WebhookEndpoint
	secret string
	w      *webhook.Worker
}

// newSetup is a service on SQLite with a webhook to a loopback sink
// for events, and a worker with a short timeout on the fixture's clock.
func newSetup(t *testing.T, events ...string) *setup {
	t.Helper()
	f := authtest.New(t, auth.Config{WebhookAllowPrivate: true})
	rc := newReceiver(t)
	if len(events) == 0 {
		events = auth.WebhookEventTypes
	}
	hook, secret, err := f.Service.CreateWebhook(context.Background(), auth.ActorAdminKey, rc.URL+"/hooks", events)
	if err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}
	w := webhook.NewWorker(f.DB, webhook.Config{Secret: []byte(authtest.Secret), AllowPrivate: true,
		Timeout: 200 * time.Millisecond, Now: f.Clock.Now})
	return &setup{f: f, rc: rc, hook: hook, secret: secret, w: w}
}

func (s *setup) createUser(t *testing.T, email string) *auth.User {
	t.Helper()
	u, err := s.f.Service.AdminCreateUser(context.Background(), auth.ActorAdminKey, auth.NewUser{Email: email, Password: "correct horse battery staple"})
	if err != nil {
		t.Fatalf("AdminCreateUser: %v", err)
	}
	return u
}

func (s *setup) runOnce(t *testing.T) int {
	t.Helper()
	n, err := s.w.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	return n
}

func (s *setup) deliveries(t *testing.T) []*auth.WebhookDelivery {
	t.Helper()
	p, err := s.f.Service.WebhookDeliveries(context.Background(), s.hook.ID, "", 200)
	if err != nil {
		t.Fatalf("WebhookDeliveries: %v", err)
	}
	slices.Reverse(p.Deliveries) // oldest first
	return p.Deliveries
}

// A delivery is signed per Standard Webhooks: the library's own Verify
// accepts it with the secret shown at creation, and the timestamp is the
// attempt's.
func TestDeliverySigned(t *testing.T) {
	s := newSetup(t)
	u := s.createUser(t, "ada@example.com")
	if n := s.runOnce(t); n != 1 {
		t.Fatalf("RunOnce claimed %d, want 1", n)
	}
	got := s.rc.received()
	if len(got) != 1 {
		t.Fatalf("sink got %d requests, want 1", len(got))
	}
	r := got[0]
	wh, err := standardwebhooks.NewWebhook(s.secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.VerifyIgnoringTimestamp(r.body, r.header); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if ts := r.header.Get("webhook-timestamp"); ts != strconv.FormatInt(s.f.Clock.Now().Unix(), 10) {
		t.Errorf("webhook-timestamp = %s, want the clock's %d", ts, s.f.Clock.Now().Unix())
	}
	other, _ := standardwebhooks.NewWebhook("whsec_" + strings.Repeat("A", 43) + "=")
	if err := other.VerifyIgnoringTimestamp(r.body, r.header); err == nil {
		t.Error("another secret verifies the delivery")
	}
	if !strings.HasPrefix(r.id(), "msg_") || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", r.header)
	}
	var p struct {
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
		Data      struct {
			User struct {
				ID    string   `json:"id"`
				Email string   `json:"email"`
				Roles []string `json:"roles"`
			} `json:"user"`
			Actor string `json:"actor"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != auth.WebhookUserCreated || p.Data.User.ID != u.ID || p.Data.User.Email != "ada@example.com" ||
		!slices.Equal(p.Data.User.Roles, []string{"user"}) || p.Data.Actor != auth.ActorAdminKey {
		t.Errorf("payload %s", r.body)
	}
	if ts, err := time.Parse(time.RFC3339Nano, p.Timestamp); err != nil || !ts.Equal(s.f.Clock.Now()) {
		t.Errorf("payload timestamp %q, want %s", p.Timestamp, s.f.Clock.Now())
	}
	ds := s.deliveries(t)
	if len(ds) != 1 || ds[0].State != auth.DeliveryDelivered || ds[0].LastStatus != 204 || ds[0].Attempts != 1 || ds[0].MessageID != r.id() {
		t.Errorf("delivery after success: %+v", ds[0])
	}
	if n := s.runOnce(t); n != 0 {
		t.Errorf("a delivered event was claimed again")
	}
}

// A failing sink (500) gets the same event again after a backoff,
// under the same webhook-id, and it is delivered once the sink
// recovers.
func TestFailThenRecover(t *testing.T) {
	s := newSetup(t)
	s.rc.setAnswer(status(http.StatusInternalServerError))
	s.createUser(t, "ada@example.com")
	s.runOnce(t)
	d := s.deliveries(t)[0]
	now := s.f.Clock.Now()
	if d.State != auth.DeliveryPending || d.Attempts != 1 || d.LastStatus != 500 || !strings.Contains(d.LastError, "HTTP 500") {
		t.Fatalf("delivery after a 500: %+v", d)
	}
	// The first wait is 5s give or take half.
	if wait := d.NextAttemptAt.Sub(now); wait < 2500*time.Millisecond || wait >= 7500*time.Millisecond {
		t.Errorf("next attempt in %s, want 5s +-50%%", wait)
	}
	if n := s.runOnce(t); n != 0 {
		t.Errorf("claimed %d during the backoff, want 0", n)
	}
	s.rc.setAnswer(nil)
	s.f.Clock.Set(d.NextAttemptAt)
	if n := s.runOnce(t); n != 1 {
		t.Fatalf("claimed %d after the backoff, want 1", n)
	}
	got := s.rc.received()
	if len(got) != 2 || got[0].id() != got[1].id() {
		t.Fatalf("sink got %d requests; ids must match across retries", len(got))
	}
	d = s.deliveries(t)[0]
	if d.State != auth.DeliveryDelivered || d.Attempts != 2 || d.LastStatus != 204 || d.LastError != "" {
		t.Errorf("delivery after recovery: %+v", d)
	}
}

// A sink that does not answer within the timeout is a failed attempt.
func TestHangingReceiver(t *testing.T) {
	s := newSetup(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	s.rc.setAnswer(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	s.createUser(t, "ada@example.com")
	s.runOnce(t)
	d := s.deliveries(t)[0]
	if d.State != auth.DeliveryPending || d.Attempts != 1 || d.LastStatus != 0 || !strings.Contains(d.LastError, "no answer within 200ms") {
		t.Errorf("delivery after a hang: %+v", d)
	}
}

// A redirect is not followed: the attempt fails with its status.
func TestNoRedirect(t *testing.T) {
	s := newSetup(t)
	target := newReceiver(t)
	s.rc.setAnswer(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	})
	s.createUser(t, "ada@example.com")
	s.runOnce(t)
	if n := len(target.received()); n != 0 {
		t.Errorf("the redirect was followed (%d requests)", n)
	}
	d := s.deliveries(t)[0]
	if d.State != auth.DeliveryPending || d.LastStatus != 307 || !strings.Contains(d.LastError, "redirects are not followed") {
		t.Errorf("delivery after a redirect: %+v", d)
	}
}

// At most 64 KiB of an answer is read, and a little of it is kept.
func TestLongAnswer(t *testing.T) {
	s := newSetup(t)
	s.rc.setAnswer(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, strings.Repeat("x", 1<<20))
	})
	s.createUser(t, "ada@example.com")
	s.runOnce(t)
	d := s.deliveries(t)[0]
	if d.LastStatus != 502 || len(d.LastError) > 300 || !strings.Contains(d.LastError, "xxxx") {
		t.Errorf("delivery after a long answer: status %d, error %d bytes", d.LastStatus, len(d.LastError))
	}
}

// Retries go on for the whole window (24h), then the delivery is failed.
func TestGiveUpAfterWindow(t *testing.T) {
	s := newSetup(t)
	s.rc.setAnswer(status(http.StatusServiceUnavailable))
	s.createUser(t, "ada@example.com")
	created := s.f.Clock.Now()
	var d *auth.WebhookDelivery
	for i := 0; ; i++ {
		if i > 200 {
			t.Fatalf("still retrying after %d attempts: %+v", i, d)
		}
		s.runOnce(t)
		d = s.deliveries(t)[0]
		if d.State != auth.DeliveryPending {
			break
		}
		if d.NextAttemptAt.After(created.Add(auth.DefaultWebhookRetryWindow)) {
			t.Fatalf("next attempt %s is after the retry window", d.NextAttemptAt)
		}
		s.f.Clock.Set(d.NextAttemptAt)
	}
	if d.State != auth.DeliveryFailed || d.DoneAt.Before(created.Add(24*time.Hour)) || d.Attempts < 20 {
		t.Errorf("after the window: %+v (created %s)", d, created)
	}
	if got := len(s.rc.received()); got != d.Attempts {
		t.Errorf("sink got %d requests, delivery counts %d attempts", got, d.Attempts)
	}
	// The admin's retry sends it again, same id, with a fresh window.
	s.rc.setAnswer(nil)
	if _, err := s.f.Service.RetryWebhookDelivery(context.Background(), auth.ActorAdminKey, s.hook.ID, strconv.FormatInt(d.ID, 10)); err != nil {
		t.Fatalf("RetryWebhookDelivery: %v", err)
	}
	s.runOnce(t)
	got := s.rc.received()
	if last := got[len(got)-1]; last.id() != d.MessageID {
		t.Errorf("retried delivery has id %s, want %s", last.id(), d.MessageID)
	}
	if d := s.deliveries(t)[0]; d.State != auth.DeliveryDelivered {
		t.Errorf("after the retry: %+v", d)
	}
	_, err := s.f.Service.RetryWebhookDelivery(context.Background(), auth.ActorAdminKey, s.hook.ID, "999999")
	if auth.ErrorCode(err) != auth.CodeNotFound {
		t.Errorf("retry of a missing delivery: %v", err)
	}
}

// A worker that dies between claim and answer loses nothing: once its
// lease runs out the event goes out again under the same webhook-id.
func TestAbandonedClaimRedelivered(t *testing.T) {
	s := newSetup(t)
	s.createUser(t, "ada@example.com")
	// Another worker claims and is never heard of again.
	claimed, err := s.f.DB.ClaimWebhookDeliveries(context.Background(), s.f.Clock.Now(), 10, webhook.DefaultLease)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v, %v", claimed, err)
	}
	if n := s.runOnce(t); n != 0 {
		t.Errorf("claimed %d while the lease holds, want 0", n)
	}
	s.f.Clock.Advance(webhook.DefaultLease)
	if n := s.runOnce(t); n != 1 {
		t.Fatalf("claimed %d after the lease, want 1", n)
	}
	got := s.rc.received()
	if len(got) != 1 || got[0].id() != claimed[0].MessageID {
		t.Errorf("redelivered %d with ids %v, want %s", len(got), got, claimed[0].MessageID)
	}
}

// Stopping Run while a sink is answering abandons the attempt
// unrecorded; a worker started later on the same database sends it again,
// same webhook-id.
func TestStopMidDelivery(t *testing.T) {
	s := newSetup(t)
	arrived := make(chan struct{}, 1)
	s.rc.setAnswer(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	})
	s.createUser(t, "ada@example.com")
	w := webhook.NewWorker(s.f.DB, webhook.Config{Secret: []byte(authtest.Secret), AllowPrivate: true,
		Timeout: time.Hour, Now: s.f.Clock.Now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	<-arrived
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	d := s.deliveries(t)[0]
	if d.State != auth.DeliveryPending || d.Attempts != 1 || !d.LastAttemptAt.IsZero() {
		t.Fatalf("after the stop: %+v, want pending with no attempt recorded", d)
	}
	s.rc.setAnswer(nil)
	s.f.Clock.Set(d.NextAttemptAt) // the lease's end
	if n := s.runOnce(t); n != 1 {
		t.Fatalf("claimed %d after the lease, want 1", n)
	}
	got := s.rc.received()
	if len(got) != 2 || got[0].id() != got[1].id() {
		t.Fatalf("sink got %d requests; the redelivery must keep the webhook-id", len(got))
	}
	if d := s.deliveries(t)[0]; d.State != auth.DeliveryDelivered || d.Attempts != 2 {
		t.Errorf("after the restart: %+v", d)
	}
}

// A user's events arrive in the order they happened: a later one waits
// while an earlier one is retried; another user's do not wait.
func TestOrderPerUser(t *testing.T) {
	s := newSetup(t)
	s.rc.setAnswer(status(http.StatusInternalServerError))
	ctx := context.Background()
	ada := s.createUser(t, "ada@example.com")
	roles := []string{"user", "editor"}
	if _, err := s.f.Service.AdminUpdateUser(ctx, auth.ActorAdminKey, ada.ID, auth.UserPatch{Roles: &roles}); err != nil {
		t.Fatal(err)
	}
	if err := s.f.Service.AdminDeleteUser(ctx, auth.ActorAdminKey, ada.ID); err != nil {
		t.Fatal(err)
	}
	s.runOnce(t) // ada's user.created fails
	s.rc.setAnswer(nil)
	s.createUser(t, "bob@example.com")
	s.runOnce(t) // bob's goes; ada's first backs off, the rest wait
	for range 5 {
		s.f.Clock.Advance(time.Hour)
		s.runOnce(t)
	}
	var order []string
	for _, r := range s.rc.received() {
		order = append(order, r.typ(t))
	}
	want := []string{"user.created", "user.created", "user.created", "roles.changed", "user.updated", "user.deleted"}
	if !slices.Equal(order, want) {
		t.Errorf("sink got %v, want %v (ada's failed created, bob's, then ada's in order)", order, want)
	}
}

// The dial-time check refuses a sink on a private address even when
// the URL passed when it was saved (DNS rebinding): the attempt fails
// without a connection.
func TestDialRefusesPrivate(t *testing.T) {
	s := newSetup(t)
	s.createUser(t, "ada@example.com")
	w := webhook.NewWorker(s.f.DB, webhook.Config{Secret: []byte(authtest.Secret), Timeout: time.Second, Now: s.f.Clock.Now})
	if _, err := w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(s.rc.received()); n != 0 {
		t.Errorf("the sink on loopback got %d requests", n)
	}
	d := s.deliveries(t)[0]
	if d.State != auth.DeliveryPending || !strings.Contains(d.LastError, "not public") {
		t.Errorf("delivery to loopback: %+v", d)
	}
}

// Events are queued by the transaction of the change, with the events the
// endpoint asked for only, and no payload carries a password, hash, token
// or link.
func TestEventsAndPayloads(t *testing.T) {
	s := newSetup(t)
	ctx := context.Background()
	const pw, pw2 = "correct horse battery staple", "another long passphrase here"
	u := s.createUser(t, "ada@example.com")
	pair, err := s.f.Service.Login(ctx, "ada@example.com", pw)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.f.Service.Authenticate(ctx, pair.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.f.Service.UpdateUserMetadata(ctx, p, []byte(`{"theme":"dark"}`)); err != nil {
		t.Fatal(err)
	}
	pair2, err := s.f.Service.ChangePassword(ctx, p, pw, pw2, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.f.Service.AdminUpdateUser(ctx, auth.ActorAdminKey, u.ID, auth.UserPatch{AppMetadata: []byte(`{"plan":"pro"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.f.Service.AdminSetEmail(ctx, auth.ActorAdminKey, u.ID, "ada@lovelace.example"); err != nil {
		t.Fatal(err)
	}
	yes := true
	if _, err := s.f.Service.AdminUpdateUser(ctx, auth.ActorAdminKey, u.ID, auth.UserPatch{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if err := s.f.Service.AdminDeleteUser(ctx, auth.ActorAdminKey, u.ID); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, d := range s.deliveries(t) {
		types = append(types, d.Type)
		body := string(d.Payload)
		for _, secret := range []string{pw, pw2, pair.AccessToken, pair.RefreshToken, pair2.RefreshToken, "$argon2", "http://", "https://", "token"} {
			if strings.Contains(body, secret) {
				t.Errorf("%s payload carries %q: %s", d.Type, secret, body)
			}
		}
	}
	want := []string{"user.created", "user.login", "user.updated", "password.changed", "user.updated", "email.changed", "user.updated", "user.updated", "user.deleted"}
	if !slices.Equal(types, want) {
		t.Errorf("queued %v, want %v", types, want)
	}

	// An endpoint sees only what it asked for.
	only, _, err := s.f.Service.CreateWebhook(ctx, auth.ActorAdminKey, s.rc.URL+"/only", []string{auth.WebhookUserDeleted})
	if err != nil {
		t.Fatal(err)
	}
	v := s.createUser(t, "bob@example.com")
	if err := s.f.Service.AdminDeleteUser(ctx, auth.ActorAdminKey, v.ID); err != nil {
		t.Fatal(err)
	}
	page, err := s.f.Service.WebhookDeliveries(ctx, only.ID, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Deliveries) != 1 || page.Deliveries[0].Type != auth.WebhookUserDeleted || !strings.Contains(string(page.Deliveries[0].Payload), "bob@example.com") {
		t.Errorf("the user.deleted-only endpoint got %d deliveries", len(page.Deliveries))
	}
}

// Each account an import creates is a user.created event; one that
// already existed is none, and the payload carries no hash.
func TestImportRaisesCreated(t *testing.T) {
	s := newSetup(t, auth.WebhookUserCreated)
	s.createUser(t, "old@example.com")
	const hash = "$2a$04$C2Wv3S6hWx0dA2k8tC3DGeCyqWmDnbKb0lN4mOH2Bv0f2qLJNYx1K"
	res, err := s.f.Service.ImportUsers(context.Background(), auth.ActorCLI, []auth.ImportUser{
		{Email: "new@example.com", PasswordHash: hash},
		{Email: "old@example.com", PasswordHash: hash},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != auth.ImportCreated || res[1].Status != auth.ImportExists {
		t.Fatalf("import results %+v", res)
	}
	ds := s.deliveries(t)
	if len(ds) != 2 || !strings.Contains(string(ds[1].Payload), "new@example.com") || strings.Contains(string(ds[1].Payload), "$2a$") {
		t.Errorf("deliveries after the import: %d, last %s", len(ds), ds[len(ds)-1].Payload)
	}
}

// A user's own change of their metadata is a user.updated, queued in its
// transaction; setting the same value again is none.
func TestUserMetadataRaisesUpdated(t *testing.T) {
	s := newSetup(t, auth.WebhookUserUpdated)
	ctx := context.Background()
	s.createUser(t, "ada@example.com")
	pair, err := s.f.Service.Login(ctx, "ada@example.com", "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.f.Service.Authenticate(ctx, pair.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := s.f.Service.UpdateUserMetadata(ctx, p, []byte(`{"theme":"dark"}`)); err != nil {
			t.Fatal(err)
		}
	}
	ds := s.deliveries(t)
	if len(ds) != 1 || ds[0].Type != auth.WebhookUserUpdated || !strings.Contains(string(ds[0].Payload), `"session_id"`) {
		t.Errorf("deliveries after two equal metadata changes: %d", len(ds))
	}
}
