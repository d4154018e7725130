package auth

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/token"
)

// OAuth 2.0 token revocation (RFC 7009) and introspection (RFC 7662). The
// token endpoint itself uses Login and Refresh.

// EventTokenRevoked is the security event of an OAuth token revocation that
// ended a session.
const EventTokenRevoked = "token_revoked"

// Token kinds as introspection reports them.
const (
	TokenKindAccess  = "access_token"
	TokenKindRefresh = "refresh_token"
)

// TokenInfo is what introspection tells about a token. An inactive token
// (unknown, expired, revoked, of an ended session or a disabled user) has
// only Active false.
type TokenInfo struct {
	Active bool
	Kind   string // TokenKindAccess or TokenKindRefresh

	Subject       string // user id
	Username      string // the user's email
	SessionID     string
	Issuer        string
	ExpiresAt     time.Time
	IssuedAt      time.Time
	NotBefore     time.Time // access tokens only
	Audience      []string  // access tokens only
	ID            string    // jti, access tokens only
	Roles         []string  // access tokens only
	EmailVerified bool      // access tokens only
}

// looksLikeJWS reports whether tok has the shape of an access token (a
// compact JWS); refresh tokens are opaque base64url without dots.
func looksLikeJWS(tok string) bool { return strings.Count(tok, ".") == 2 }

// inactive reports whether err means the presented token is simply not
// valid (as opposed to the store failing).
func inactive(err error) bool {
	switch ErrorCode(err) {
	case CodeInvalidBearer, CodeTokenExpired:
		return true
	}
	return false
}

// Introspect tells whether tok is an active access or refresh token and
// what it stands for. Looking at a refresh token does not use it. Only a
// store failure is an error.
//
// by is the confidential client asking, nil for the operator (the admin
// key). Access tokens are meant for resource servers, so any client may
// introspect them; a refresh token is only ever sent to latch by the
// client it was issued to, so a session bound to a client shows its
// refresh token as active to that client (and the operator) only.
func (s *Service) Introspect(ctx context.Context, tok string, by *OAuthClient) (*TokenInfo, error) {
	if looksLikeJWS(tok) {
		return s.introspectAccess(ctx, tok)
	}
	return s.introspectRefresh(ctx, tok, by)
}

func (s *Service) introspectAccess(ctx context.Context, tok string) (*TokenInfo, error) {
	// Authenticate applies every check latch's own routes apply (session
	// live, user enabled, user-wide cut-off).
	p, err := s.Authenticate(ctx, tok)
	if inactive(err) {
		return &TokenInfo{}, nil
	}
	if err != nil {
		return nil, err
	}
	v := token.IssuerVerifier{Keys: s.keyByKID, Issuer: s.iss, Audience: s.cfg.Audience, Now: s.now}
	cl, err := v.Verify(tok)
	if err != nil {
		return &TokenInfo{}, nil // expired in between
	}
	return &TokenInfo{
		Active:        true,
		Kind:          TokenKindAccess,
		Subject:       cl.Subject,
		Username:      p.User.Email,
		SessionID:     cl.SessionID,
		Issuer:        cl.Issuer,
		ExpiresAt:     cl.ExpiresAt,
		IssuedAt:      cl.IssuedAt,
		NotBefore:     cl.NotBefore,
		Audience:      cl.Audience,
		ID:            cl.ID,
		Roles:         cl.Roles,
		EmailVerified: cl.EmailVerified,
	}, nil
}

func (s *Service) introspectRefresh(ctx context.Context, tok string, by *OAuthClient) (*TokenInfo, error) {
	h, ok := token.HashOpaque(tok)
	if !ok {
		return &TokenInfo{}, nil
	}
	rt, err := s.deps.Store.RefreshTokenByHash(ctx, h)
	if notFound(err) {
		return &TokenInfo{}, nil
	}
	if err != nil {
		return nil, err
	}
	if !rt.UsedAt.IsZero() {
		return &TokenInfo{}, nil
	}
	sess, err := s.deps.Store.SessionByID(ctx, rt.SessionID)
	if notFound(err) {
		return &TokenInfo{}, nil
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !sess.Active(now, s.cfg.SessionIdle) || (by != nil && !sess.UsableBy(*by)) {
		return &TokenInfo{}, nil
	}
	u, err := s.deps.Store.UserByID(ctx, rt.UserID)
	if notFound(err) {
		return &TokenInfo{}, nil
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return &TokenInfo{}, nil
	}
	// The token works until the session's absolute end or its idle end,
	// whichever comes first.
	exp := sess.ExpiresAt
	if s.cfg.SessionIdle > 0 {
		if idle := sess.LastUsedAt.Add(s.cfg.SessionIdle); idle.Before(exp) {
			exp = idle
		}
	}
	return &TokenInfo{
		Active:    true,
		Kind:      TokenKindRefresh,
		Subject:   u.ID,
		Username:  u.Email,
		SessionID: sess.ID,
		Issuer:    s.iss,
		ExpiresAt: exp,
		IssuedAt:  rt.CreatedAt,
	}, nil
}

// RevokeToken revokes an access or refresh token (RFC 7009): either ends
// the session it belongs to, so that its refresh token stops working and
// latch's own routes refuse its access tokens at once. A refresh token that
// was already rotated ends its session too (as presenting it to the refresh
// endpoint would). An unknown, invalid or expired token is not an error:
// there is nothing left to revoke. A token of a session bound to another
// OAuth client than by is not revoked either (RFC 7009 §2.1: a client
// revokes only its own tokens), and the answer is the same, so that the
// endpoint tells nobody whose a token is. Only a store failure is an
// error.
func (s *Service) RevokeToken(ctx context.Context, by OAuthClient, tok string) error {
	var sid, uid, kind string
	if looksLikeJWS(tok) {
		p, err := s.Authenticate(ctx, tok)
		if inactive(err) {
			return nil
		}
		if err != nil {
			return err
		}
		sid, uid, kind = p.SessionID, p.User.ID, TokenKindAccess
	} else {
		h, ok := token.HashOpaque(tok)
		if !ok {
			return nil
		}
		rt, err := s.deps.Store.RefreshTokenByHash(ctx, h)
		if notFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		sid, uid, kind = rt.SessionID, rt.UserID, TokenKindRefresh
	}
	var ended bool
	err := s.deps.Store.Tx(ctx, func(tx Tx) error {
		ended = false
		sess, err := tx.SessionByID(ctx, sid)
		if notFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if !sess.UsableBy(by) {
			return nil
		}
		ended, err = tx.RevokeSession(ctx, sid, s.now())
		if errors.Is(err, ErrNotFound) {
			ended, err = false, nil
		}
		return err
	})
	if err != nil {
		return err
	}
	if ended {
		s.emit(ctx, Event{Type: EventTokenRevoked, UserID: uid, SessionID: sid, Details: map[string]string{"token_type": kind}})
	}
	return nil
}
