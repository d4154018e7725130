package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
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

// The receiver of docs/webhooks.md, verbatim (TestDocsReceiver checks).

type event struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      struct {
		User struct {
			ID    string `json:"id"`
			Email string `json:"email"`
		} `json:"user"`
	} `json:"data"`
}

// receiver verifies each delivery and handles each webhook-id once.
func receiver(secret string, handle func(event) error) (http.Handler, error) {
	wh, err := standardwebhooks.NewWebhook(secret) // "whsec_..."
	if err != nil {
		return nil, err
	}
	var (
		mu   sync.Mutex
		seen = map[string]bool{} // use your database in production
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		if err := wh.Verify(body, r.Header); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		id := r.Header.Get("webhook-id")
		mu.Lock()
		dup := seen[id]
		mu.Unlock()
		if dup {
			w.WriteHeader(http.StatusNoContent) // at least once: a repeat
			return
		}
		var e event
		if err := json.Unmarshal(body, &e); err != nil {
			http.Error(w, "bad JSON", http.StatusBadRequest)
			return
		}
		if err := handle(e); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable) // latch retries
			return
		}
		mu.Lock()
		seen[id] = true
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}), nil
}

// TestDocsReceiver runs the documented receiver against latch's worker:
// it accepts a delivery (Verify checks the timestamp too, so the worker
// signs with the real clock here), handles a repeat once, and a failure
// it answers is retried under the same id.
func TestDocsReceiver(t *testing.T) {
	doc, err := os.ReadFile("../../docs/webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("receiver_doc_test.go")
	if err != nil {
		t.Fatal(err)
	}
	// From the event type to the end of receiver: in the docs main
	// follows, here this test.
	extract := func(s, end string) string {
		i, j := strings.Index(s, "type event struct"), strings.Index(s, end)
		if i < 0 || j < i {
			return ""
		}
		return strings.TrimSpace(s[i:j])
	}
	if d, c := extract(string(doc), "func main()"), extract(string(src), "// TestDocsReceiver runs"); d == "" || d != c {
		t.Fatalf("docs/webhooks.md's receiver and this file's differ:\n%s\n---\n%s", d, c)
	}

	f := authtest.New(t, auth.Config{WebhookAllowPrivate: true}, authtest.WithClock(authtest.NewClock(time.Now())))
	var (
		mu      sync.Mutex
		handled []event
		fail    = true
	)
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	hook, secret, err := f.Service.CreateWebhook(context.Background(), auth.ActorAdminKey, srv.URL, []string{auth.WebhookUserCreated})
	if err != nil {
		t.Fatal(err)
	}
	h, err = receiver(secret, func(e event) error {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			fail = false
			return errors.New("database busy")
		}
		handled = append(handled, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Service.AdminCreateUser(context.Background(), auth.ActorAdminKey, auth.NewUser{Email: "ada@example.com", Password: "correct horse battery staple"}); err != nil {
		t.Fatal(err)
	}
	// Signed at the real time, so that Verify's timestamp check passes;
	// a due delivery is claimed whatever the clock says after it.
	w := webhook.NewWorker(f.DB, webhook.Config{Secret: []byte(authtest.Secret), AllowPrivate: true, BaseBackoff: 1})
	for range 2 {
		if _, err := w.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	page, err := f.Service.WebhookDeliveries(context.Background(), hook.ID, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	d := page.Deliveries[0]
	if d.State != auth.DeliveryDelivered || d.Attempts != 2 {
		t.Fatalf("delivery %+v, want delivered at the second attempt", d)
	}
	// The admin's retry is a repeat: the receiver skips it.
	if _, err := f.Service.RetryWebhookDelivery(context.Background(), auth.ActorAdminKey, hook.ID, page.Deliveries[0].MessageID); auth.ErrorCode(err) != auth.CodeNotFound {
		t.Errorf("retry by message id: %v, want not found (delivery ids are numbers)", err)
	}
	if _, err := f.Service.RetryWebhookDelivery(context.Background(), auth.ActorAdminKey, hook.ID, strconv.FormatInt(d.ID, 10)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(handled) != 1 || handled[0].Type != auth.WebhookUserCreated || handled[0].Data.User.Email != "ada@example.com" {
		t.Errorf("handled %+v, want the user.created once", handled)
	}
	// A forged delivery is refused.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/", strings.NewReader(`{"type":"user.deleted"}`))
	req.Header.Set("webhook-id", "msg_forged")
	req.Header.Set("webhook-timestamp", "1")
	req.Header.Set("webhook-signature", "v1,AAAA")
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("forged delivery answered %d", rec.Code)
	}
}
