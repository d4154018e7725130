package wire

import (
	"strconv"

	"github.com/latchauth/latch/internal/auth"
)

// Webhook is a webhook endpoint as the admin API shows it. Secret is set
// only in the answer that created it.
type Webhook struct {
	ID        string   `json:"id"`
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	Secret    string   `json:"secret,omitempty"`
	CreatedAt string   `json:"created_at"`
	UpdatedAt string   `json:"updated_at"`
}

// NewWebhook is e's webhook object (events never null).
func NewWebhook(e *auth.WebhookEndpoint) Webhook {
	events := e.Events
	if events == nil {
		events = []string{}
	}
	return Webhook{ID: e.ID, URL: e.URL, Events: events, CreatedAt: Time(e.CreatedAt), UpdatedAt: Time(e.UpdatedAt)}
}

// Webhooks is the list of webhooks.
type Webhooks struct {
	Webhooks []Webhook `json:"webhooks"`
}

// NewWebhooks is the list of webhooks (never null).
func NewWebhooks(list []*auth.WebhookEndpoint) Webhooks {
	out := Webhooks{Webhooks: make([]Webhook, 0, len(list))}
	for _, e := range list {
		out.Webhooks = append(out.Webhooks, NewWebhook(e))
	}
	return out
}

// Delivery is one event on its way to a webhook: its state, attempts and
// the last answer. StatusCode and LatencyMS are null before an answer;
// NextAttemptAt is set while pending.
type Delivery struct {
	ID            string `json:"id"`
	MessageID     string `json:"message_id"`
	Type          string `json:"type"`
	UserID        string `json:"user_id"`
	State         string `json:"state"`
	Attempts      int    `json:"attempts"`
	StatusCode    *int   `json:"status_code"`
	LatencyMS     *int64 `json:"latency_ms"`
	Error         string `json:"error"`
	CreatedAt     string `json:"created_at"`
	LastAttemptAt string `json:"last_attempt_at"`
	NextAttemptAt string `json:"next_attempt_at"`
	RetryUntil    string `json:"retry_until"`
	DoneAt        string `json:"done_at"`
}

// NewDelivery is d's delivery object.
func NewDelivery(d *auth.WebhookDelivery) Delivery {
	out := Delivery{
		ID:            strconv.FormatInt(d.ID, 10),
		MessageID:     d.MessageID,
		Type:          d.Type,
		UserID:        d.UserID,
		State:         d.State,
		Attempts:      d.Attempts,
		Error:         d.LastError,
		CreatedAt:     Time(d.CreatedAt),
		LastAttemptAt: Time(d.LastAttemptAt),
		RetryUntil:    Time(d.RetryUntil),
		DoneAt:        Time(d.DoneAt),
	}
	if !d.LastAttemptAt.IsZero() {
		status, ms := d.LastStatus, d.LastLatency.Milliseconds()
		if status != 0 {
			out.StatusCode = &status
		}
		out.LatencyMS = &ms
	}
	if d.State == auth.DeliveryPending {
		out.NextAttemptAt = Time(d.NextAttemptAt)
	}
	return out
}

// Deliveries is a page of a webhook's deliveries, newest first.
type Deliveries struct {
	Deliveries []Delivery `json:"deliveries"`
	NextCursor string     `json:"next_cursor"`
}

// NewDeliveries is p as a page of deliveries (never null).
func NewDeliveries(p *auth.DeliveryPage) Deliveries {
	out := Deliveries{Deliveries: make([]Delivery, 0, len(p.Deliveries)), NextCursor: p.NextCursor}
	for _, d := range p.Deliveries {
		out.Deliveries = append(out.Deliveries, NewDelivery(d))
	}
	return out
}
