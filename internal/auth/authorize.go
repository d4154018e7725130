package auth

import (
	"net/url"
	"slices"
	"strings"
)

// The authorization request (RFC 6749 §4.1.1, RFC 7636, OIDC Core
// §3.1.2.1) as /oauth/authorize receives it in its query string.

// Scopes latch grants; others are ignored (OIDC Core §3.1.2.1).
const (
	ScopeOpenID  = "openid"
	ScopeEmail   = "email"
	ScopeOffline = "offline_access"
)

var knownScopes = []string{ScopeOpenID, ScopeEmail, ScopeOffline}

// Limits of authorization request parameters.
const (
	maxAuthorizeQuery = 8 << 10
	maxStateLen       = 1024
	maxNonceLen       = 512
)

// AuthorizeRequest is an authorization request's parameters.
type AuthorizeRequest struct {
	ResponseType        string
	ClientID            string
	RedirectURI         string
	State               string
	Nonce               string
	Scope               string
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              string
	// Repeated names a parameter given more than once (other than
	// client_id and redirect_uri, which make the request unusable).
	Repeated string
}

// AuthorizeError is a refusal of an authorization request that goes back
// to the client's redirect URI (RFC 6749 §4.1.2.1).
type AuthorizeError struct {
	Code        string // invalid_request, unsupported_response_type, login_required...
	Description string
}

func (e *AuthorizeError) Error() string { return e.Code + ": " + e.Description }

// ParseAuthorizeQuery reads an authorization request from a raw query
// string. It fails (and the request must be answered with an error page,
// never a redirect) only when client_id or redirect_uri cannot be read
// with certainty: a malformed or oversized query, either one repeated.
// Every other problem is left to Service.CheckAuthorize.
func ParseAuthorizeQuery(raw string) (*AuthorizeRequest, error) {
	if len(raw) > maxAuthorizeQuery {
		return nil, Errorf(CodeInvalidRequest, "the request is too long")
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, Errorf(CodeInvalidRequest, "the request's parameters cannot be read")
	}
	for _, name := range []string{"client_id", "redirect_uri"} {
		if len(q[name]) > 1 {
			return nil, Errorf(CodeInvalidRequest, "%s is given more than once", name)
		}
	}
	r := &AuthorizeRequest{
		ResponseType:        q.Get("response_type"),
		ClientID:            q.Get("client_id"),
		RedirectURI:         q.Get("redirect_uri"),
		State:               q.Get("state"),
		Nonce:               q.Get("nonce"),
		Scope:               q.Get("scope"),
		CodeChallenge:       q.Get("code_challenge"),
		CodeChallengeMethod: q.Get("code_challenge_method"),
		Prompt:              q.Get("prompt"),
	}
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if len(q[k]) > 1 {
			r.Repeated = k
			break
		}
	}
	if r.ClientID == "" {
		return nil, Errorf(CodeInvalidRequest, "client_id is missing")
	}
	if r.RedirectURI == "" {
		return nil, Errorf(CodeInvalidRequest, "redirect_uri is missing")
	}
	return r, nil
}

// Query is the request as a query string again (for the login form to
// carry it through the login).
func (r *AuthorizeRequest) Query() string {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("response_type", r.ResponseType)
	set("client_id", r.ClientID)
	set("redirect_uri", r.RedirectURI)
	set("state", r.State)
	set("nonce", r.Nonce)
	set("scope", r.Scope)
	set("code_challenge", r.CodeChallenge)
	set("code_challenge_method", r.CodeChallengeMethod)
	set("prompt", r.Prompt)
	return q.Encode()
}

// prompts are the request's prompt values.
func (r *AuthorizeRequest) prompts() []string { return strings.Fields(r.Prompt) }

// PromptLogin reports whether the request asks for a fresh login.
func (r *AuthorizeRequest) PromptLogin() bool { return slices.Contains(r.prompts(), "login") }

// PromptNone reports whether the request forbids any page.
func (r *AuthorizeRequest) PromptNone() bool { return slices.Contains(r.prompts(), "none") }

// grantedScope is the request's scope limited to what latch knows, in a
// fixed order.
func (r *AuthorizeRequest) grantedScope() string {
	asked := strings.Fields(r.Scope)
	var out []string
	for _, s := range knownScopes {
		if slices.Contains(asked, s) {
			out = append(out, s)
		}
	}
	return strings.Join(out, " ")
}

// pkceChar reports whether c may appear in a code verifier or challenge
// (RFC 7636 §4.1: unreserved characters).
func pkceChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// validPKCE reports whether s is 43 to 128 unreserved characters.
func validPKCE(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !pkceChar(s[i]) {
			return false
		}
	}
	return true
}

// check finds what is wrong with r for client c, as a redirectable error.
func (r *AuthorizeRequest) check(c *Client) *AuthorizeError {
	bad := func(code, desc string) *AuthorizeError { return &AuthorizeError{Code: code, Description: desc} }
	if r.Repeated != "" {
		return bad("invalid_request", r.Repeated+" is given more than once")
	}
	if r.ResponseType == "" {
		return bad("invalid_request", "response_type is missing")
	}
	if r.ResponseType != "code" {
		return bad("unsupported_response_type", "only response_type=code is supported")
	}
	if len(r.State) > maxStateLen {
		return bad("invalid_request", "state is too long")
	}
	if len(r.Nonce) > maxNonceLen {
		return bad("invalid_request", "nonce is too long")
	}
	for _, p := range r.prompts() {
		switch p {
		case "login", "none", "consent", "select_account":
		default:
			return bad("invalid_request", "prompt must be login, none, consent or select_account")
		}
	}
	if r.PromptNone() && len(r.prompts()) > 1 {
		return bad("invalid_request", "prompt=none cannot be combined with other values")
	}
	switch {
	case r.CodeChallenge == "" && r.CodeChallengeMethod != "":
		return bad("invalid_request", "code_challenge_method without code_challenge")
	case r.CodeChallenge == "" && !c.Confidential():
		return bad("invalid_request", "a public client must send code_challenge with code_challenge_method=S256 (PKCE)")
	case r.CodeChallenge != "" && r.CodeChallengeMethod != "S256":
		return bad("invalid_request", "code_challenge_method must be S256")
	case r.CodeChallenge != "" && !validPKCE(r.CodeChallenge):
		return bad("invalid_request", "code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")
	}
	if !slices.Contains(strings.Fields(r.Scope), ScopeOpenID) && r.Nonce != "" {
		return bad("invalid_request", "nonce needs scope openid")
	}
	return nil
}
