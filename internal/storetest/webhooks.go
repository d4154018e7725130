package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// WebhookStore is a store that also keeps webhook endpoints and their
// delivery queue.
type WebhookStore interface {
	auth.Store
	auth.WebhookStore
}

// RunWebhooks runs the conformance suite for auth.WebhookStore, its
// subtests in parallel, each on a fresh, empty store from open.
func RunWebhooks(t *testing.T, open func(t *testing.T) WebhookStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s WebhookStore)
	}{
		{"Endpoints", testWebhookEndpoints},
		{"EnqueueFilter", testWebhookEnqueueFilter},
		{"EnqueueRollback", testWebhookEnqueueRollback},
		{"OrderPerUser", testWebhookOrderPerUser},
		{"LeaseExpiry", testWebhookLeaseExpiry},
		{"Requeue", testWebhookRequeue},
		{"DeleteEndpoint", testWebhookDeleteEndpoint},
		{"ConcurrentClaim", testWebhookConcurrentClaim},
		{"ConcurrentRecord", testWebhookConcurrentRecord},
		{"Prune", testWebhookPrune},
	}
	runEach(t, open, tests)
}

func newEndpoint(t *testing.T, s WebhookStore, id string, events ...string) *auth.WebhookEndpoint {
	t.Helper()
	e := &auth.WebhookEndpoint{ID: id, URL: "https://hooks.example/" + id, Events: events,
		SecretSealed: []byte("sealed-" + id), CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateWebhook(context.Background(), e); err != nil {
		t.Fatalf("CreateWebhook(%s): %v", id, err)
	}
	return e
}

var msgSeq atomic.Int64

func newMessage(typ, userID string, at time.Time) *auth.WebhookMessage {
	return &auth.WebhookMessage{ID: fmt.Sprintf("msg_%s_%d", userID, msgSeq.Add(1)), Type: typ, UserID: userID,
		Payload: []byte(fmt.Sprintf(`{"type":%q,"data":{"user_id":%q}}`, typ, userID)),
		At:      at, RetryUntil: at.Add(24 * time.Hour)}
}

func enqueueWebhooks(t *testing.T, s WebhookStore, ms ...*auth.WebhookMessage) int {
	t.Helper()
	total := 0
	tx(t, s, func(tx auth.Tx) error {
		total = 0
		for _, m := range ms {
			n, err := tx.EnqueueWebhook(context.Background(), m)
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	return total
}

func claimWebhooks(t *testing.T, s WebhookStore, now time.Time, n int, lease time.Duration) []*auth.WebhookDelivery {
	t.Helper()
	got, err := s.ClaimWebhookDeliveries(context.Background(), now, n, lease)
	if err != nil {
		t.Fatalf("ClaimWebhookDeliveries: %v", err)
	}
	return got
}

func deliveryIDs(ds []*auth.WebhookDelivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.MessageID + "@" + d.EndpointID
	}
	return out
}

func record(t *testing.T, s WebhookStore, d *auth.WebhookDelivery, a auth.WebhookAttempt) {
	t.Helper()
	ok, err := s.RecordWebhookAttempt(context.Background(), d.ID, d.Attempts, a)
	if err != nil || !ok {
		t.Fatalf("RecordWebhookAttempt(%d, %d) = %v, %v; want true", d.ID, d.Attempts, ok, err)
	}
}

func testWebhookEndpoints(t *testing.T, s WebhookStore) {
	ctx := context.Background()
	a := newEndpoint(t, s, "wh_a", "user.created", "user.login")
	newEndpoint(t, s, "wh_b", "user.deleted")
	if err := s.CreateWebhook(ctx, &auth.WebhookEndpoint{ID: "wh_a", URL: "x", SecretSealed: []byte("s")}); !errors.Is(err, auth.ErrConflict) {
		t.Errorf("CreateWebhook with a taken id: %v, want ErrConflict", err)
	}
	got, err := s.WebhookByID(ctx, "wh_a")
	if err != nil {
		t.Fatalf("WebhookByID: %v", err)
	}
	if got.URL != a.URL || !slices.Equal(got.Events, a.Events) || string(got.SecretSealed) != "sealed-wh_a" || !got.CreatedAt.Equal(t0) {
		t.Errorf("WebhookByID = %s, want %s", show(got), show(a))
	}
	a.URL, a.Events, a.UpdatedAt = "https://other.example/x", []string{"mfa.changed"}, t0.Add(time.Minute)
	if err := s.UpdateWebhook(ctx, a); err != nil {
		t.Fatalf("UpdateWebhook: %v", err)
	}
	list, err := s.Webhooks(ctx)
	if err != nil {
		t.Fatalf("Webhooks: %v", err)
	}
	if len(list) != 2 || list[0].URL != a.URL || !slices.Equal(list[0].Events, a.Events) || !list[0].UpdatedAt.Equal(a.UpdatedAt) || list[1].ID != "wh_b" {
		t.Errorf("Webhooks after update = %s", showAll(list))
	}
	if err := s.DeleteWebhook(ctx, "wh_b"); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	for what, err := range map[string]error{
		"WebhookByID":   func() error { _, err := s.WebhookByID(ctx, "wh_b"); return err }(),
		"DeleteWebhook": s.DeleteWebhook(ctx, "wh_b"),
		"UpdateWebhook": s.UpdateWebhook(ctx, &auth.WebhookEndpoint{ID: "wh_b", URL: "x"}),
	} {
		wantErr(t, what+" of a deleted endpoint", err, auth.ErrNotFound)
	}
}

// testWebhookEnqueueFilter: a message reaches exactly the endpoints whose
// filter holds its type.
func testWebhookEnqueueFilter(t *testing.T, s WebhookStore) {
	newEndpoint(t, s, "wh_a", "user.created", "user.login")
	newEndpoint(t, s, "wh_b", "user.login")
	newEndpoint(t, s, "wh_c", "user.loginx", "user") // near misses
	if n := enqueueWebhooks(t, s, newMessage("user.created", "u1", t0)); n != 1 {
		t.Errorf("user.created queued %d deliveries, want 1", n)
	}
	if n := enqueueWebhooks(t, s, newMessage("user.login", "u1", t0)); n != 2 {
		t.Errorf("user.login queued %d deliveries, want 2", n)
	}
	if n := enqueueWebhooks(t, s, newMessage("user.deleted", "u1", t0)); n != 0 {
		t.Errorf("user.deleted queued %d deliveries, want 0", n)
	}
	got := claimWebhooks(t, s, t0, 10, time.Minute)
	var eps []string
	for _, d := range got {
		eps = append(eps, d.EndpointID+":"+d.Type)
		if d.State != auth.DeliveryPending || d.Attempts != 1 || !d.CreatedAt.Equal(t0) || !d.RetryUntil.Equal(t0.Add(24*time.Hour)) || !d.NextAttemptAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("claimed delivery %s", show(d))
		}
	}
	// Per user and endpoint: wh_a holds u1's created then login.
	if want := []string{"wh_a:user.created", "wh_b:user.login"}; !slices.Equal(eps, want) {
		t.Errorf("claimed %v, want %v (wh_a's login waits behind its created)", eps, want)
	}
	if depth, err := s.WebhookQueueDepth(context.Background()); err != nil || depth != 3 {
		t.Errorf("WebhookQueueDepth = %d, %v; want 3", depth, err)
	}
}

func testWebhookEnqueueRollback(t *testing.T, s WebhookStore) {
	newEndpoint(t, s, "wh_a", "user.created")
	boom := errors.New("boom")
	err := s.Tx(context.Background(), func(tx auth.Tx) error {
		if n, err := tx.EnqueueWebhook(context.Background(), newMessage("user.created", "u1", t0)); err != nil || n != 1 {
			t.Errorf("EnqueueWebhook = %d, %v", n, err)
		}
		return boom
	})
	wantErr(t, "Tx", err, boom)
	if got := claimWebhooks(t, s, t0.Add(time.Hour), 10, time.Minute); len(got) != 0 {
		t.Errorf("a rolled back transaction left deliveries %v", deliveryIDs(got))
	}
}

// testWebhookOrderPerUser: a user's later delivery waits while an earlier
// one to the same endpoint is pending, backing off included; other users'
// do not wait.
func testWebhookOrderPerUser(t *testing.T, s WebhookStore) {
	newEndpoint(t, s, "wh_a", "user.login", "session.ended")
	a1, b1 := newMessage("user.login", "ua", t0), newMessage("user.login", "ub", t0)
	a2 := newMessage("session.ended", "ua", t0)
	enqueueWebhooks(t, s, a1, b1, a2)
	got := claimWebhooks(t, s, t0, 10, time.Minute)
	if ids := deliveryIDs(got); !slices.Equal(ids, []string{a1.ID + "@wh_a", b1.ID + "@wh_a"}) {
		t.Fatalf("first claim = %v, want ua's first and ub's", ids)
	}
	record(t, s, got[1], auth.WebhookAttempt{At: t0, State: auth.DeliveryDelivered, Status: 200})
	// ua's first fails and backs off: its second still waits.
	record(t, s, got[0], auth.WebhookAttempt{At: t0, State: auth.DeliveryPending, Next: t0.Add(10 * time.Minute), Status: 500})
	if got := claimWebhooks(t, s, t0.Add(5*time.Minute), 10, time.Minute); len(got) != 0 {
		t.Errorf("claim while ua's first backs off = %v, want nothing", deliveryIDs(got))
	}
	got = claimWebhooks(t, s, t0.Add(10*time.Minute), 10, time.Minute)
	if ids := deliveryIDs(got); !slices.Equal(ids, []string{a1.ID + "@wh_a"}) {
		t.Fatalf("claim after the backoff = %v, want ua's first again", ids)
	}
	if got[0].Attempts != 2 || got[0].LastStatus != 500 {
		t.Errorf("second claim of ua's first = %s, want attempts 2 and last status 500", show(got[0]))
	}
	record(t, s, got[0], auth.WebhookAttempt{At: t0.Add(10 * time.Minute), State: auth.DeliveryDelivered, Status: 204, Latency: 3 * time.Millisecond})
	got = claimWebhooks(t, s, t0.Add(10*time.Minute), 10, time.Minute)
	if ids := deliveryIDs(got); !slices.Equal(ids, []string{a2.ID + "@wh_a"}) {
		t.Errorf("claim after ua's first was delivered = %v, want ua's second", ids)
	}
	d, err := s.WebhookDelivery(context.Background(), got[0].ID-2)
	if err != nil {
		t.Fatalf("WebhookDelivery: %v", err)
	}
	if d.State != auth.DeliveryDelivered || d.LastStatus != 204 || d.LastLatency != 3*time.Millisecond || !d.DoneAt.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("delivered delivery reads %s", show(d))
	}
}

// testWebhookLeaseExpiry: a claim abandoned by its worker comes back once
// the lease ends, with the same message id; the abandoned attempt can no
// longer record an outcome.
func testWebhookLeaseExpiry(t *testing.T, s WebhookStore) {
	newEndpoint(t, s, "wh_a", "user.created")
	m := newMessage("user.created", "u1", t0)
	enqueueWebhooks(t, s, m)
	first := claimWebhooks(t, s, t0, 10, time.Minute)
	if len(first) != 1 {
		t.Fatalf("claimed %d, want 1", len(first))
	}
	if got := claimWebhooks(t, s, t0.Add(59*time.Second), 10, time.Minute); len(got) != 0 {
		t.Errorf("claim within the lease = %v, want nothing", deliveryIDs(got))
	}
	again := claimWebhooks(t, s, t0.Add(time.Minute), 10, time.Minute)
	if len(again) != 1 || again[0].MessageID != m.ID || again[0].Attempts != 2 {
		t.Fatalf("claim after the lease = %s, want %s at attempt 2", showAll(again), m.ID)
	}
	ok, err := s.RecordWebhookAttempt(context.Background(), first[0].ID, first[0].Attempts,
		auth.WebhookAttempt{At: t0.Add(time.Minute), State: auth.DeliveryDelivered, Status: 200})
	if err != nil || ok {
		t.Errorf("RecordWebhookAttempt by the abandoned attempt = %v, %v; want false", ok, err)
	}
	record(t, s, again[0], auth.WebhookAttempt{At: t0.Add(time.Minute), State: auth.DeliveryFailed, Error: "gave up"})
	if got := claimWebhooks(t, s, t0.Add(48*time.Hour), 10, time.Minute); len(got) != 0 {
		t.Errorf("a failed delivery was claimed: %v", deliveryIDs(got))
	}
	if depth, err := s.WebhookQueueDepth(context.Background()); err != nil || depth != 0 {
		t.Errorf("WebhookQueueDepth = %d, %v; want 0", depth, err)
	}
}

func testWebhookRequeue(t *testing.T, s WebhookStore) {
	ctx := context.Background()
	newEndpoint(t, s, "wh_a", "user.created")
	enqueueWebhooks(t, s, newMessage("user.created", "u1", t0))
	d := claimWebhooks(t, s, t0, 1, time.Minute)[0]
	if ok, err := s.RequeueWebhookDelivery(ctx, d.ID, t0, t0.Add(time.Hour)); err != nil || ok {
		t.Errorf("RequeueWebhookDelivery of a pending delivery = %v, %v; want false", ok, err)
	}
	record(t, s, d, auth.WebhookAttempt{At: t0, State: auth.DeliveryFailed, Status: 500})
	later := t0.Add(30 * time.Hour)
	if ok, err := s.RequeueWebhookDelivery(ctx, d.ID, later, later.Add(24*time.Hour)); err != nil || !ok {
		t.Fatalf("RequeueWebhookDelivery of a failed delivery = %v, %v; want true", ok, err)
	}
	got := claimWebhooks(t, s, later, 1, time.Minute)
	if len(got) != 1 || got[0].MessageID != d.MessageID || got[0].Attempts != 2 || !got[0].RetryUntil.Equal(later.Add(24*time.Hour)) || !got[0].DoneAt.IsZero() {
		t.Errorf("claim after requeue = %s", showAll(got))
	}
	if ok, err := s.RequeueWebhookDelivery(ctx, 1<<40, later, later); err != nil || ok {
		t.Errorf("RequeueWebhookDelivery of a missing delivery = %v, %v; want false", ok, err)
	}
}

func testWebhookDeleteEndpoint(t *testing.T, s WebhookStore) {
	ctx := context.Background()
	newEndpoint(t, s, "wh_a", "user.created")
	newEndpoint(t, s, "wh_b", "user.created")
	enqueueWebhooks(t, s, newMessage("user.created", "u1", t0), newMessage("user.created", "u2", t0))
	if err := s.DeleteWebhook(ctx, "wh_a"); err != nil {
		t.Fatalf("DeleteWebhook: %v", err)
	}
	if list, err := s.WebhookDeliveries(ctx, auth.DeliveryQuery{EndpointID: "wh_a"}); err != nil || len(list) != 0 {
		t.Errorf("deliveries of a deleted endpoint = %d, %v", len(list), err)
	}
	list, err := s.WebhookDeliveries(ctx, auth.DeliveryQuery{EndpointID: "wh_b", Limit: 1})
	if err != nil || len(list) != 1 || list[0].UserID != "u2" {
		t.Fatalf("WebhookDeliveries(wh_b, limit 1) = %s, %v; want u2's (newest first)", showAll(list), err)
	}
	older, err := s.WebhookDeliveries(ctx, auth.DeliveryQuery{EndpointID: "wh_b", BeforeID: list[0].ID})
	if err != nil || len(older) != 1 || older[0].UserID != "u1" {
		t.Errorf("WebhookDeliveries(wh_b, before) = %s, %v; want u1's", showAll(older), err)
	}
	if _, err := s.WebhookDelivery(ctx, 1<<40); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("WebhookDelivery of a missing id: %v, want ErrNotFound", err)
	}
}

// testWebhookConcurrentClaim: racing claimers each take one delivery;
// every delivery is claimed exactly once.
func testWebhookConcurrentClaim(t *testing.T, s WebhookStore) {
	newEndpoint(t, s, "wh_a", "user.created")
	var ms []*auth.WebhookMessage
	for i := range racers / 2 {
		ms = append(ms, newMessage("user.created", fmt.Sprintf("u%d", i), t0))
	}
	enqueueWebhooks(t, s, ms...)
	type claimed struct {
		ids []string
		err error
	}
	results := race(func(int) claimed {
		got, err := s.ClaimWebhookDeliveries(context.Background(), t0, 1, time.Minute)
		return claimed{deliveryIDs(got), err}
	})
	var all, want []string
	for _, r := range results {
		if r.err != nil {
			t.Errorf("ClaimWebhookDeliveries: %v", r.err)
		}
		all = append(all, r.ids...)
	}
	for _, m := range ms {
		want = append(want, m.ID+"@wh_a")
	}
	slices.Sort(all)
	slices.Sort(want)
	if !slices.Equal(all, want) {
		t.Errorf("%d concurrent claims of 1 delivery: got %v, want each of %v exactly once", racers, all, want)
	}
}

// testWebhookConcurrentRecord: of racing recorders of the same attempt,
// exactly one wins.
func testWebhookConcurrentRecord(t *testing.T, s WebhookStore) {
	newEndpoint(t, s, "wh_a", "user.created")
	enqueueWebhooks(t, s, newMessage("user.created", "u1", t0))
	d := claimWebhooks(t, s, t0, 1, time.Minute)[0]
	results := race(func(i int) result {
		ok, err := s.RecordWebhookAttempt(context.Background(), d.ID, d.Attempts,
			auth.WebhookAttempt{At: t0, State: auth.DeliveryDelivered, Status: 200 + i})
		return result{ok, err}
	})
	countWinners(t, "RecordWebhookAttempt", results)
}

// testWebhookPrune: Prune deletes deliveries done before its time and
// keeps pending ones, however old.
func testWebhookPrune(t *testing.T, s WebhookStore) {
	ctx := context.Background()
	newEndpoint(t, s, "wh_a", "user.created")
	enqueueWebhooks(t, s, newMessage("user.created", "u1", t0), newMessage("user.created", "u2", t0), newMessage("user.created", "u3", t0))
	ds := claimWebhooks(t, s, t0, 2, time.Minute)
	record(t, s, ds[0], auth.WebhookAttempt{At: t0, State: auth.DeliveryDelivered, Status: 200})
	record(t, s, ds[1], auth.WebhookAttempt{At: t0.Add(2 * time.Hour), State: auth.DeliveryFailed, Status: 500})
	tx(t, s, func(tx auth.Tx) error { _, err := tx.Prune(ctx, t0.Add(time.Hour)); return err })
	left, err := s.WebhookDeliveries(ctx, auth.DeliveryQuery{EndpointID: "wh_a"})
	if err != nil {
		t.Fatal(err)
	}
	var users []string
	for _, d := range left {
		users = append(users, d.UserID)
	}
	if !slices.Equal(users, []string{"u3", "u2"}) {
		t.Errorf("after Prune: deliveries of %v, want u3 (pending) and u2 (failed after the cut)", users)
	}
}
