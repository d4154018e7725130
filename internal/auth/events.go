package auth

import (
	"context"
	"log/slog"
	"time"
)

// Event is a security event: it is logged as a structured line and handed
// to Deps.OnEvent (the audit log and metrics hook in there).
type Event struct {
	Type      string // e.g. "login", "login_failed", "refresh_reuse_detected"
	UserID    string
	SessionID string
	Actor     string // who did it, when not the user (admin actions)
	IP        string
	UserAgent string
	Details   map[string]string
	At        time.Time

	// queued: the webhooks the event raises were queued in the
	// transaction of the change (publish), or it raises none this time.
	queued bool
	// deliveries is how many webhook deliveries publish queued for it (0
	// when no endpoint listens): the worker is woken only for some.
	deliveries int
	// audited is the audit row publish appended in the change's
	// transaction; nil when the row is emit's to write (an event with no
	// transaction, such as a failed login).
	audited *AuditEvent
	// auditedElsewhere: this event only carries webhook data, and the
	// change's audit row is another event's (publish writes none for it).
	auditedElsewhere bool
}

// Event types.
const (
	EventSignup               = "signup"
	EventConfirm              = "confirm"
	EventLogin                = "login"
	EventLoginFailed          = "login_failed"
	EventLoginThrottled       = "login_throttled"
	EventRefreshReuseDetected = "refresh_reuse_detected"
	EventLogout               = "logout"
	EventLogoutAll            = "logout_all"
	EventSessionEnded         = "session_ended"
	EventResetRequested       = "reset_requested"
	EventResetCompleted       = "reset_completed"
	EventPasswordChanged      = "password_changed"
	EventEmailChangeRequested = "email_change_requested"
	EventEmailChanged         = "email_changed"
	EventAccountDeleted       = "account_deleted"
)

// quietEvents are the event types that never end a session nor cut off a
// user's tokens. Every other type, a future one included until it is listed
// here, counts as revoking: waking a reader for nothing costs one store
// read, missing a revocation leaves a token honoured.
var quietEvents = map[string]bool{
	EventSignup:               true,
	EventLogin:                true,
	EventLoginFailed:          true,
	EventLoginThrottled:       true,
	EventResetRequested:       true,
	EventEmailChangeRequested: true,
	EventEmailChanged:         true, // voids pending links only
	EventUserCreated:          true,
	EventUsersImported:        true, // creates accounts, never updates one
	EventEnabled:              true,
	EventEmailConfirmedSet:    true,
	EventConfirmationSent:     true,
	// Second factors change how a login proves itself, never what was
	// handed out already.
	EventMFAEnabled:               true,
	EventMFADisabled:              true,
	EventMFAReset:                 true,
	EventRecoveryCodesRegenerated: true,
	EventRecoveryCodeUsed:         true,
	EventMFAFailed:                true,
	EventMFAFailureBurst:          true,
	EventPasskeyAdded:             true,
	EventPasskeyRemoved:           true,
	EventPasskeyRenamed:           true,
	EventPasskeyCounterRegressed:  true,
	// Registering or changing a client touches no session.
	EventClientCreated: true,
	EventClientUpdated: true,
	EventClientDeleted: true,
	// A browser session is not a token session: ending one ends no token.
	EventBrowserLogout: true,
	// Metadata shows in the next token; what was handed out stays.
	EventAppMetadataChanged:  true,
	EventUserMetadataChanged: true,
	// Webhook management changes who hears of events, nothing else.
	EventWebhookCreated: true,
	EventWebhookUpdated: true,
	EventWebhookDeleted: true,
	EventWebhookRetried: true,
}

// Revokes reports whether an event of type eventType may have revoked
// tokens (ended sessions or cut off a user's tokens), so that the
// revocation feed and the other instances must look again. A confirmation
// does when its link carries the password of a later signup: that ends
// what the old password was handed.
func Revokes(eventType string) bool { return !quietEvents[eventType] }

type clientKey struct{}

// ContextWithClient returns ctx carrying the caller's client info. It is
// the one way client info reaches the service: the transport sets it once
// per request (the CLI for its commands), and every per-IP limit, new
// session and event reads it through ClientFromContext. The OAuth token
// endpoint narrows it with the client it authenticated.
func ContextWithClient(ctx context.Context, c ClientInfo) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientFromContext returns the client info set by ContextWithClient (zero
// when none was: no per-IP limit applies then).
func ClientFromContext(ctx context.Context) ClientInfo {
	c, _ := ctx.Value(clientKey{}).(ClientInfo)
	return c
}

// emit records a security event: one structured log line (never a secret)
// and the OnEvent hook.
func (s *Service) emit(ctx context.Context, e Event) {
	if e.At.IsZero() {
		e.At = s.now()
	}
	c := ClientFromContext(ctx)
	e.IP, e.UserAgent = c.IP, c.UserAgent
	attrs := []slog.Attr{slog.String("event", e.Type)}
	add := func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	add("user_id", e.UserID)
	add("session_id", e.SessionID)
	add("actor", e.Actor)
	add("ip", e.IP)
	for k, v := range e.Details {
		add(k, v)
	}
	level := slog.LevelInfo
	if e.Type == EventRefreshReuseDetected {
		level = slog.LevelWarn
	}
	// Before anything else hears of it, and before the request that
	// caused it answers: this instance's next bearer check sees the change.
	s.forgetFor(e)
	s.log.LogAttrs(ctx, level, "security event", attrs...)
	if e.audited == nil {
		s.writeAudit(ctx, e) // no transaction of its own: see audit.go
	} else if !e.audited.records(e) {
		// Changed after publish wrote its row: the row lacks it.
		// authtest fails every test that gets here.
		s.log.Error(ErrAuditStale.Error(), "event", e.Type)
	}
	if len(webhookTypesOf[e.Type]) > 0 {
		if !e.queued {
			// A change whose transaction forgot publish: its webhooks
			// are lost. authtest fails every test that gets here.
			s.log.Error(ErrWebhooksNotQueued.Error(), "event", e.Type)
		}
		if e.deliveries > 0 {
			s.webhookQueued() // queued by publish in the change's transaction
		}
	}
	if s.deps.OnEvent != nil {
		s.deps.OnEvent(ctx, e)
	}
}
