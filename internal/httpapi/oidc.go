package httpapi

import (
	"context"
	"net/http"

	"github.com/latchauth/latch/internal/auth"
)

// The OpenID Provider's JSON endpoints: the authorization code grant at
// /oauth/token and /oauth/userinfo. The browser side (/oauth/authorize,
// /login, /oauth/logout) is in internal/pages.

// codeTokenBody is the token answer of the authorization code grant:
// RFC 6749 §5.1 plus OIDC Core §3.1.3.3's id_token. refresh_token is
// absent when the client does not list the refresh_token grant.
type codeTokenBody struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// codeGrant answers grant_type=authorization_code (RFC 6749 §4.1.3 with
// RFC 7636's code_verifier) for a registered client: a confidential one
// authenticated, a public one by client_id.
func (s *server) codeGrant(ctx context.Context, w http.ResponseWriter, form map[string]string, caller oauthClient) error {
	if caller.registered == nil {
		return oauthErr(http.StatusBadRequest, "unauthorized_client",
			"the authorization code grant needs a registered client (send its client_id)")
	}
	for _, name := range []string{"code", "redirect_uri"} {
		if form[name] == "" {
			return oauthErr(http.StatusBadRequest, "invalid_request", "missing parameter "+name)
		}
	}
	t, err := s.svc.ExchangeCode(ctx, caller.registered, form["code"], form["redirect_uri"], form["code_verifier"])
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, codeTokenBody{
		AccessToken:  t.AccessToken,
		TokenType:    "Bearer",
		ExpiresIn:    t.ExpiresIn,
		RefreshToken: t.RefreshToken,
		IDToken:      t.IDToken,
		Scope:        t.Scope,
	})
	return nil
}

// handleUserInfo is the UserInfo endpoint (OIDC Core §5.3), GET or POST
// with a Bearer access token.
func (s *server) handleUserInfo() http.Handler {
	return s.authed(func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		w.Header().Set("Cache-Control", "no-store")
		encode(w, http.StatusOK, s.svc.UserInfoOf(p))
		return nil
	})
}
