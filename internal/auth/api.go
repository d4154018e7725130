package auth

import "time"

// ClientInfo is what the transport knows of the caller.
type ClientInfo struct {
	IP        string // from the socket, or X-Forwarded-For from a trusted proxy
	UserAgent string
	// OAuthClient is the OAuth client the request came through; zero for
	// the JSON API, which has no client authentication.
	OAuthClient OAuthClient
}

// OAuthClient is the OAuth client a request came through. A session
// started through a client is bound to it (RFC 6749 §6): its refresh token
// refreshes, and its tokens are revoked, only through that client.
type OAuthClient struct {
	ID string // "" when the request named no client
	// Confidential: the client authenticated with its secret.
	Confidential bool
}

// TokenPair is api.md's token answer.
type TokenPair struct {
	AccessToken  string
	TokenType    string // "Bearer"
	ExpiresIn    int    // seconds
	RefreshToken string
	User         *User
}

// SignupResult is the outcome of a signup: either a confirmation mail was
// (or, for a taken address, appeared to be) sent, or - with confirmation off -
// the new account is logged in.
type SignupResult struct {
	ConfirmationSent bool
	Tokens           *TokenPair
}

// Principal is the authenticated caller of a protected route.
type Principal struct {
	User      *User
	SessionID string
	TokenID   string // jti
	IssuedAt  time.Time
	Roles     []string // from the token
}

// HasRole reports whether the principal's token carries role.
func (p *Principal) HasRole(role string) bool {
	for _, r := range p.Roles {
		if r == role {
			return true
		}
	}
	return false
}
