package metrics_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/metrics"
)

func TestWebhookMetrics(t *testing.T) {
	m := metrics.New()
	depth := 3
	w := m.Webhooks(func(context.Context) (int, error) { return depth, nil })
	w.Observe("delivered", 20*time.Millisecond)
	w.Observe("retry", time.Second)
	w.Observe("retry", 2*time.Second)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`latch_webhook_deliveries_total{result="delivered"} 1`,
		`latch_webhook_deliveries_total{result="retry"} 2`,
		`latch_webhook_deliveries_total{result="failed"} 0`,
		`latch_webhook_delivery_duration_seconds_count 3`,
		`latch_webhook_queue_depth 3`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
