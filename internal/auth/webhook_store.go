package auth

import (
	"context"
	"time"
)

// WebhookEndpoint is a receiver of webhook events, as stored.
type WebhookEndpoint struct {
	ID     string
	URL    string
	Events []string // the event types it receives (WebhookEventTypes)
	// SecretSealed is the signing secret sealed with Config.Secret (AD:
	// the endpoint's id); OpenWebhookSecret opens it.
	SecretSealed []byte
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// WebhookMessage is one webhook event, written by the transaction that
// made the change it reports (Tx.EnqueueWebhook).
type WebhookMessage struct {
	ID      string // the webhook-id header: "msg_...", the same on every attempt
	Type    string // a WebhookEventTypes entry
	UserID  string // deliveries of one user to one endpoint keep their order
	Payload []byte // the JSON body {type, timestamp, data}
	At      time.Time
	// RetryUntil is when its deliveries stop being retried.
	RetryUntil time.Time
}

// Delivery states.
const (
	DeliveryPending   = "pending"   // waiting for its next attempt (or under way)
	DeliveryDelivered = "delivered" // a 2xx answered
	DeliveryFailed    = "failed"    // retried until RetryUntil without a 2xx
)

// WebhookDelivery is one message on its way to one endpoint.
type WebhookDelivery struct {
	ID         int64 // assigned by the store, increasing
	EndpointID string
	MessageID  string
	Type       string
	UserID     string
	Payload    []byte
	CreatedAt  time.Time
	State      string
	// Attempts counts the attempts started, an abandoned one (its worker
	// stopped before it answered) included.
	Attempts      int
	NextAttemptAt time.Time // when pending: the next attempt, or the end of a worker's lease
	RetryUntil    time.Time
	LastAttemptAt time.Time
	LastStatus    int // the HTTP status of the last answer, 0 for none
	LastLatency   time.Duration
	LastError     string
	DoneAt        time.Time // when delivered or given up
}

// WebhookAttempt is the outcome of one attempt (WebhookStore.RecordAttempt).
type WebhookAttempt struct {
	At      time.Time
	State   string // the delivery's state after it
	Next    time.Time
	Status  int
	Latency time.Duration
	Error   string
}

// DeliveryQuery selects deliveries of an endpoint, newest first.
type DeliveryQuery struct {
	EndpointID string
	BeforeID   int64 // when positive, ids below it
	Limit      int
}

// WebhookWriter is the write side of webhooks inside a transaction, part
// of Tx.
type WebhookWriter interface {
	// EnqueueWebhook queues m for every endpoint whose filter holds
	// m.Type, as pending deliveries due at m.At; it reports how many.
	EnqueueWebhook(ctx context.Context, m *WebhookMessage) (int, error)
}

// WebhookStore is what webhook management and delivery need from the
// store, beside Store.
type WebhookStore interface {
	CreateWebhook(ctx context.Context, e *WebhookEndpoint) error
	// WebhookByID is ErrNotFound when the endpoint does not exist.
	WebhookByID(ctx context.Context, id string) (*WebhookEndpoint, error)
	// Webhooks lists every endpoint, oldest first.
	Webhooks(ctx context.Context) ([]*WebhookEndpoint, error)
	// UpdateWebhook writes URL, Events and UpdatedAt; ErrNotFound when gone.
	UpdateWebhook(ctx context.Context, e *WebhookEndpoint) error
	// DeleteWebhook deletes the endpoint and its deliveries; ErrNotFound
	// when gone.
	DeleteWebhook(ctx context.Context, id string) error

	// WebhookDeliveries lists deliveries matching q, newest first.
	WebhookDeliveries(ctx context.Context, q DeliveryQuery) ([]*WebhookDelivery, error)
	// WebhookDelivery reads one delivery; ErrNotFound when missing.
	WebhookDelivery(ctx context.Context, id int64) (*WebhookDelivery, error)
	// RequeueWebhookDelivery makes a delivered or failed delivery pending
	// again, due at now and retried until until. It reports whether it
	// did: false for a pending (or missing) one.
	RequeueWebhookDelivery(ctx context.Context, id int64, now, until time.Time) (bool, error)

	// ClaimWebhookDeliveries leases up to n pending deliveries due at now
	// until now+lease, counting an attempt on each, oldest first. A
	// delivery is skipped while an earlier one of the same user to the
	// same endpoint is pending, so that a user's events arrive in order.
	// Of concurrent claimers, exactly one gets a given delivery.
	ClaimWebhookDeliveries(ctx context.Context, now time.Time, n int, lease time.Duration) ([]*WebhookDelivery, error)
	// RecordWebhookAttempt records the outcome of attempt number attempt
	// of a claimed delivery, only if it is still pending at that attempt
	// (no later claim took it over); it reports whether it did.
	RecordWebhookAttempt(ctx context.Context, id int64, attempt int, a WebhookAttempt) (bool, error)
	// WebhookQueueDepth counts the pending deliveries.
	WebhookQueueDepth(ctx context.Context) (int, error)
}
