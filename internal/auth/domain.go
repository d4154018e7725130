// Package auth holds latch's domain: users, sessions, tokens, the interfaces
// of the adapters it needs (Store, Limiter, Composer) and Service, which
// carries every rule of the account and token lifecycle.
//
// Adapters (internal/sqlstore, internal/limit, internal/mail) import this
// package; it imports none of them.
package auth

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// User is an account.
type User struct {
	ID             string
	Email          string // the address mailed: as given, domain as A-label (emailaddr Mail)
	EmailNorm      string // the match key (emailaddr Key); unique
	PasswordHash   string // PHC string (argon2id) or bcrypt
	EmailConfirmed bool
	Roles          []string
	Disabled       bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// TokensValidAfter is a user-wide cut-off: access tokens issued before it
	// are refused (force logout, role change, disable, password reset).
	// Zero means no cut-off.
	TokensValidAfter time.Time
	// AppMetadata (set by admins, carried in access tokens) and
	// UserMetadata (the user's own) are JSON objects in their stored
	// form (NormalizeMetadata); empty stands for {}.
	AppMetadata  json.RawMessage
	UserMetadata json.RawMessage
}

// Session is one login on one device.
type Session struct {
	ID         string
	UserID     string
	CreatedAt  time.Time
	LastUsedAt time.Time
	// ExpiresAt is the absolute end of the session; rotation never extends it.
	ExpiresAt time.Time
	IP        string
	UserAgent string
	// RevokedAt is set when the session ended (logout, theft, reset...).
	RevokedAt time.Time
	// ClientID is the OAuth client the session was started through, ""
	// for none (the JSON API, or an OAuth request naming no client);
	// ClientConfidential tells whether that client had authenticated.
	ClientID           string
	ClientConfidential bool
	// AMR is how the session was authenticated (RFC 8176 values: "pwd",
	// "otp", "mfa"...); its access tokens carry it. Empty reads as a
	// password alone.
	AMR []string
}

// UsableBy reports whether a request through client c may use the
// session's tokens (refresh them, revoke them, introspect its refresh
// token). A session of no client is anyone's who holds its token; one of a
// public client needs that client_id; one of a confidential client needs
// that client, authenticated (RFC 6749 §6, RFC 7009 §2.1).
func (s *Session) UsableBy(c OAuthClient) bool {
	if s.ClientID == "" {
		return true
	}
	if c.ID != s.ClientID {
		return false
	}
	return c.Confidential || !s.ClientConfidential
}

// client is the OAuth client the session is bound to.
func (s *Session) client() OAuthClient {
	return OAuthClient{ID: s.ClientID, Confidential: s.ClientConfidential}
}

// Active reports whether the session is usable at now given the idle lifetime.
func (s *Session) Active(now time.Time, idle time.Duration) bool {
	if !s.RevokedAt.IsZero() {
		return false
	}
	if !now.Before(s.ExpiresAt) {
		return false
	}
	if idle > 0 && !now.Before(s.LastUsedAt.Add(idle)) {
		return false
	}
	return true
}

// RefreshToken is the stored form of an opaque refresh token: only its hash.
type RefreshToken struct {
	Hash      []byte // SHA-256 of the token
	SessionID string
	UserID    string
	CreatedAt time.Time
	// UsedAt is set when the token was rotated.
	UsedAt time.Time
	// SuccessorHash is the hash of the token that replaced this one.
	SuccessorHash []byte
	// SuccessorSealed is the successor's plaintext sealed with a key derived
	// from this token's plaintext, so that a retry within the grace window
	// gets the same successor back while nothing readable is at rest.
	SuccessorSealed []byte
}

// RefreshState is a refresh token read together with its session and user
// (Store.RefreshTokenState).
type RefreshState struct {
	Token   *RefreshToken
	Session *Session
	User    *User
}

// RefreshRotation is a refresh as Store.RotateRefreshTokenIfAllowed takes
// it: the token presented, by which client, and what its rotation writes.
type RefreshRotation struct {
	Hash []byte // SHA-256 of the token presented
	// At is now: when the token is used, its successor created and the
	// session last used, and the time its session must be active at.
	At                             time.Time
	SuccessorHash, SuccessorSealed []byte
	// Client is the client presenting the token; Idle is the sessions'
	// idle lifetime (Config.SessionIdle, 0 for none).
	Client OAuthClient
	Idle   time.Duration
}

// Allows reports whether st, a token with its session and user, may rotate
// under r: the token unused, its session active at r.At and usable by
// r.Client, its user enabled. It is the service's own refusal rules
// (refreshRefusal) plus the token being unused; a store that judges it in
// SQL must never allow what Allows refuses, and may refuse more (the
// service then judges the token again in a transaction).
func (r RefreshRotation) Allows(st *RefreshState) bool {
	return st.Token.UsedAt.IsZero() && st.Session.Active(r.At, r.Idle) && st.Session.UsableBy(r.Client) && !st.User.Disabled
}

// TokenKind names what a single-use emailed token is for.
type TokenKind string

const (
	KindConfirm     TokenKind = "confirm"
	KindReset       TokenKind = "reset"
	KindEmailChange TokenKind = "email_change"

	// AllKinds, given to VoidOneTimeTokens, voids tokens of every kind.
	AllKinds TokenKind = ""
)

// OneTimeToken is a single-use emailed token (confirmation, reset, email
// change), stored only as its SHA-256 hash.
type OneTimeToken struct {
	Hash     []byte
	Kind     TokenKind
	UserID   string
	NewEmail string // for KindEmailChange: the address being confirmed
	// PasswordHash, for KindConfirm, is the hash of the password chosen in
	// the signup that sent the link: confirming activates it. Empty keeps
	// the account's hash (links issued before it was stored).
	PasswordHash string
	CreatedAt    time.Time
	ExpiresAt    time.Time
	UsedAt       time.Time
}

// Message is one mail to send.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string // optional
}

// OutboxMessage is a Message waiting in the outbox.
type OutboxMessage struct {
	ID            int64
	Kind          string
	Message       Message
	CreatedAt     time.Time
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
}

// SigningKey is a token-signing key as stored: the private key sealed with
// LATCH_SECRET.
type SigningKey struct {
	KID        string
	Alg        string
	PrivateEnc []byte // sealed private key
	PublicJWK  []byte // public key as a JWK (JSON)
	CreatedAt  time.Time
	// ActiveAt is when the key starts signing (it is published before).
	ActiveAt time.Time
	// RetiredAt is when it stopped signing (zero while current or next).
	RetiredAt time.Time
	// ExpiresAt is when it is no longer published (zero: not yet decided).
	ExpiresAt time.Time
}

// Store errors. Stores return these (possibly wrapped) so the service can
// tell them apart with errors.Is.
var (
	ErrNotFound  = errors.New("auth: not found")
	ErrConflict  = errors.New("auth: conflict") // unique constraint
	ErrStoreDown = errors.New("auth: store unavailable")
)

// Store is latch's persistence. Every method is plain data access; the rules
// live in Service. Implementations must pass internal/storetest.
type Store interface {
	// Tx runs fn in one write transaction: all of fn's changes are applied,
	// or none. fn may be retried by the store on serialization failures and
	// must therefore be free of side effects outside tx.
	Tx(ctx context.Context, fn func(tx Tx) error) error
	// Reads outside a transaction.
	Reader
	// RefreshTokenState reads the refresh token with hash, its session and
	// its user in one query, outside any transaction; ErrNotFound when any
	// of them is missing.
	RefreshTokenState(ctx context.Context, hash []byte) (*RefreshState, error)
	// RotateRefreshTokenIfAllowed is a refresh's common case in one atomic
	// and durable step (one statement where the database allows it): it
	// reads the token with r.Hash, its session and its user, and when
	// r.Allows them it rotates the token: only if the token is still unused
	// and the session not revoked (a logout that committed meanwhile wins),
	// it marks the token used at r.At with its successor (as
	// MarkRefreshTokenUsed), creates the successor token for the same
	// session and user, and sets the session's last use to r.At. It
	// returns what it read and whether it rotated: of many concurrent
	// callers exactly one gets true, and false changes nothing.
	// ErrNotFound when the token, its session or its user is missing.
	RotateRefreshTokenIfAllowed(ctx context.Context, r RefreshRotation) (*RefreshState, bool, error)
	// LoginUser reads the user whose normalised email is emailNorm, and
	// whether they have any second factor (confirmed or pending), in one
	// query outside any transaction: a login needs the factors themselves
	// only when there are some. ErrNotFound when there is no such user.
	LoginUser(ctx context.Context, emailNorm string) (u *User, anyFactor bool, err error)
	Ping(ctx context.Context) error
	Close() error
}

// Reader is the read side, shared by Store and Tx.
type Reader interface {
	UserByID(ctx context.Context, id string) (*User, error)
	UserByEmail(ctx context.Context, emailNorm string) (*User, error)
	SessionByID(ctx context.Context, id string) (*Session, error)
	// SessionsByUser lists a user's sessions that are not revoked and not past
	// their absolute expiry at now, newest first.
	SessionsByUser(ctx context.Context, userID string, now time.Time) ([]*Session, error)
	RefreshTokenByHash(ctx context.Context, hash []byte) (*RefreshToken, error)
	OneTimeTokenByHash(ctx context.Context, hash []byte) (*OneTimeToken, error)
	// CountOneTimeTokens counts tokens of kind issued to userID since since.
	CountOneTimeTokens(ctx context.Context, userID string, kind TokenKind, since time.Time) (int, error)
	SigningKeys(ctx context.Context) ([]*SigningKey, error)
	// CountNotices counts the notice mails of kind recorded for userID at
	// or after since. Inside a write transaction it serializes with the
	// other transactions of userID that count (see CountOneTimeTokens), so
	// that count-then-record caps are exact.
	CountNotices(ctx context.Context, userID, kind string, since time.Time) (int, error)

	// Admin.
	// ListUsers lists the users matching q in (CreatedAt, ID) order,
	// starting after (q.AfterCreated, q.AfterID), at most q.Limit of them.
	ListUsers(ctx context.Context, q UserQuery) ([]*User, error)
	// AuditEvents lists the audit events matching q, newest (highest ID)
	// first, at most q.Limit of them.
	AuditEvents(ctx context.Context, q AuditQuery) ([]*AuditEvent, error)

	// Revocations.
	// RevokedSessionsSince lists the sessions revoked at or after since,
	// oldest revocation first.
	RevokedSessionsSince(ctx context.Context, since time.Time) ([]*Session, error)
	// UserCutoffsSince lists the user-wide cut-offs (TokensValidAfter) set
	// at or after since and the users deleted at or after since, oldest
	// first.
	UserCutoffsSince(ctx context.Context, since time.Time) ([]UserCutoff, error)

	// Second factors (mfa_store.go).
	MFAReader
	// OAuth clients, codes and browser sessions (oauth_store.go).
	OAuthReader
}

// Tx is the write side, used inside Store.Tx.
type Tx interface {
	Reader
	// CreateUser inserts u; ErrConflict when the email is taken.
	CreateUser(ctx context.Context, u *User) error
	// UpdateUser writes every field of u except ID and CreatedAt;
	// ErrConflict when the new email is taken, ErrNotFound when u is gone.
	UpdateUser(ctx context.Context, u *User) error
	// DeleteUser deletes the user and every session, refresh token and
	// one-time token of theirs.
	DeleteUser(ctx context.Context, id string) error

	CreateSession(ctx context.Context, s *Session) error
	// TouchSession sets last_used_at.
	TouchSession(ctx context.Context, id string, at time.Time) error
	// RevokeSession marks a session ended (no-op if already revoked);
	// reports whether this call revoked it.
	RevokeSession(ctx context.Context, id string, at time.Time) (bool, error)
	// RevokeUserSessions ends every live session of userID except exceptID
	// (may be empty), returning the ids it ended.
	RevokeUserSessions(ctx context.Context, userID, exceptID string, at time.Time) ([]string, error)

	CreateRefreshToken(ctx context.Context, t *RefreshToken) error
	// MarkRefreshTokenUsed sets used_at, successor_hash and successor_sealed
	// on the token with hash, only if it is unused. It reports whether it
	// did: of many concurrent callers, exactly one gets true.
	MarkRefreshTokenUsed(ctx context.Context, hash []byte, at time.Time, successorHash, successorSealed []byte) (bool, error)

	CreateOneTimeToken(ctx context.Context, t *OneTimeToken) error
	// ConsumeOneTimeToken sets used_at on the token with hash if it is of
	// kind, unused and not expired at at. Exactly one concurrent caller
	// gets true.
	ConsumeOneTimeToken(ctx context.Context, hash []byte, kind TokenKind, at time.Time) (bool, error)
	// VoidOneTimeTokens marks every unused token of kind (of every kind for
	// AllKinds) for userID used.
	VoidOneTimeTokens(ctx context.Context, userID string, kind TokenKind, at time.Time) error

	// EnqueueMail adds a message to the outbox.
	EnqueueMail(ctx context.Context, m *OutboxMessage) error
	// RecordNotice records that a notice mail of kind went to userID at at
	// (the outbox forgets delivered mail; the notice caps count these).
	RecordNotice(ctx context.Context, userID, kind string, at time.Time) error

	CreateSigningKey(ctx context.Context, k *SigningKey) error
	UpdateSigningKey(ctx context.Context, k *SigningKey) error

	// Key rotation.
	// RetireSigningKey sets RetiredAt and ExpiresAt on the key kid only if
	// it is not retired yet, and reports whether it did: of many concurrent
	// callers, exactly one gets true; a missing key reports false.
	RetireSigningKey(ctx context.Context, kid string, retiredAt, expiresAt time.Time) (bool, error)

	// Admin.
	// CreateUsersIfAbsent inserts each of users unless a user with its ID
	// or email already exists (an earlier one of users included); it
	// reports, for each, whether it inserted it (imports).
	CreateUsersIfAbsent(ctx context.Context, users []*User) ([]bool, error)
	// AppendAudit appends e to the append-only audit log and sets e.ID.
	AppendAudit(ctx context.Context, e *AuditEvent) error

	// Housekeeping.
	// Prune deletes what can no longer matter: one-time tokens that expired
	// or were used before before, sessions (with their refresh tokens)
	// that ended or expired before before, and notices recorded before
	// before. It returns how many rows went.
	Prune(ctx context.Context, before time.Time) (int64, error)
	// PruneUnconfirmed examines the next limit (> 0) accounts that hold a
	// confirmation link, in the store's order of user ids after after
	// ("" for the first batch), and deletes those whose address is
	// unconfirmed, created before createdBefore and without a session live
	// at now (not revoked, not past its absolute end), with everything of
	// theirs. It returns how many accounts went and the id to pass as after
	// for the next batch, "" when no account is left to examine. Its work
	// is bounded by limit, not by the number of users.
	PruneUnconfirmed(ctx context.Context, createdBefore, now time.Time, after string, limit int) (n int64, next string, err error)

	// Second factors (mfa_store.go).
	MFAWriter
	// OAuth clients, codes and browser sessions (oauth_store.go).
	OAuthWriter
	// Webhooks (webhook_store.go).
	WebhookWriter
}

// Outbox is what the mail worker needs from the store.
type Outbox interface {
	// ClaimMail returns up to n messages due at now and leases them until
	// now+lease so that other workers skip them.
	ClaimMail(ctx context.Context, now time.Time, n int, lease time.Duration) ([]*OutboxMessage, error)
	// MailSent removes a delivered message.
	MailSent(ctx context.Context, id int64) error
	// MailFailed records a failed attempt and when to try again.
	MailFailed(ctx context.Context, id int64, next time.Time, errText string) error
	// OutboxDepth counts messages not yet delivered.
	OutboxDepth(ctx context.Context) (int, error)

	// Mail.
	// MailAbandoned removes a message that will never be delivered (the
	// mail server refused it for good, or it ran out of attempts), so that
	// no token-bearing body stays at rest; ErrNotFound if it is gone.
	MailAbandoned(ctx context.Context, id int64) error
}

// Composer turns a mail kind and its data into a Message.
type Composer interface {
	Compose(kind string, data MailData) (Message, error)
}

// Mail kinds.
const (
	MailConfirm         = "confirm"
	MailDuplicateSignup = "duplicate_signup"
	MailReset           = "reset"
	MailPasswordChanged = "password_changed"
	MailPasswordReset   = "password_reset"
	MailEmailChange     = "email_change"
	MailEmailChanged    = "email_changed"
	MailAccountDeleted  = "account_deleted"

	// Mail.
	// MailUnknownAccount answers a password reset asked for an address
	// without an account (only with Config.MailUnknownAccounts).
	MailUnknownAccount = "unknown_account"
)

// MailData is what templates may use.
type MailData struct {
	To        string
	Link      string // full URL with token, when the mail carries one
	PublicURL string
	Product   string
	NewEmail  string
	ExpiresIn time.Duration
	// Change says what changed, in a sentence, for notices that cover
	// several changes (mfa_changed), or a count (recovery_code_used: the
	// codes left).
	Change string
}

// Rate is a limit of N events per Per.
type Rate struct {
	N   int
	Per time.Duration
}

// Limiter enforces rate limits and login throttling.
type Limiter interface {
	// Allow counts one event against key under rate. When refused it
	// returns the time until the next event would be allowed.
	Allow(ctx context.Context, key string, rate Rate) (ok bool, retryAfter time.Duration, err error)
	// Peek reports whether Allow would allow one more event against key
	// under rate, counting nothing; when not, it returns the wait. It lets
	// a limit count only failures and still refuse every attempt past it.
	Peek(ctx context.Context, key string, rate Rate) (ok bool, retryAfter time.Duration, err error)
	// LoginAttempt counts one login attempt for an account key before the
	// password is checked; when throttled it returns ok=false and the wait.
	LoginAttempt(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
	// LoginSucceeded clears the account key's failures.
	LoginSucceeded(ctx context.Context, key string) error
}
