package metrics_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/metrics"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestMetrics(t *testing.T) {
	m := metrics.New()
	m.ObserveRequest("POST", "POST /v1/login", 200, 30*time.Millisecond)
	m.ObserveRequest("POST", "POST /v1/login", 429, time.Millisecond)
	m.ObserveRequest("BREW", "", 404, time.Millisecond)
	m.OnEvent(context.Background(), auth.Event{Type: auth.EventRefreshReuseDetected})
	m.LimiterError(errors.New("down"))
	m.LimiterDecision("redis")
	m.LimiterDecision("memory")
	m.LimiterDecision("memory")
	m.LimiterDecision("bogus") // a closed set of labels
	m.MailDelivery(nil)
	m.MailDelivery(errors.New("smtp: 451"))
	m.DBStats(func() sql.DBStats { return sql.DBStats{MaxOpenConnections: 16, InUse: 3} })
	m.OutboxDepth(func(context.Context) (int, error) { return 7, nil })
	m.Gauge("latch_hash_queue_depth", "test", func() float64 { return 2 })

	text := scrape(t, m)
	for _, want := range []string{
		`latch_http_requests_total{method="POST",route="POST /v1/login",status="200"} 1`,
		`latch_http_requests_total{method="POST",route="POST /v1/login",status="429"} 1`,
		`latch_http_requests_total{method="other",route="unmatched",status="404"} 1`,
		`latch_http_request_duration_seconds_count{method="POST",route="POST /v1/login"} 2`,
		`latch_rate_limited_total{route="POST /v1/login"} 1`,
		`latch_security_events_total{type="refresh_reuse_detected"} 1`,
		`latch_limiter_errors_total 1`,
		`latch_mail_delivery_failures_total 1`,
		`latch_limiter_decisions_total{backend="redis"} 1`,
		`latch_limiter_decisions_total{backend="memory"} 3`,
		`latch_db_max_open_connections 16`,
		`latch_db_in_use_connections 3`,
		`latch_outbox_depth 7`,
		`latch_hash_queue_depth 2`,
		`go_goroutines `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// A database that does not answer shows as -1.
	m2 := metrics.New()
	m2.OutboxDepth(func(context.Context) (int, error) { return 0, auth.ErrStoreDown })
	if text := scrape(t, m2); !strings.Contains(text, "latch_outbox_depth -1") {
		t.Errorf("outbox depth with the database down: want -1 in\n%s", text)
	}
}

// Nothing that happens only for an address with an account moves a metric:
// reset_requested and signup events are not counted, nor are successful
// mail deliveries.
func TestMetricsCountNoPerAccountOutcome(t *testing.T) {
	m := metrics.New()
	before := scrape(t, m)
	m.OnEvent(context.Background(), auth.Event{Type: auth.EventResetRequested, UserID: "u1"})
	m.OnEvent(context.Background(), auth.Event{Type: auth.EventSignup, UserID: "u1"})
	m.OnEvent(context.Background(), auth.Event{Type: "some_new_event"})
	m.MailDelivery(nil)
	after := scrape(t, m)
	for _, text := range []string{before, after} {
		for _, absent := range []string{"reset_requested", `type="signup"`, "some_new_event", `result="sent"`} {
			if strings.Contains(text, absent) {
				t.Errorf("metrics show %q:\n%s", absent, text)
			}
		}
	}
	if !strings.Contains(after, "latch_mail_delivery_failures_total 0") {
		t.Errorf("a sent mail moved latch_mail_delivery_failures_total:\n%s", after)
	}
	// Events that tell nothing about an address are still counted.
	m.OnEvent(context.Background(), auth.Event{Type: auth.EventLoginFailed})
	if text := scrape(t, m); !strings.Contains(text, `latch_security_events_total{type="login_failed"} 1`) {
		t.Errorf("login_failed not counted:\n%s", text)
	}
}
