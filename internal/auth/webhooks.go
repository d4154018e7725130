package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/cursor"
	"github.com/latchauth/latch/internal/netguard"
	"github.com/latchauth/latch/internal/token"
)

// Webhook event types (api.md "Webhooks and user data").
const (
	WebhookUserCreated     = "user.created"
	WebhookUserConfirmed   = "user.confirmed"
	WebhookUserUpdated     = "user.updated"
	WebhookUserDeleted     = "user.deleted"
	WebhookUserLogin       = "user.login"
	WebhookSessionEnded    = "session.ended"
	WebhookPasswordChanged = "password.changed"
	WebhookPasswordReset   = "password.reset"
	WebhookEmailChanged    = "email.changed"
	WebhookMFAChanged      = "mfa.changed"
	WebhookRolesChanged    = "roles.changed"
)

// WebhookEventTypes are the webhook event types, in the order errors list
// them.
var WebhookEventTypes = []string{
	WebhookUserCreated, WebhookUserConfirmed, WebhookUserUpdated, WebhookUserDeleted,
	WebhookUserLogin, WebhookSessionEnded, WebhookPasswordChanged, WebhookPasswordReset,
	WebhookEmailChanged, WebhookMFAChanged, WebhookRolesChanged,
}

// webhookTypesOf is the one map from security events to the webhook events
// they raise: publish, called in the transaction of the change, reads it.
// A security event missing here raises none.
var webhookTypesOf = map[string][]string{
	EventSignup:               {WebhookUserCreated},
	EventUserCreated:          {WebhookUserCreated},
	EventConfirm:              {WebhookUserConfirmed},
	EventLogin:                {WebhookUserLogin},
	EventLogout:               {WebhookSessionEnded},
	EventLogoutAll:            {WebhookSessionEnded},
	EventSessionEnded:         {WebhookSessionEnded},
	EventForceLogout:          {WebhookSessionEnded},
	EventRefreshReuseDetected: {WebhookSessionEnded},
	EventPasswordChanged:      {WebhookPasswordChanged},
	EventResetCompleted:       {WebhookPasswordReset},
	EventEmailChanged:         {WebhookEmailChanged, WebhookUserUpdated},
	EventAccountDeleted:       {WebhookUserDeleted},
	EventUserDeleted:          {WebhookUserDeleted},
	EventRoleChanged:          {WebhookRolesChanged, WebhookUserUpdated},
	EventDisabled:             {WebhookUserUpdated},
	EventEnabled:              {WebhookUserUpdated},
	EventEmailConfirmedSet:    {WebhookUserUpdated},
	EventMFAEnabled:           {WebhookMFAChanged},
	EventMFADisabled:          {WebhookMFAChanged},
	EventMFAReset:             {WebhookMFAChanged},
	EventAppMetadataChanged:   {WebhookUserUpdated},
	EventUserMetadataChanged:  {WebhookUserUpdated},
	EventPasskeyAdded:         {WebhookMFAChanged},
	EventPasskeyRemoved:       {WebhookMFAChanged},
	EventCodeReplayed:         {WebhookSessionEnded},
}

// Audit event types of webhook management; Actor is who did it.
const (
	EventWebhookCreated = "webhook_created"
	EventWebhookUpdated = "webhook_updated"
	EventWebhookDeleted = "webhook_deleted"
	EventWebhookRetried = "webhook_delivery_retried"
)

// webhookEvent is the audit event of a change to webhook e. The URL is
// reduced to its host: a receiver may carry a credential in its path or
// query.
func webhookEvent(typ, actor string, e *WebhookEndpoint) Event {
	d := map[string]string{"webhook_id": e.ID}
	if u, err := url.Parse(e.URL); err == nil {
		d["host"] = u.Host
	}
	if e.Events != nil {
		d["events"] = strings.Join(e.Events, ",")
	}
	return Event{Type: typ, Actor: actor, Details: d}
}

// DefaultWebhookRetryWindow is how long a delivery is retried before it is
// marked failed.
const DefaultWebhookRetryWindow = 24 * time.Hour

// webhookPayload is the JSON body of a delivery (Standard Webhooks).
type webhookPayload struct {
	Type      string      `json:"type"`
	Timestamp string      `json:"timestamp"`
	Data      webhookData `json:"data"`
}

// webhookData never holds a password, hash, token or link: the user's
// public fields, the session concerned, who acted, and the event's
// details (auditDetails drops any key that may name a secret).
type webhookData struct {
	User      webhookUser       `json:"user"`
	SessionID string            `json:"session_id,omitempty"`
	Actor     string            `json:"actor,omitempty"`
	Details   map[string]string `json:"details,omitempty"`
}

type webhookUser struct {
	ID             string   `json:"id"`
	Email          string   `json:"email,omitempty"`
	EmailConfirmed *bool    `json:"email_confirmed,omitempty"`
	Roles          []string `json:"roles,omitempty"`
	Disabled       *bool    `json:"disabled,omitempty"`
	CreatedAt      string   `json:"created_at,omitempty"`
	UpdatedAt      string   `json:"updated_at,omitempty"`
	// The account's metadata ({} when unset), so that an app can keep a
	// copy in step from user.updated alone; absent for user.deleted.
	AppMetadata  json.RawMessage `json:"app_metadata,omitempty"`
	UserMetadata json.RawMessage `json:"user_metadata,omitempty"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// publish records, inside tx, the security events evs of the change tx
// makes: their audit rows, and the webhook events they raise
// (webhookTypesOf), so that both are committed with the change or not at
// all (outbox pattern); the caller emits evs after the commit.
// Each webhook type is queued once per call, with the data of the first
// event raising it: a PATCH that changes the roles and disables the
// account is one user.updated. u is the user as changed (nil when
// deleted). publish sets each event's At, so that the security event and
// the webhook carry one time.
func (s *Service) publish(ctx context.Context, tx Tx, u *User, evs ...*Event) error {
	return s.publishTypes(ctx, tx, u, nil, evs)
}

// publishUpdate is publish for a change of the user's data: user.updated
// is queued even when no event of evs names it (a field with no security
// event of its own).
func (s *Service) publishUpdate(ctx context.Context, tx Tx, u *User, evs ...*Event) error {
	return s.publishTypes(ctx, tx, u, []string{WebhookUserUpdated}, evs)
}

func (s *Service) publishTypes(ctx context.Context, tx Tx, u *User, always []string, evs []*Event) error {
	now := s.now()
	var done []string
	queue := func(typ string, e *Event) error {
		if slices.Contains(done, typ) {
			return nil
		}
		done = append(done, typ)
		n, err := s.queueWebhook(ctx, tx, typ, e, u)
		e.deliveries += n
		return err
	}
	for _, e := range evs {
		if e.At.IsZero() {
			e.At = now
		}
		if !e.auditedElsewhere {
			if err := s.appendAudit(ctx, tx, e); err != nil {
				return err
			}
		}
		e.queued = true
		for _, typ := range webhookTypesOf[e.Type] {
			if err := queue(typ, e); err != nil {
				return err
			}
		}
	}
	// What no event raised of always, with the user alone.
	bare := &Event{At: now}
	if u != nil {
		bare.UserID = u.ID
	}
	for _, typ := range always {
		if err := queue(typ, bare); err != nil {
			return err
		}
	}
	return nil
}

// queueWebhook queues one webhook event of type typ for e and reports the
// deliveries queued (one per endpoint that listens).
func (s *Service) queueWebhook(ctx context.Context, tx Tx, typ string, e *Event, u *User) (int, error) {
	data := webhookData{User: webhookUser{ID: e.UserID}, SessionID: e.SessionID, Actor: e.Actor, Details: auditDetails(e.Details)}
	if len(data.Details) == 0 {
		data.Details = nil
	}
	if u != nil {
		confirmed, disabled := u.EmailConfirmed, u.Disabled
		roles := u.Roles
		if roles == nil {
			roles = []string{}
		}
		data.User = webhookUser{ID: u.ID, Email: u.Email, EmailConfirmed: &confirmed, Roles: roles,
			Disabled: &disabled, CreatedAt: rfc3339(u.CreatedAt), UpdatedAt: rfc3339(u.UpdatedAt),
			AppMetadata: MetadataJSON(u.AppMetadata), UserMetadata: MetadataJSON(u.UserMetadata)}
	} else if email := e.Details["email"]; email != "" {
		data.User.Email = email
	}
	body, err := json.Marshal(webhookPayload{Type: typ, Timestamp: e.At.UTC().Format(time.RFC3339Nano), Data: data})
	if err != nil {
		return 0, err
	}
	m := &WebhookMessage{ID: "msg_" + newID(), Type: typ, UserID: data.User.ID, Payload: body,
		At: e.At, RetryUntil: e.At.Add(s.cfg.WebhookRetryWindow)}
	return tx.EnqueueWebhook(ctx, m)
}

// ErrWebhooksNotQueued is logged when an event that raises webhooks is
// emitted without publish having queued them in its transaction: a bug.
var ErrWebhooksNotQueued = errors.New("webhook: event emitted without its webhooks queued in the transaction")

// noWebhooks marks e as raising no webhook this time (it reports no
// change), so that emit does not take it for a forgotten publish.
func (e *Event) noWebhooks() { e.queued = true }

// webhookQueued wakes the delivery worker after a commit.
func (s *Service) webhookQueued() {
	if s.deps.WebhookNotify != nil {
		s.deps.WebhookNotify()
	}
}

// CodeDeliveryPending: a retry was asked of a delivery still on its way.
const CodeDeliveryPending Code = "delivery_pending"

// Webhook management (the admin API).

// WebhookPatch is what UpdateWebhook changes; nil fields stay.
type WebhookPatch struct {
	URL    *string
	Events *[]string
}

// webhookSecretLen is the signing secret's length in bytes (Standard
// Webhooks: between 24 and 64).
const webhookSecretLen = 32

// webhookSecretPrefix marks a signing secret (Standard Webhooks).
const webhookSecretPrefix = "whsec_"

// webhookAD binds a sealed signing secret to its endpoint.
func webhookAD(id string) []byte { return []byte("latch webhook secret " + id) }

// OpenWebhookSecret returns e's signing secret ("whsec_" and the base64
// of its bytes) with secret, the server secret it was sealed with.
func OpenWebhookSecret(secret []byte, e *WebhookEndpoint) (string, error) {
	b, err := token.Open(secret, e.SecretSealed, webhookAD(e.ID))
	if err != nil {
		return "", err
	}
	return webhookSecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

func (s *Service) webhooks() (WebhookStore, error) {
	if s.deps.Webhooks == nil {
		return nil, Errorf(CodeUnavailable, "webhooks are not available on this store")
	}
	return s.deps.Webhooks, nil
}

// checkWebhookURL applies the receiver URL rules (netguard).
func (s *Service) checkWebhookURL(ctx context.Context, raw string) (string, error) {
	u, err := netguard.CheckURL(ctx, raw, netguard.Rules{
		HTTPSOnly: s.cfg.WebhookHTTPSOnly, AllowPrivate: s.cfg.WebhookAllowPrivate, Resolve: s.deps.Resolve,
	})
	if err != nil {
		return "", Errorf(CodeInvalidRequest, "%s", err.Error())
	}
	return u.String(), nil
}

// checkWebhookEvents returns events without duplicates, in the order of
// WebhookEventTypes; an unknown or missing type is CodeInvalidRequest.
func checkWebhookEvents(events []string) ([]string, error) {
	if len(events) == 0 {
		return nil, Errorf(CodeInvalidRequest, "events must list at least one event type; the types are %s", strings.Join(WebhookEventTypes, ", "))
	}
	for _, e := range events {
		if !slices.Contains(WebhookEventTypes, e) {
			return nil, Errorf(CodeInvalidRequest, "unknown event type %q; the types are %s", clip(e, 64), strings.Join(WebhookEventTypes, ", "))
		}
	}
	var out []string
	for _, t := range WebhookEventTypes {
		if slices.Contains(events, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func errNoWebhook() error { return Errorf(CodeNotFound, "no such webhook") }

// CreateWebhook adds a receiver of the given events at rawURL and returns
// it with its signing secret, which is never shown again.
func (s *Service) CreateWebhook(ctx context.Context, actor, rawURL string, events []string) (*WebhookEndpoint, string, error) {
	ws, err := s.webhooks()
	if err != nil {
		return nil, "", err
	}
	if events, err = checkWebhookEvents(events); err != nil {
		return nil, "", err
	}
	if rawURL, err = s.checkWebhookURL(ctx, rawURL); err != nil {
		return nil, "", err
	}
	key := make([]byte, webhookSecretLen)
	_, _ = rand.Read(key)
	now := s.now()
	e := &WebhookEndpoint{ID: "wh_" + newID(), URL: rawURL, Events: events, CreatedAt: now, UpdatedAt: now}
	if e.SecretSealed, err = token.Seal(s.cfg.Secret, key, webhookAD(e.ID)); err != nil {
		return nil, "", err
	}
	if err := ws.CreateWebhook(ctx, e); err != nil {
		return nil, "", err
	}
	s.emit(ctx, webhookEvent(EventWebhookCreated, actor, e))
	return e, webhookSecretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// Webhooks lists every webhook, oldest first.
func (s *Service) Webhooks(ctx context.Context) ([]*WebhookEndpoint, error) {
	ws, err := s.webhooks()
	if err != nil {
		return nil, err
	}
	return ws.Webhooks(ctx)
}

// Webhook reads one webhook.
func (s *Service) Webhook(ctx context.Context, id string) (*WebhookEndpoint, error) {
	ws, err := s.webhooks()
	if err != nil {
		return nil, err
	}
	e, err := ws.WebhookByID(ctx, id)
	if notFound(err) {
		return nil, errNoWebhook()
	}
	return e, err
}

// UpdateWebhook changes a webhook's URL or events. Deliveries already
// queued keep going to it.
func (s *Service) UpdateWebhook(ctx context.Context, actor, id string, p WebhookPatch) (*WebhookEndpoint, error) {
	e, err := s.Webhook(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.Events != nil {
		if e.Events, err = checkWebhookEvents(*p.Events); err != nil {
			return nil, err
		}
	}
	if p.URL != nil {
		if e.URL, err = s.checkWebhookURL(ctx, *p.URL); err != nil {
			return nil, err
		}
	}
	e.UpdatedAt = s.now()
	if err := s.deps.Webhooks.UpdateWebhook(ctx, e); err != nil {
		if notFound(err) {
			return nil, errNoWebhook()
		}
		return nil, err
	}
	s.emit(ctx, webhookEvent(EventWebhookUpdated, actor, e))
	return e, nil
}

// DeleteWebhook deletes a webhook and its deliveries, pending ones
// included.
func (s *Service) DeleteWebhook(ctx context.Context, actor, id string) error {
	e, err := s.Webhook(ctx, id)
	if err != nil {
		return err
	}
	if err := s.deps.Webhooks.DeleteWebhook(ctx, id); err != nil {
		if notFound(err) {
			return errNoWebhook()
		}
		return err
	}
	s.emit(ctx, webhookEvent(EventWebhookDeleted, actor, e))
	return nil
}

// DeliveryPage is one page of a webhook's deliveries, newest first.
type DeliveryPage struct {
	Deliveries []*WebhookDelivery
	NextCursor string
}

// WebhookDeliveries lists the deliveries of webhook id, newest first.
func (s *Service) WebhookDeliveries(ctx context.Context, id, cur string, limit int) (*DeliveryPage, error) {
	if _, err := s.Webhook(ctx, id); err != nil {
		return nil, err
	}
	q := DeliveryQuery{EndpointID: id, Limit: pageSize(limit) + 1}
	if cur != "" {
		p, ok := cursor.Decode(cursor.Deliveries, cur)
		if !ok || p.Micros != 0 || p.ID != "" || p.Num == 0 || p.Num > math.MaxInt64 {
			return nil, errBadCursor()
		}
		q.BeforeID = int64(p.Num)
	}
	list, err := s.deps.Webhooks.WebhookDeliveries(ctx, q)
	if err != nil {
		return nil, err
	}
	page := &DeliveryPage{Deliveries: list}
	if n := q.Limit - 1; len(list) > n {
		page.Deliveries = list[:n]
		page.NextCursor = cursor.Encode(cursor.Deliveries, cursor.Position{Num: uint64(list[n-1].ID)})
	}
	return page, nil
}

// RetryWebhookDelivery sends a delivered or failed delivery of webhook id
// again, at once and with a fresh retry window, under the same
// webhook-id. A pending one is CodeDeliveryPending: it is on its way.
func (s *Service) RetryWebhookDelivery(ctx context.Context, actor, id, deliveryID string) (*WebhookDelivery, error) {
	e, err := s.Webhook(ctx, id)
	if err != nil {
		return nil, err
	}
	noDelivery := Errorf(CodeNotFound, "no such delivery of this webhook")
	did, err := strconv.ParseInt(deliveryID, 10, 64)
	if err != nil || did <= 0 {
		return nil, noDelivery
	}
	d, err := s.deps.Webhooks.WebhookDelivery(ctx, did)
	if notFound(err) || (err == nil && d.EndpointID != id) {
		return nil, noDelivery
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	ok, err := s.deps.Webhooks.RequeueWebhookDelivery(ctx, did, now, now.Add(s.cfg.WebhookRetryWindow))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, Errorf(CodeDeliveryPending, "this delivery is pending: it is already on its way")
	}
	s.webhookQueued()
	ev := webhookEvent(EventWebhookRetried, actor, e)
	ev.UserID = d.UserID
	ev.Details["delivery_id"] = deliveryID
	ev.Details["type"] = d.Type
	delete(ev.Details, "events")
	s.emit(ctx, ev)
	// The answer is the delivery as requeued: a read now would race the
	// worker just woken, which may already have delivered it again.
	d.State = DeliveryPending
	d.NextAttemptAt = now
	d.RetryUntil = now.Add(s.cfg.WebhookRetryWindow)
	d.DoneAt = time.Time{}
	return d, nil
}
