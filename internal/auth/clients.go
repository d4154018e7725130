package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"

	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Registered OAuth clients (api.md "Browser and mobile apps"): created,
// listed, changed and deleted by an admin (API or CLI). A confidential
// client gets a secret once, at creation or at a rotation; only its
// SHA-256 is kept.

// Client admin event types. Actor is who acted; Details carry the
// client_id and name.
const (
	EventClientCreated = "client_created"
	EventClientUpdated = "client_updated"
	EventClientDeleted = "client_deleted"
)

// Limits of a client registration.
const (
	maxClientName   = 100
	maxClientURIs   = 20
	maxClientURILen = 2000
)

// DefaultGrantTypes are a new client's grant types when none are given.
var DefaultGrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}

// NewClient is a client an admin registers.
type NewClient struct {
	Name                   string
	Type                   string // ClientPublic or ClientConfidential
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes             []string // nil: DefaultGrantTypes
}

// ClientPatch is an admin's change to a client; nil fields stay as they
// are. The type cannot change (register a new client); the secret changes
// by AdminRotateClientSecret.
type ClientPatch struct {
	Name                   *string
	RedirectURIs           *[]string
	PostLogoutRedirectURIs *[]string
	GrantTypes             *[]string
}

// CheckSecret reports, in constant time, whether secret is the client's
// at now: its current secret, or the one a rotation replaced while the
// overlap lasts. A public client has no secret and matches none.
func (c *Client) CheckSecret(secret string, now time.Time) bool {
	if c.Type != ClientConfidential || len(c.SecretHash) != sha256.Size || secret == "" {
		return false
	}
	h := sha256.Sum256([]byte(secret))
	current := subtle.ConstantTimeCompare(h[:], c.SecretHash)
	// Both are compared whatever the first gave, so that the time does not
	// tell which secret matched (a missing previous one compares unequal
	// at once, as its absence is no secret).
	previous := subtle.ConstantTimeCompare(h[:], c.PreviousSecretHash)
	return current == 1 || (previous == 1 && now.Before(c.PreviousSecretUntil))
}

// CheckClientSecret is c.CheckSecret at the service's clock.
func (s *Service) CheckClientSecret(c *Client, secret string) bool {
	return c.CheckSecret(secret, s.now())
}

// Allows reports whether the client may use grant.
func (c *Client) Allows(grant string) bool { return slices.Contains(c.GrantTypes, grant) }

// Confidential reports whether the client authenticates with a secret.
func (c *Client) Confidential() bool { return c.Type == ClientConfidential }

// RedirectURIRegistered reports whether uri is one of registered: equal to
// an entry, or, for an entry on a loopback IP literal over http
// (http://127.0.0.1/cb, http://[::1]/cb), equal but for the port, which a
// native app picks when it starts listening (RFC 8252 §7.3).
func RedirectURIRegistered(registered []string, uri string) bool {
	if uri == "" {
		return false
	}
	for _, r := range registered {
		if r == uri {
			return true
		}
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || !loopbackIP(u.Hostname()) || u.User != nil || u.Fragment != "" {
		return false
	}
	for _, r := range registered {
		ru, err := url.Parse(r)
		if err != nil || ru.Scheme != "http" || !loopbackIP(ru.Hostname()) {
			continue
		}
		if ru.Hostname() == u.Hostname() && ru.EscapedPath() == u.EscapedPath() && ru.RawQuery == u.RawQuery {
			return true
		}
	}
	return false
}

// loopbackIP reports whether host is 127.0.0.1 or ::1 (never the name
// localhost, which DNS or a hosts file may point elsewhere).
func loopbackIP(host string) bool { return host == "127.0.0.1" || host == "::1" }

// validClientURI says what is wrong with uri as a redirect (or post-logout
// redirect) URI of a client, or "": an absolute URI without a fragment or
// user info; https, http only on a loopback host (127.0.0.1, [::1],
// localhost), or a private-use scheme with a dot in it for native apps
// (com.example.app:/callback, RFC 8252 §7.1).
func validClientURI(uri string) string {
	if uri == "" || len(uri) > maxClientURILen {
		return "must be 1 to 2000 characters"
	}
	for _, r := range uri {
		if r < 0x21 || r == 0x7f || r == '\\' {
			return "must not contain spaces, control characters or backslashes"
		}
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" {
		return "must be an absolute URI"
	}
	if u.Fragment != "" || strings.Contains(uri, "#") {
		return "must not have a fragment"
	}
	if u.User != nil {
		return "must not have user info"
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return "must have a host"
		}
	case "http":
		if h := u.Hostname(); !loopbackIP(h) && h != "localhost" {
			return "may use http only on a loopback host (127.0.0.1, [::1], localhost); use https"
		}
	default:
		if !strings.Contains(u.Scheme, ".") {
			return "must use https, http on a loopback host, or a private-use scheme in reverse domain form (com.example.app:/callback)"
		}
		if u.Host != "" && u.Path == "" {
			return "must name a path"
		}
	}
	return ""
}

// checkClientURIs validates a list of URIs named field.
func checkClientURIs(field string, uris []string) ([]string, error) {
	if len(uris) > maxClientURIs {
		return nil, Errorf(CodeInvalidRequest, "%s: at most %d URIs", field, maxClientURIs)
	}
	out := make([]string, 0, len(uris))
	for _, u := range uris {
		if msg := validClientURI(u); msg != "" {
			return nil, Errorf(CodeInvalidRequest, "%s: %q %s", field, clip(u, 100), msg)
		}
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out, nil
}

// checkClient validates c as registered (after a create or a patch).
func checkClient(c *Client) error {
	c.Name = strings.TrimSpace(c.Name)
	if c.Name == "" || utf8.RuneCountInString(c.Name) > maxClientName || !utf8.ValidString(c.Name) {
		return Errorf(CodeInvalidRequest, "name: 1 to %d characters", maxClientName)
	}
	for _, r := range c.Name {
		if r < 0x20 || r == 0x7f {
			return Errorf(CodeInvalidRequest, "name: no control characters")
		}
	}
	if c.Type != ClientPublic && c.Type != ClientConfidential {
		return Errorf(CodeInvalidRequest, `type: "public" or "confidential"`)
	}
	var err error
	if c.RedirectURIs, err = checkClientURIs("redirect_uris", c.RedirectURIs); err != nil {
		return err
	}
	if c.PostLogoutRedirectURIs, err = checkClientURIs("post_logout_redirect_uris", c.PostLogoutRedirectURIs); err != nil {
		return err
	}
	var grants []string
	for _, g := range c.GrantTypes {
		switch g {
		case GrantAuthorizationCode, GrantRefreshToken, GrantPassword:
		default:
			return Errorf(CodeInvalidRequest, "grant_types: %q is not one of authorization_code, refresh_token, password", clip(g, 40))
		}
		if !slices.Contains(grants, g) {
			grants = append(grants, g)
		}
	}
	if len(grants) == 0 {
		return Errorf(CodeInvalidRequest, "grant_types: at least one of authorization_code, refresh_token, password")
	}
	c.GrantTypes = grants
	if c.Allows(GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		return Errorf(CodeInvalidRequest, "redirect_uris: the authorization_code grant needs at least one redirect URI")
	}
	return nil
}

func errNoClient() error { return Errorf(CodeNotFound, "no such client") }

// newClientID returns a client id: 128 random bits in hex, so that it
// never starts with "-" (a command line would read it as a flag) and
// needs no escaping anywhere.
func newClientID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newClientSecret returns a fresh secret (256 random bits) and its hash.
func newClientSecret() (string, []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	s := base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(s))
	return s, h[:]
}

// AdminCreateClient registers a client. A confidential client's secret is
// returned here and never again.
func (s *Service) AdminCreateClient(ctx context.Context, actor string, in NewClient) (*Client, string, error) {
	now := s.now()
	c := &Client{
		ID: newClientID(), Name: in.Name, Type: in.Type,
		RedirectURIs: in.RedirectURIs, PostLogoutRedirectURIs: in.PostLogoutRedirectURIs,
		GrantTypes: in.GrantTypes, CreatedAt: now, UpdatedAt: now,
	}
	if c.GrantTypes == nil {
		c.GrantTypes = slices.Clone(DefaultGrantTypes)
	}
	if err := checkClient(c); err != nil {
		return nil, "", err
	}
	var secret string
	if c.Type == ClientConfidential {
		secret, c.SecretHash = newClientSecret()
	}
	err := s.deps.Store.Tx(ctx, func(tx Tx) error { return tx.CreateClient(ctx, c) })
	if err != nil {
		return nil, "", err
	}
	s.emit(ctx, Event{Type: EventClientCreated, Actor: actor, Details: map[string]string{
		"client_id": c.ID, "name": c.Name, "type": c.Type, "grant_types": strings.Join(c.GrantTypes, ","),
	}})
	return c, secret, nil
}

// MaxSecretOverlap is the longest a rotated-out client secret stays
// accepted: long enough for a staged redeploy, short enough that a
// forgotten old secret ends on its own.
const MaxSecretOverlap = 7 * 24 * time.Hour

// AdminRotateClientSecret gives the confidential client id a new secret,
// returned here and never again. The secret it replaces stays accepted for
// overlap (0: it ends now, as after a leak); a secret an earlier rotation
// left valid ends now either way, so a client has at most two.
func (s *Service) AdminRotateClientSecret(ctx context.Context, actor, id string, overlap time.Duration) (*Client, string, error) {
	if overlap < 0 || overlap > MaxSecretOverlap {
		return nil, "", Errorf(CodeInvalidRequest, "previous_secret_valid_for: 0 to %d seconds", int(MaxSecretOverlap/time.Second))
	}
	var (
		c      *Client
		secret string
	)
	err := s.deps.Store.Tx(ctx, func(tx Tx) error {
		var err error
		if c, err = tx.ClientByID(ctx, id); err != nil {
			if notFound(err) {
				return errNoClient()
			}
			return err
		}
		if !c.Confidential() {
			return Errorf(CodeInvalidRequest, "a public client has no secret to rotate")
		}
		now := s.now()
		c.PreviousSecretHash, c.PreviousSecretUntil = nil, time.Time{}
		if overlap > 0 {
			c.PreviousSecretHash, c.PreviousSecretUntil = c.SecretHash, now.Add(overlap)
		}
		secret, c.SecretHash = newClientSecret()
		c.UpdatedAt = now
		return tx.UpdateClientSecret(ctx, c)
	})
	if err != nil {
		return nil, "", err
	}
	s.emit(ctx, Event{Type: EventClientUpdated, Actor: actor, Details: map[string]string{
		"client_id": c.ID, "name": c.Name, "changed": "secret",
		"overlap_seconds": strconv.Itoa(int(overlap / time.Second)),
	}})
	return c, secret, nil
}

// AdminClients lists the registered clients, oldest first.
func (s *Service) AdminClients(ctx context.Context) ([]*Client, error) {
	return s.deps.Store.Clients(ctx)
}

// AdminClient returns the registered client id (CodeNotFound if none).
func (s *Service) AdminClient(ctx context.Context, id string) (*Client, error) {
	c, err := s.deps.Store.ClientByID(ctx, id)
	if notFound(err) {
		return nil, errNoClient()
	}
	return c, err
}

// AdminUpdateClient applies p to the client id.
func (s *Service) AdminUpdateClient(ctx context.Context, actor, id string, p ClientPatch) (*Client, error) {
	var (
		c       *Client
		changed []string
	)
	err := s.deps.Store.Tx(ctx, func(tx Tx) error {
		changed = nil
		var err error
		if c, err = tx.ClientByID(ctx, id); err != nil {
			if notFound(err) {
				return errNoClient()
			}
			return err
		}
		if p.Name != nil && *p.Name != c.Name {
			c.Name, changed = *p.Name, append(changed, "name")
		}
		if p.RedirectURIs != nil && !slices.Equal(*p.RedirectURIs, c.RedirectURIs) {
			c.RedirectURIs, changed = *p.RedirectURIs, append(changed, "redirect_uris")
		}
		if p.PostLogoutRedirectURIs != nil && !slices.Equal(*p.PostLogoutRedirectURIs, c.PostLogoutRedirectURIs) {
			c.PostLogoutRedirectURIs, changed = *p.PostLogoutRedirectURIs, append(changed, "post_logout_redirect_uris")
		}
		if p.GrantTypes != nil && !slices.Equal(*p.GrantTypes, c.GrantTypes) {
			c.GrantTypes, changed = *p.GrantTypes, append(changed, "grant_types")
		}
		if len(changed) == 0 {
			return nil
		}
		if err := checkClient(c); err != nil {
			return err
		}
		c.UpdatedAt = s.now()
		return tx.UpdateClient(ctx, c)
	})
	if err != nil {
		return nil, err
	}
	if len(changed) > 0 {
		s.emit(ctx, Event{Type: EventClientUpdated, Actor: actor, Details: map[string]string{
			"client_id": c.ID, "name": c.Name, "changed": strings.Join(changed, ","),
		}})
	}
	return c, nil
}

// AdminDeleteClient deletes the client id and its unused codes. Sessions
// started through it stay bound to its id: a confidential client's can no
// longer be refreshed (nobody can authenticate as it).
func (s *Service) AdminDeleteClient(ctx context.Context, actor, id string) error {
	var name string
	err := s.deps.Store.Tx(ctx, func(tx Tx) error {
		c, err := tx.ClientByID(ctx, id)
		if notFound(err) {
			return errNoClient()
		}
		if err != nil {
			return err
		}
		name = c.Name
		err = tx.DeleteClient(ctx, id)
		if notFound(err) {
			return errNoClient()
		}
		return err
	})
	if err != nil {
		return err
	}
	s.emit(ctx, Event{Type: EventClientDeleted, Actor: actor, Details: map[string]string{"client_id": id, "name": name}})
	return nil
}

// RegisteredClient returns the registered client id, or nil when there is
// none (the caller then treats id as it treats unregistered clients).
func (s *Service) RegisteredClient(ctx context.Context, id string) (*Client, error) {
	if id == "" {
		return nil, nil
	}
	c, err := s.deps.Store.ClientByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return c, err
}
