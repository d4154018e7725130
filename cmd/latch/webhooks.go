package main

import (
	"log/slog"

	"github.com/latchauth/latch/internal/webhook"
)

// newWebhookWorker returns the webhook delivery worker of a's database,
// counted in sc's metrics.
func newWebhookWorker(c *config, log *slog.Logger, a *app, sc *scale) *webhook.Worker {
	m := sc.metrics.Webhooks(a.db.WebhookQueueDepth)
	if c.WebhookAllowPrivate {
		log.Warn("LATCH_WEBHOOK_ALLOW_PRIVATE is set: webhooks may reach loopback and private addresses")
	}
	return webhook.NewWorker(a.db, webhook.Config{
		Secret:       a.secret,
		AllowPrivate: c.WebhookAllowPrivate,
		Logger:       log,
		Observe:      m.Observe,
	})
}
