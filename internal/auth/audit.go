package auth

import (
	"context"
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/cursor"
)

// AuditEvent is one row of the append-only audit log: a security event as
// stored. Details never hold a secret (see auditDetails).
type AuditEvent struct {
	ID        int64 // assigned by the store, increasing
	Type      string
	UserID    string // the account concerned ("" when none, e.g. an unknown email)
	SessionID string
	Actor     string // who did it when not the user: ActorAdminKey, ActorCLI or an admin's user id
	IP        string
	UserAgent string
	Details   map[string]string
	CreatedAt time.Time
}

// AuditQuery selects audit events; zero fields do not filter.
type AuditQuery struct {
	UserID string
	Type   string
	Since  time.Time // CreatedAt at or after
	Until  time.Time // CreatedAt before
	// BeforeID, when positive, keeps events whose ID is below it (paging
	// newest first).
	BeforeID int64
	Limit    int
}

// AuditFilter is what an admin asks of the audit log.
type AuditFilter struct {
	UserID string
	Type   string
	Since  time.Time
	Until  time.Time
	Cursor string // from a previous AuditPage; "" for the newest events
	Limit  int    // default 50, at most 200
}

// AuditPage is one page of audit events, newest first. NextCursor is ""
// on the last page.
type AuditPage struct {
	Events     []*AuditEvent
	NextCursor string
}

// Page sizes of the admin listings.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

func pageSize(n int) int {
	switch {
	case n <= 0:
		return DefaultPageSize
	case n > MaxPageSize:
		return MaxPageSize
	}
	return n
}

// EventTypes are the event types, in the order the audit filter error
// lists them. TestEventTypesListed keeps it complete.
var EventTypes = []string{
	EventSignup, EventConfirm, EventLogin, EventLoginFailed, EventLoginThrottled,
	EventRefreshReuseDetected, EventLogout, EventLogoutAll, EventSessionEnded,
	EventResetRequested, EventResetCompleted, EventPasswordChanged,
	EventEmailChangeRequested, EventEmailChanged, EventAccountDeleted,
	EventRoleChanged, EventDisabled, EventEnabled, EventForceLogout, EventUserCreated,
	EventUserDeleted, EventEmailConfirmedSet, EventUsersImported, EventConfirmationSent,
	EventTokenRevoked,
	EventMFAEnabled, EventMFADisabled, EventMFAReset, EventRecoveryCodesRegenerated,
	EventRecoveryCodeUsed, EventMFAFailed, EventMFAFailureBurst,
	EventPasskeyAdded, EventPasskeyRemoved, EventPasskeyRenamed, EventPasskeyCounterRegressed,
	EventClientCreated, EventClientUpdated, EventClientDeleted,
	EventCodeReplayed, EventBrowserLogout,
	EventAppMetadataChanged, EventUserMetadataChanged,
	EventWebhookCreated, EventWebhookUpdated, EventWebhookDeleted, EventWebhookRetried,
}

// Audit lists audit events matching f, newest first. An unknown type is
// CodeInvalidRequest naming the known ones (a typo would otherwise list
// nothing).
func (s *Service) Audit(ctx context.Context, f AuditFilter) (*AuditPage, error) {
	if f.Type != "" && !slices.Contains(EventTypes, f.Type) {
		return nil, Errorf(CodeInvalidRequest, "unknown event type %q; the types are %s", clip(f.Type, 64), strings.Join(EventTypes, ", "))
	}
	q := AuditQuery{UserID: f.UserID, Type: f.Type, Since: f.Since, Until: f.Until, Limit: pageSize(f.Limit) + 1}
	if f.Cursor != "" {
		id, ok := decodeAuditCursor(f.Cursor)
		if !ok {
			return nil, errBadCursor()
		}
		q.BeforeID = id
	}
	evs, err := s.deps.Store.AuditEvents(ctx, q)
	if err != nil {
		return nil, err
	}
	page := &AuditPage{Events: evs}
	if n := q.Limit - 1; len(evs) > n {
		page.Events = evs[:n]
		page.NextCursor = encodeAuditCursor(evs[n-1].ID)
	}
	return page, nil
}

// The audit log's cursor holds the id of the last event of a page.

func encodeAuditCursor(id int64) string {
	return cursor.Encode(cursor.Audit, cursor.Position{Num: uint64(id)})
}

func decodeAuditCursor(c string) (int64, bool) {
	p, ok := cursor.Decode(cursor.Audit, c)
	if !ok || p.Micros != 0 || p.ID != "" || p.Num == 0 || p.Num > math.MaxInt64 {
		return 0, false
	}
	return int64(p.Num), true
}

func errBadCursor() error {
	return Errorf(CodeInvalidRequest, "the cursor is invalid; start again without one")
}

// auditTimeout bounds the write of one audit event.
const auditTimeout = 5 * time.Second

// The audit log records an event in the transaction of the change it
// reports: publish appends the row there (appendAudit), so that the change
// and its row are committed together or not at all, in one commit. emit
// writes the row of an event with no transaction of its own, such as a
// failed login (writeAudit).

// auditRow is e as the audit log stores it.
func auditRow(e *Event) *AuditEvent {
	return &AuditEvent{
		Type:      e.Type,
		UserID:    e.UserID,
		SessionID: e.SessionID,
		Actor:     e.Actor,
		IP:        e.IP,
		UserAgent: e.UserAgent,
		Details:   auditDetails(e.Details),
		CreatedAt: e.At,
	}
}

// records reports whether a, the row written for an event, still says
// what e says.
func (a *AuditEvent) records(e Event) bool {
	e.IP, e.UserAgent = a.IP, a.UserAgent // both from the request: the same
	b := auditRow(&e)
	return a.Type == b.Type && a.UserID == b.UserID && a.SessionID == b.SessionID && a.Actor == b.Actor &&
		a.CreatedAt.Equal(b.CreatedAt) && maps.Equal(a.Details, b.Details)
}

// ErrAuditStale is logged when an event changed after publish wrote its
// audit row: a bug, the row lacks the change.
var ErrAuditStale = errors.New("audit: event changed after its row was written in the transaction")

// appendAudit appends e's row to the audit log inside tx, the transaction
// of the change e reports, and marks e as audited.
func (s *Service) appendAudit(ctx context.Context, tx Tx, e *Event) error {
	c := ClientFromContext(ctx)
	e.IP, e.UserAgent = c.IP, c.UserAgent
	a := auditRow(e)
	if err := tx.AppendAudit(ctx, a); err != nil {
		return err
	}
	e.audited = a
	return nil
}

// writeAudit appends e to the audit log in a small transaction of its own,
// for an event whose change had none (see above). A failure is logged and
// does not fail the caller's request; the event's structured log line was
// written already.
func (s *Service) writeAudit(ctx context.Context, e Event) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	a := auditRow(&e)
	err := s.deps.Store.Tx(ctx, func(tx Tx) error {
		a.ID = 0
		return tx.AppendAudit(ctx, a)
	})
	if err != nil {
		s.log.Error("audit: event not recorded", "event", e.Type, "user_id", e.UserID, "err", err)
	}
}

// secretWords are parts of detail keys that are never stored: a guard in
// case an event ever carries a credential by mistake.
var secretWords = []string{"password", "token", "secret", "hash", "key", "cookie", "authorization"}

// auditDetails copies d without keys that may name a secret.
func auditDetails(d map[string]string) map[string]string {
	out := make(map[string]string, len(d))
	for k, v := range d {
		lk := strings.ToLower(k)
		secret := false
		for _, w := range secretWords {
			if strings.Contains(lk, w) {
				secret = true
				break
			}
		}
		if !secret {
			out[k] = v
		}
	}
	return out
}
