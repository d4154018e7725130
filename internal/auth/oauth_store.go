package auth

import (
	"context"
	"time"
)

// Client types (RFC 6749 §2.1).
const (
	ClientPublic       = "public"       // a SPA or native app: no secret
	ClientConfidential = "confidential" // a server-side app with a secret
)

// Grant types a registered client may list.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantPassword          = "password"
)

// Client is an OAuth client registered through the admin API or the CLI
// (the clients of LATCH_OAUTH_CLIENTS are configuration, not rows).
type Client struct {
	ID   string
	Name string
	Type string // ClientPublic or ClientConfidential
	// SecretHash is the SHA-256 of a confidential client's secret (the
	// secret is 256 random bits, shown once); nil for a public client.
	SecretHash []byte
	// PreviousSecretHash is the SHA-256 of the secret the last rotation
	// replaced, accepted until PreviousSecretUntil; nil when the rotation
	// kept no overlap.
	PreviousSecretHash     []byte
	PreviousSecretUntil    time.Time
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes             []string
	CreatedAt              time.Time
	UpdatedAt              time.Time
}

// AuthCode is the stored form of an authorization code: only its hash,
// and everything the token request must match or carry over.
type AuthCode struct {
	Hash             []byte // SHA-256 of the code
	ClientID         string
	UserID           string
	BrowserSessionID string // the browser session that approved it
	RedirectURI      string // as sent to /oauth/authorize
	CodeChallenge    string // S256 challenge; "" when the client sent none
	Nonce            string
	Scope            string // space-separated, as granted
	AuthTime         time.Time
	AMR              []string
	CreatedAt        time.Time
	ExpiresAt        time.Time
	UsedAt           time.Time
	// SessionID is the token session the code's first use started: a
	// second use ends it (RFC 6749 §4.1.2).
	SessionID string
}

// BrowserSession is a login on latch's own origin (the single sign-on
// cookie), stored only as the hash of the cookie's value.
type BrowserSession struct {
	ID        string // public id: the sid of ID tokens
	Hash      []byte // SHA-256 of the cookie value
	UserID    string
	AMR       []string
	AuthTime  time.Time // when the password (and factor) were checked
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time
}

// OAuthReader is the read side of registered clients, authorization
// codes and browser sessions, part of Reader.
type OAuthReader interface {
	// ClientByID returns the registered client id, or ErrNotFound.
	ClientByID(ctx context.Context, id string) (*Client, error)
	// Clients lists the registered clients in (CreatedAt, ID) order.
	Clients(ctx context.Context) ([]*Client, error)
	// AuthCodeByHash returns the code with hash, or ErrNotFound.
	AuthCodeByHash(ctx context.Context, hash []byte) (*AuthCode, error)
	// BrowserSessionByHash returns the browser session whose cookie value
	// hashes to hash, or ErrNotFound.
	BrowserSessionByHash(ctx context.Context, hash []byte) (*BrowserSession, error)
}

// OAuthWriter is the write side, part of Tx.
type OAuthWriter interface {
	// CreateClient inserts c; ErrConflict when the id is taken.
	CreateClient(ctx context.Context, c *Client) error
	// UpdateClient writes every field of c but ID, Type, SecretHash and
	// CreatedAt; ErrNotFound when c is gone.
	UpdateClient(ctx context.Context, c *Client) error
	// UpdateClientSecret writes c's SecretHash, PreviousSecretHash,
	// PreviousSecretUntil and UpdatedAt; ErrNotFound when c is gone.
	UpdateClientSecret(ctx context.Context, c *Client) error
	// DeleteClient deletes the client id and its unused codes;
	// ErrNotFound when it is gone.
	DeleteClient(ctx context.Context, id string) error
	// CreateAuthCode inserts c; ErrNotFound when its user is missing.
	CreateAuthCode(ctx context.Context, c *AuthCode) error
	// RedeemAuthCode sets used_at on the code with hash if it is unused and
	// not expired at at. Exactly one concurrent caller gets true.
	RedeemAuthCode(ctx context.Context, hash []byte, at time.Time) (bool, error)
	// SetAuthCodeSession records the session the code's use started.
	SetAuthCodeSession(ctx context.Context, hash []byte, sessionID string) error
	// CreateBrowserSession inserts b; ErrNotFound when its user is missing.
	CreateBrowserSession(ctx context.Context, b *BrowserSession) error
	// RevokeBrowserSession marks the browser session id ended (no-op if it
	// already is) and reports whether this call ended it.
	RevokeBrowserSession(ctx context.Context, id string, at time.Time) (bool, error)
}
