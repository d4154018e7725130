package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchauth/latch/internal/token"
)

// latch as an OpenID Provider for the authorization code flow with PKCE
// (api.md "Browser and mobile apps"): browser sessions (the single sign-on
// cookie of the hosted login page), authorization codes, their exchange
// for tokens and an ID token, and RP-initiated logout.

// CodeTTL is how long an authorization code may be exchanged.
const CodeTTL = 60 * time.Second

// EventCodeReplayed: an authorization code was presented again; the
// session its first use started was ended (RFC 6749 §4.1.2).
const EventCodeReplayed = "authorization_code_replayed"

// EventBrowserLogout: a browser session ended (RP-initiated logout).
const EventBrowserLogout = "browser_logout"

// BrowserSignIn is a login on the hosted page: the browser session and the
// cookie value that names it (shown to the browser only).
type BrowserSignIn struct {
	Cookie  string
	Session *BrowserSession
	User    *User
}

// newBrowserSession stores a browser session of u authenticated by amr.
func (s *Service) newBrowserSession(ctx context.Context, tx Tx, u *User, amr []string) (*BrowserSignIn, error) {
	plain, err := token.NewOpaque()
	if err != nil {
		return nil, err
	}
	h, _ := token.HashOpaque(plain)
	now := s.now()
	if len(amr) == 0 {
		amr = amrPassword
	}
	end := now.Add(min(s.cfg.SessionIdle, s.cfg.SessionMax))
	b := &BrowserSession{ID: newID(), Hash: h, UserID: u.ID, AMR: amr, AuthTime: now, CreatedAt: now, ExpiresAt: end}
	if err := tx.CreateBrowserSession(ctx, b); err != nil {
		return nil, err
	}
	return &BrowserSignIn{Cookie: plain, Session: b, User: u}, nil
}

// BrowserLogin checks an email and password on the hosted login page and
// starts a browser session. An account with a second factor answers an
// *MFARequiredError whose token BrowserLoginMFA redeems.
func (s *Service) BrowserLogin(ctx context.Context, email, password string) (*BrowserSignIn, error) {
	u, factors, newHash, err := s.checkLogin(ctx, email, password)
	if err != nil {
		return nil, err
	}
	if len(factors) > 0 {
		return nil, s.requireSecondFactor(ctx, u, factors, newHash)
	}
	var (
		in *BrowserSignIn
		ev Event
	)
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		if err := s.upgradeHash(ctx, tx, u, newHash); err != nil {
			return err
		}
		var err error
		if in, err = s.newBrowserSession(ctx, tx, u, nil); err != nil {
			return err
		}
		ev = Event{Type: EventLogin, UserID: u.ID, Details: map[string]string{"browser_session": in.Session.ID}}
		// A browser session only: user.login goes with the token session
		// that the code exchange starts (ExchangeCode).
		ev.noWebhooks()
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.emit(ctx, ev)
	return in, nil
}

// BrowserLoginMFA completes a hosted login with the second factor: a TOTP
// code or a recovery code (a passkey assertion will redeem the same
// mfa_token).
func (s *Service) BrowserLoginMFA(ctx context.Context, mfaToken, code, recovery string) (*BrowserSignIn, error) {
	var in *BrowserSignIn
	_, _, err := s.redeemMFA(ctx, mfaToken, code, recovery, OAuthClient{}, func(tx Tx, u *User, amr []string) (string, error) {
		var err error
		if in, err = s.newBrowserSession(ctx, tx, u, amr); err != nil {
			return "", err
		}
		return "", nil
	})
	if err != nil {
		return nil, err
	}
	return in, nil
}

// BrowserSessionOf returns the live browser session the cookie value
// names and its user, or nil (no error) when there is none: unknown,
// ended, expired, of a disabled or deleted account, or from before the
// account's cut-off (logout everywhere, password reset...).
func (s *Service) BrowserSessionOf(ctx context.Context, cookie string) (*BrowserSession, *User, error) {
	h, ok := token.HashOpaque(cookie)
	if !ok {
		return nil, nil, nil
	}
	b, err := s.deps.Store.BrowserSessionByHash(ctx, h)
	if notFound(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if subtle.ConstantTimeCompare(b.Hash, h) != 1 || !b.RevokedAt.IsZero() || !s.now().Before(b.ExpiresAt) {
		return nil, nil, nil
	}
	u, err := s.deps.Store.UserByID(ctx, b.UserID)
	if notFound(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if u.Disabled || (!u.TokensValidAfter.IsZero() && b.CreatedAt.Before(u.TokensValidAfter)) {
		return nil, nil, nil
	}
	return b, u, nil
}

// EndBrowserSession ends the browser session id (logout); ending one that
// already ended is not an error.
func (s *Service) EndBrowserSession(ctx context.Context, b *BrowserSession) error {
	var ended bool
	err := s.deps.Store.Tx(ctx, func(tx Tx) (err error) {
		ended, err = tx.RevokeBrowserSession(ctx, b.ID, s.now())
		return err
	})
	if err != nil {
		return err
	}
	if ended {
		s.emit(ctx, Event{Type: EventBrowserLogout, UserID: b.UserID, Details: map[string]string{"browser_session": b.ID}})
	}
	return nil
}

// errBadClient is the error page's message for a request naming no
// usable client or redirect URI.
func errBadClient(msg string) error { return Errorf(CodeInvalidRequest, "%s", msg) }

// CheckAuthorize checks an authorization request. An error means the
// client or redirect URI cannot be trusted: answer an error page, never a
// redirect. An *AuthorizeError is a refusal to send back to the (now
// checked) redirect URI.
func (s *Service) CheckAuthorize(ctx context.Context, r *AuthorizeRequest) (*Client, *AuthorizeError, error) {
	c, err := s.RegisteredClient(ctx, r.ClientID)
	if err != nil {
		return nil, nil, err
	}
	if c == nil {
		return nil, nil, errBadClient("the application that sent you here is not registered with this server (unknown client_id)")
	}
	if !RedirectURIRegistered(c.RedirectURIs, r.RedirectURI) {
		return nil, nil, errBadClient("the address the application asked to return to (redirect_uri) is not registered for it")
	}
	if !c.Allows(GrantAuthorizationCode) {
		return c, &AuthorizeError{Code: "unauthorized_client", Description: "this client may not use the authorization code flow"}, nil
	}
	return c, r.check(c), nil
}

// IssueCode issues an authorization code for the checked request r of
// client c, approved by browser session b of user u.
func (s *Service) IssueCode(ctx context.Context, c *Client, r *AuthorizeRequest, b *BrowserSession) (string, error) {
	plain, err := token.NewOpaque()
	if err != nil {
		return "", err
	}
	h, _ := token.HashOpaque(plain)
	now := s.now()
	code := &AuthCode{
		Hash: h, ClientID: c.ID, UserID: b.UserID, BrowserSessionID: b.ID,
		RedirectURI: r.RedirectURI, CodeChallenge: r.CodeChallenge, Nonce: r.Nonce,
		Scope: r.grantedScope(), AuthTime: b.AuthTime, AMR: b.AMR,
		CreatedAt: now, ExpiresAt: now.Add(CodeTTL),
	}
	if err := s.deps.Store.Tx(ctx, func(tx Tx) error { return tx.CreateAuthCode(ctx, code) }); err != nil {
		return "", err
	}
	return plain, nil
}

// CodeTokens is the answer to an authorization code: the token pair
// (RefreshToken empty unless the client may refresh) and, for scope
// openid, the ID token.
type CodeTokens struct {
	*TokenPair
	IDToken string
	Scope   string
}

func errBadCode() error {
	return Errorf(CodeInvalidToken, "the authorization code is invalid, expired or was already used")
}

// s256 is the PKCE S256 transform of verifier (RFC 7636 §4.2).
func s256(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// ExchangeCode redeems an authorization code for client c (authenticated
// when confidential): the code must be this client's, for redirectURI,
// unexpired, unused, and verifier must match its PKCE challenge. A code
// used before is refused and ends the session its first use started
// (RFC 6749 §4.1.2). Of concurrent redemptions exactly one wins.
func (s *Service) ExchangeCode(ctx context.Context, c *Client, code, redirectURI, verifier string) (*CodeTokens, error) {
	h, ok := token.HashOpaque(code)
	if !ok {
		return nil, errBadCode()
	}
	ac, err := s.deps.Store.AuthCodeByHash(ctx, h)
	if notFound(err) {
		return nil, errBadCode()
	}
	if err != nil {
		return nil, err
	}
	if ac.ClientID != c.ID {
		return nil, errBadCode()
	}
	if !ac.UsedAt.IsZero() {
		return nil, s.codeReplayed(ctx, h)
	}
	if !s.now().Before(ac.ExpiresAt) {
		return nil, errBadCode()
	}
	if ac.RedirectURI != redirectURI {
		return nil, Errorf(CodeInvalidToken, "redirect_uri differs from the one of the authorization request")
	}
	switch {
	case ac.CodeChallenge == "" && verifier != "":
		return nil, Errorf(CodeInvalidToken, "code_verifier sent for a code issued without code_challenge")
	case ac.CodeChallenge != "" && (!validPKCE(verifier) ||
		subtle.ConstantTimeCompare([]byte(s256(verifier)), []byte(ac.CodeChallenge)) != 1):
		return nil, Errorf(CodeInvalidToken, "code_verifier does not match the code_challenge")
	}
	u, err := s.deps.Store.UserByID(ctx, ac.UserID)
	if notFound(err) {
		return nil, errBadCode()
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, Errorf(CodeAccountDisabled, "this account is disabled")
	}
	if !u.TokensValidAfter.IsZero() && ac.CreatedAt.Before(u.TokensValidAfter) {
		return nil, errBadCode()
	}
	via := OAuthClient{ID: c.ID, Confidential: c.Confidential()}
	var (
		sess    *Session
		refresh string
		replay  bool
		ev      Event
	)
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		replay = false
		won, err := tx.RedeemAuthCode(ctx, h, s.now())
		if err != nil {
			return err
		}
		if !won {
			replay = true
			return nil
		}
		if sess, refresh, err = s.newSessionAMR(ctx, tx, u, via, ac.AMR); err != nil {
			return err
		}
		if err := tx.SetAuthCodeSession(ctx, h, sess.ID); err != nil {
			return err
		}
		// The token session starts here: the webhook's user.login. The
		// hosted page's sign-in before it opened a browser session only.
		ev = Event{Type: EventLogin, UserID: u.ID, SessionID: sess.ID, Details: map[string]string{
			"client_id": c.ID, "browser_session": ac.BrowserSessionID,
		}}
		return s.publish(ctx, tx, u, &ev)
	})
	if err != nil {
		return nil, err
	}
	if replay {
		return nil, s.codeReplayed(ctx, h)
	}
	s.emit(ctx, ev)
	if !c.Allows(GrantRefreshToken) {
		refresh = ""
	}
	p, err := s.pairUntil(u, sess.ID, sess.AMR, refresh, sess.ExpiresAt)
	if err != nil {
		return nil, err
	}
	out := &CodeTokens{TokenPair: p, Scope: ac.Scope}
	if slices.Contains(strings.Fields(ac.Scope), ScopeOpenID) {
		if out.IDToken, err = s.idToken(u, c, ac); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// codeReplayed ends the session the first use of the code with hash h
// started, and answers the refusal.
func (s *Service) codeReplayed(ctx context.Context, h []byte) error {
	var (
		ac    *AuthCode
		ended bool
		ev    Event
	)
	err := s.deps.Store.Tx(ctx, func(tx Tx) error {
		ended = false
		var err error
		if ac, err = tx.AuthCodeByHash(ctx, h); err != nil {
			return err
		}
		ev = Event{Type: EventCodeReplayed, UserID: ac.UserID, SessionID: ac.SessionID, Details: map[string]string{
			"client_id": ac.ClientID, "session_ended": "false",
		}}
		if ac.SessionID == "" {
			ev.noWebhooks()
			return nil
		}
		if ended, err = tx.RevokeSession(ctx, ac.SessionID, s.now()); err != nil {
			return err
		}
		ev.Details["session_ended"] = strconv.FormatBool(ended)
		if !ended {
			ev.noWebhooks()
			return nil
		}
		u, err := tx.UserByID(ctx, ac.UserID)
		if err != nil {
			return err
		}
		// session.ended only when this replay ended it.
		return s.publish(ctx, tx, u, &ev)
	})
	if err != nil && !notFound(err) {
		return err
	}
	if ac != nil {
		s.emit(ctx, ev)
	}
	return Errorf(CodeInvalidToken, "the authorization code was already used; the tokens issued for it were revoked")
}

// idClaims are an ID token's claims (OIDC Core §2).
type idClaims struct {
	Iss           string   `json:"iss"`
	Sub           string   `json:"sub"`
	Aud           string   `json:"aud"`
	Exp           int64    `json:"exp"`
	Iat           int64    `json:"iat"`
	AuthTime      int64    `json:"auth_time"`
	Nonce         string   `json:"nonce,omitempty"`
	AMR           []string `json:"amr,omitempty"`
	ACR           string   `json:"acr,omitempty"`
	Sid           string   `json:"sid,omitempty"`
	Email         string   `json:"email,omitempty"`
	EmailVerified *bool    `json:"email_verified,omitempty"`
}

// idToken signs the ID token of code ac for user u and client c. Its sid
// is the browser session's id (what RP-initiated logout ends); email and
// email_verified come with scope email.
func (s *Service) idToken(u *User, c *Client, ac *AuthCode) (string, error) {
	now := s.now()
	amr := ac.AMR
	if len(amr) == 0 {
		amr = amrPassword
	}
	cl := idClaims{
		Iss: s.iss, Sub: u.ID, Aud: c.ID, Iat: now.Unix(), Exp: now.Add(s.cfg.AccessTTL).Unix(),
		AuthTime: ac.AuthTime.Unix(), Nonce: ac.Nonce, AMR: amr, ACR: acrOf(amr), Sid: ac.BrowserSessionID,
	}
	if slices.Contains(strings.Fields(ac.Scope), ScopeEmail) {
		v := u.EmailConfirmed
		cl.Email, cl.EmailVerified = u.Email, &v
	}
	return token.SignJWT(s.ring().current, cl)
}

// IDTokenHint is what an id_token_hint tells: whose, for which client,
// of which browser session.
type IDTokenHint struct {
	Subject   string
	ClientID  string
	SessionID string
}

// CheckIDTokenHint verifies an ID token latch issued (any age: an expired
// ID token is a fine logout hint) and returns what it names.
func (s *Service) CheckIDTokenHint(tok string) (*IDTokenHint, error) {
	payload, err := token.VerifyJWT(tok, s.keyByKID)
	if err != nil {
		return nil, Errorf(CodeInvalidToken, "id_token_hint is not an ID token of this server")
	}
	var cl struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Aud string `json:"aud"`
		Sid string `json:"sid"`
	}
	if err := json.Unmarshal(payload, &cl); err != nil || cl.Iss != s.iss || cl.Sub == "" || cl.Aud == "" {
		return nil, Errorf(CodeInvalidToken, "id_token_hint is not an ID token of this server")
	}
	return &IDTokenHint{Subject: cl.Sub, ClientID: cl.Aud, SessionID: cl.Sid}, nil
}

// UserInfo is the OIDC UserInfo answer for the caller of an access token.
type UserInfo struct {
	Sub           string `json:"sub"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
}

// UserInfoOf answers GET /oauth/userinfo for p.
func (s *Service) UserInfoOf(p *Principal) *UserInfo {
	return &UserInfo{Sub: p.User.ID, Email: p.User.Email, EmailVerified: p.User.EmailConfirmed}
}
