package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchauth/latch/internal/auth"
)

// OAuthClient is a confidential OAuth client configured by the operator
// (LATCH_OAUTH_CLIENTS). Only the SHA-256 of its secret is kept.
type OAuthClient struct {
	ID         string
	SecretHash [sha256.Size]byte
}

// minClientSecret is the shortest plaintext client secret accepted: a
// secret is compared through its SHA-256, which is only safe for secrets
// with enough entropy to defeat guessing.
const minClientSecret = 16

// ParseOAuthClients parses LATCH_OAUTH_CLIENTS: comma-separated entries
// "id:secret" (the secret in clear, at least 16 characters) or
// "id:sha256:HEX" (the SHA-256 of the secret as 64 hex digits, so that the
// configuration need not hold the secret). A client id is 1 to 128
// characters of A-Z a-z 0-9 . _ ~ -; ids must be unique. Surrounding spaces
// are ignored; an empty string gives no clients.
func ParseOAuthClients(s string) ([]OAuthClient, error) {
	var out []OAuthClient
	seen := make(map[string]bool)
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		id, secret, ok := strings.Cut(entry, ":")
		if !ok || !validClientID(id) {
			return nil, fmt.Errorf("httpapi: OAuth client %q: want id:secret or id:sha256:HEX with an id of A-Z a-z 0-9 . _ ~ -", printable(id))
		}
		if seen[id] {
			return nil, fmt.Errorf("httpapi: OAuth client %q is listed twice", id)
		}
		seen[id] = true
		c := OAuthClient{ID: id}
		if hx, ok := strings.CutPrefix(secret, "sha256:"); ok {
			b, err := hex.DecodeString(hx)
			if err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("httpapi: OAuth client %q: sha256: must be followed by 64 hex digits", id)
			}
			copy(c.SecretHash[:], b)
		} else {
			if len(secret) < minClientSecret {
				return nil, fmt.Errorf("httpapi: OAuth client %q: the secret must be at least %d characters", id, minClientSecret)
			}
			c.SecretHash = sha256.Sum256([]byte(secret))
		}
		out = append(out, c)
	}
	return out, nil
}

// check reports, in constant time, whether secret is the client's secret.
func (c OAuthClient) check(secret string) bool {
	h := sha256.Sum256([]byte(secret))
	return secret != "" && subtle.ConstantTimeCompare(h[:], c.SecretHash[:]) == 1
}

// validClientID reports whether id is 1 to 128 unreserved URL characters.
func validClientID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '~', c == '-':
		default:
			return false
		}
	}
	return true
}

// Client authentication methods (RFC 8414 / IANA names).
const (
	authNone   = "none"
	authBasic  = "client_secret_basic"
	authPost   = "client_secret_post"
	basicRealm = `Basic realm="latch"`
)

// oauthClient is who called an OAuth endpoint.
type oauthClient struct {
	id           string // "" for an anonymous public client
	confidential bool   // authenticated with a configured secret
	method       string // authNone, authBasic or authPost
	// registered is the client's registration (admin API or CLI); nil for
	// a client of LATCH_OAUTH_CLIENTS, an unregistered client_id or none.
	registered *auth.Client
}

// allows reports whether the client may use grant: a registered client
// the grant types it lists; any other caller the password grant (and its
// MFA completion) and refresh, unless passwordGrantOff, and never the
// authorization code grant, whose codes are bound to a registration.
func (c oauthClient) allows(grant string, passwordGrantOff bool) bool {
	if grant == grantMFA {
		grant = auth.GrantPassword
	}
	if c.registered != nil {
		return c.registered.Allows(grant)
	}
	switch grant {
	case auth.GrantPassword:
		return !passwordGrantOff
	case auth.GrantRefreshToken:
		return true
	}
	return false
}

// auth is the caller as the service knows OAuth clients.
func (c oauthClient) auth() auth.OAuthClient {
	return auth.OAuthClient{ID: c.id, Confidential: c.confidential}
}

// errNoBasic is returned by basicCredentials when there is no Basic header.
var errNoBasic = errors.New("httpapi: no Basic credentials")

// basicCredentials decodes RFC 6749 §2.3.1 HTTP Basic client credentials:
// base64 of "id:secret", each form-urlencoded. It returns errNoBasic when
// there is no Authorization header, and an *apiError for a header that
// is not usable Basic credentials.
func basicCredentials(r *http.Request) (id, secret string, err error) {
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return "", "", errNoBasic
	case 1:
	default:
		return "", "", oauthErr(http.StatusBadRequest, "invalid_request", "more than one Authorization header")
	}
	bad := &apiError{status: http.StatusUnauthorized, code: "invalid_client",
		detail: "the Authorization header is not HTTP Basic client credentials", wwwAuthenticate: basicRealm}
	scheme, rest, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", "", bad
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return "", "", bad
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", bad
	}
	if id, err = url.QueryUnescape(rawID); err != nil {
		return "", "", bad
	}
	if secret, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", bad
	}
	return id, secret, nil
}

// authenticateClient works out the caller of an OAuth endpoint from HTTP
// Basic credentials or client_id/client_secret in the form (never both,
// RFC 6749 §2.3). A client_id that is not configured is a public client and
// may not present a secret; a configured (confidential) one must present
// its secret. Empty Basic credentials (what golang.org/x/oauth2 sends for a
// client without id) count as none.
func (s *server) authenticateClient(r *http.Request, form map[string]string) (oauthClient, error) {
	id, secret, err := basicCredentials(r)
	method := authBasic
	switch {
	case errors.Is(err, errNoBasic):
		id, secret, method = form["client_id"], form["client_secret"], authPost
	case err != nil:
		return oauthClient{}, err
	default:
		if _, ok := form["client_secret"]; ok {
			return oauthClient{}, oauthErr(http.StatusBadRequest, "invalid_request",
				"client credentials in both the Authorization header and the body")
		}
		if fid, ok := form["client_id"]; ok && fid != id {
			return oauthClient{}, oauthErr(http.StatusBadRequest, "invalid_request",
				"client_id in the body differs from the Authorization header")
		}
	}
	failed := func(desc string) error {
		e := &apiError{status: http.StatusUnauthorized, code: "invalid_client", detail: desc}
		if method == authBasic {
			e.wwwAuthenticate = basicRealm
		}
		return e
	}
	if id == "" {
		if secret != "" {
			return oauthClient{}, failed("a client secret without a client id")
		}
		return oauthClient{method: authNone}, nil
	}
	c, ok := s.oauthClients[id]
	if !ok {
		reg, err := s.svc.RegisteredClient(r.Context(), id)
		if err != nil {
			return oauthClient{}, err
		}
		if reg != nil && reg.Confidential() {
			if !s.svc.CheckClientSecret(reg, secret) {
				return oauthClient{}, failed("client authentication failed")
			}
			return oauthClient{id: id, confidential: true, method: method, registered: reg}, nil
		}
		if secret != "" {
			return oauthClient{}, failed("client authentication failed")
		}
		return oauthClient{id: id, method: authNone, registered: reg}, nil
	}
	if !c.check(secret) {
		return oauthClient{}, failed("client authentication failed")
	}
	return oauthClient{id: id, confidential: true, method: method}, nil
}
