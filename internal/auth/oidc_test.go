package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// codeFixture is a confirmed user signed in on the hosted page, a public
// client and an authorization request with PKCE.
type codeFixture struct {
	*fixture
	client   *auth.Client
	req      *auth.AuthorizeRequest
	in       *auth.BrowserSignIn
	verifier string
}

func newCodeFixture(t *testing.T) *codeFixture {
	t.Helper()
	f := newFixture(t, nil)
	ctx := auth.ContextWithClient(context.Background(), client)
	f.confirmed(t, "rp@example.com")
	c, _, err := f.svc.AdminCreateClient(ctx, auth.ActorCLI, auth.NewClient{Name: "SPA", Type: auth.ClientPublic,
		RedirectURIs: []string{"https://app.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	verifier := strings.Repeat("v", 50)
	sum := sha256.Sum256([]byte(verifier))
	req, err := auth.ParseAuthorizeQuery("response_type=code&client_id=" + c.ID +
		"&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&scope=openid&nonce=n&code_challenge_method=S256&code_challenge=" +
		base64.RawURLEncoding.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	if _, ae, err := f.svc.CheckAuthorize(ctx, req); err != nil || ae != nil {
		t.Fatalf("CheckAuthorize: %v %v", err, ae)
	}
	in, err := f.svc.BrowserLogin(ctx, "rp@example.com", pw)
	if err != nil {
		t.Fatal(err)
	}
	return &codeFixture{fixture: f, client: c, req: req, in: in, verifier: verifier}
}

func (cf *codeFixture) code(t *testing.T) string {
	t.Helper()
	code, err := cf.svc.IssueCode(context.Background(), cf.client, cf.req, cf.in.Session)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// TestExchangeCodeConcurrently: of many exchanges of one code exactly one
// gets tokens, and the others, as replays, end the session it started.
func TestExchangeCodeConcurrently(t *testing.T) {
	cf := newCodeFixture(t)
	code := cf.code(t)
	ctx := auth.ContextWithClient(context.Background(), client)
	const n = 8
	results := make([]*auth.CodeTokens, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = cf.svc.ExchangeCode(ctx, cf.client, code, cf.req.RedirectURI, cf.verifier)
		})
	}
	wg.Wait()
	var won *auth.CodeTokens
	for i, err := range errs {
		switch {
		case err == nil:
			if won != nil {
				t.Fatal("two exchanges of one code got tokens")
			}
			won = results[i]
		case auth.ErrorCode(err) != auth.CodeInvalidToken:
			t.Fatalf("exchange: %v", err)
		}
	}
	if won == nil || won.IDToken == "" {
		t.Fatalf("no exchange won: %v", errs)
	}
	// Every loser was a replay: the winner's session is over.
	_, err := cf.svc.Authenticate(ctx, won.AccessToken)
	wantCode(t, err, auth.CodeInvalidBearer)
	if _, err := cf.svc.Refresh(auth.ContextWithClient(ctx, auth.ClientInfo{OAuthClient: auth.OAuthClient{ID: cf.client.ID}}), won.RefreshToken); err == nil {
		t.Fatal("the refresh token of a replayed code still works")
	}
}

// TestExchangeCodeRules: a code expires after 60 s; another client, redirect
// URI or verifier is refused and leaves the code usable.
func TestExchangeCodeRules(t *testing.T) {
	cf := newCodeFixture(t)
	ctx := auth.ContextWithClient(context.Background(), client)
	code := cf.code(t)
	other, _, err := cf.svc.AdminCreateClient(ctx, auth.ActorCLI, auth.NewClient{Name: "Other", Type: auth.ClientPublic,
		RedirectURIs: []string{"https://app.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	for name, try := range map[string]func() error{
		"another client": func() error {
			_, err := cf.svc.ExchangeCode(ctx, other, code, cf.req.RedirectURI, cf.verifier)
			return err
		},
		"another redirect URI": func() error {
			_, err := cf.svc.ExchangeCode(ctx, cf.client, code, "https://app.example.com/cb2", cf.verifier)
			return err
		},
		"a wrong verifier": func() error {
			_, err := cf.svc.ExchangeCode(ctx, cf.client, code, cf.req.RedirectURI, cf.verifier+"x")
			return err
		},
		"no verifier": func() error { _, err := cf.svc.ExchangeCode(ctx, cf.client, code, cf.req.RedirectURI, ""); return err },
		"not a code": func() error {
			_, err := cf.svc.ExchangeCode(ctx, cf.client, "nope", cf.req.RedirectURI, cf.verifier)
			return err
		},
	} {
		if err := try(); auth.ErrorCode(err) != auth.CodeInvalidToken {
			t.Errorf("%s: %v, want invalid_token", name, err)
		}
	}
	if _, err := cf.svc.ExchangeCode(ctx, cf.client, code, cf.req.RedirectURI, cf.verifier); err != nil {
		t.Fatalf("the code after refused attempts: %v", err)
	}
	late := cf.code(t)
	cf.clock.Advance(auth.CodeTTL)
	_, err = cf.svc.ExchangeCode(ctx, cf.client, late, cf.req.RedirectURI, cf.verifier)
	wantCode(t, err, auth.CodeInvalidToken)
}

// TestBrowserSessionCutOff: logging out everywhere ends the browser
// session too (single sign-on stops), and so does its expiry.
func TestBrowserSessionCutOff(t *testing.T) {
	cf := newCodeFixture(t)
	ctx := auth.ContextWithClient(context.Background(), client)
	if b, _, err := cf.svc.BrowserSessionOf(ctx, cf.in.Cookie); err != nil || b == nil {
		t.Fatalf("fresh browser session: %v %v", b, err)
	}
	if b, _, _ := cf.svc.BrowserSessionOf(ctx, cf.in.Cookie+"x"); b != nil {
		t.Fatal("a wrong cookie found a session")
	}
	cf.clock.Advance(time.Second)
	p, err := cf.svc.Login(ctx, "rp@example.com", pw)
	if err != nil {
		t.Fatal(err)
	}
	prin, err := cf.svc.Authenticate(ctx, p.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := cf.svc.LogoutAll(ctx, prin); err != nil {
		t.Fatal(err)
	}
	if b, _, err := cf.svc.BrowserSessionOf(ctx, cf.in.Cookie); err != nil || b != nil {
		t.Fatalf("browser session after logout everywhere: %v %v", b, err)
	}
	// Ends at its end, too.
	in, err := cf.svc.BrowserLogin(ctx, "rp@example.com", pw)
	if err != nil {
		t.Fatal(err)
	}
	cf.clock.Advance(auth.Config{}.WithDefaults().SessionIdle)
	if b, _, err := cf.svc.BrowserSessionOf(ctx, in.Cookie); err != nil || b != nil {
		t.Fatalf("expired browser session: %v %v", b, err)
	}
}
