package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Webhooks are the metrics of webhook delivery: attempts by result,
// their latency, and the queue's depth read at every scrape.
type Webhooks struct {
	attempts *prometheus.CounterVec
	latency  prometheus.Histogram
}

// Webhooks registers latch_webhook_deliveries_total (by result: delivered,
// retry, failed), latch_webhook_delivery_duration_seconds and
// latch_webhook_queue_depth (pending deliveries; -1 when the database did
// not answer within two seconds).
func (m *Metrics) Webhooks(depth func(context.Context) (int, error)) *Webhooks {
	w := &Webhooks{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_webhook_deliveries_total",
			Help: "Webhook delivery attempts, by result: delivered (2xx), retry (failed, tried again later), failed (failed, retry window over).",
		}, []string{"result"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "latch_webhook_delivery_duration_seconds",
			Help:    "Time webhook receivers took to answer (or to fail).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
	}
	for _, r := range []string{"delivered", "retry", "failed"} {
		w.attempts.WithLabelValues(r) // every result shows, at 0
	}
	m.reg.MustRegister(w.attempts, w.latency)
	m.queueDepth("latch_webhook_queue_depth", "Webhook deliveries pending (-1: the database did not answer).", depth)
	return w
}

// Observe counts one attempt (webhook.Config.Observe).
func (w *Webhooks) Observe(result string, latency time.Duration) {
	switch result {
	case "delivered", "retry", "failed":
	default:
		result = "other"
	}
	w.attempts.WithLabelValues(result).Inc()
	w.latency.Observe(latency.Seconds())
}
