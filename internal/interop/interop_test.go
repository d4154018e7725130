// Package interop_test runs OAuth 2.0 and OpenID Connect client libraries
// that nobody here wrote against a running latch (real HTTP, the real
// service on SQLite): golang.org/x/oauth2 for the password and refresh
// token grants, github.com/coreos/go-oidc/v3 for discovery and access token
// verification with EdDSA, ES256 and RS256 keys.
package interop_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/httpapi"
	"github.com/latchauth/latch/internal/limit"
	"github.com/latchauth/latch/internal/mail"
	"github.com/latchauth/latch/internal/password"
)

const (
	email        = "ada@example.com"
	userPassword = "correct horse battery staple"
	clientID     = "backend"
	clientSecret = "a client secret: with/odd+chars"
	adminKey     = "interop-admin-key"
)

// latch is a running latch.
type latch struct {
	URL string
	svc *auth.Service
}

// startLatch runs latch on a free port with its public URL (the issuer)
// set to where it listens, keys of alg and the given access token lifetime.
func startLatch(t *testing.T, alg string, accessTTL time.Duration) *latch {
	t.Helper()
	ctx := context.Background()
	var handler http.Handler
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.ServeHTTP(w, r)
	}))
	base := "http://" + srv.Listener.Addr().String()

	db := authtest.OpenStore(t)
	svc, err := auth.New(ctx, auth.Config{
		PublicURL: base,
		AccessTTL: accessTTL,
		KeyAlg:    alg,
		Secret:    []byte(strings.Repeat("s", 32)),
	}, auth.Deps{
		Store:    db,
		Limiter:  limit.New(),
		Composer: mail.NewComposer(),
		Hasher:   password.NewHasher(password.Config{}),
		Policy:   password.Policy{},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	clients, err := httpapi.ParseOAuthClients(clientID + ":" + clientSecret)
	if err != nil {
		t.Fatal(err)
	}
	handler = httpapi.NewServer(httpapi.Config{Service: svc, AdminKey: adminKey, OAuthClients: clients})
	srv.Start()
	t.Cleanup(srv.Close)

	// One user, through the JSON API (confirmation is off).
	resp, err := http.Post(base+"/v1/signup", "application/json",
		strings.NewReader(`{"email":"`+email+`","password":"`+userPassword+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("signup = %d, want 201", resp.StatusCode)
	}
	return &latch{URL: base, svc: svc}
}

// wantRetrieveError checks that err is an OAuth error answer.
func wantRetrieveError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("error %v, want an *oauth2.RetrieveError", err)
	}
	if re.Response.StatusCode != status || re.ErrorCode != code {
		t.Fatalf("got %d %q (%s), want %d %q", re.Response.StatusCode, re.ErrorCode, re.ErrorDescription, status, code)
	}
}

// TestOAuth2Clients gets tokens with golang.org/x/oauth2's password grant
// as a public and as a confidential client, in both client authentication
// styles, and lets its TokenSource refresh them: with a 2 s access token
// lifetime (under the library's 10 s early-expiry margin) every Token()
// call refreshes, so the refresh grant and rotation are exercised without
// waiting.
func TestOAuth2Clients(t *testing.T) {
	l := startLatch(t, "EdDSA", 2*time.Second)
	endpoint := oauth2.Endpoint{TokenURL: l.URL + "/oauth/token"}
	configs := map[string]*oauth2.Config{
		"public client, auto-detected style": {Endpoint: endpoint},
		"public client with an id in the body": {ClientID: "my-cli",
			Endpoint: oauth2.Endpoint{TokenURL: endpoint.TokenURL, AuthStyle: oauth2.AuthStyleInParams}},
		"confidential client, HTTP Basic": {ClientID: clientID, ClientSecret: clientSecret,
			Endpoint: oauth2.Endpoint{TokenURL: endpoint.TokenURL, AuthStyle: oauth2.AuthStyleInHeader}},
		"confidential client, client_secret_post": {ClientID: clientID, ClientSecret: clientSecret,
			Endpoint: oauth2.Endpoint{TokenURL: endpoint.TokenURL, AuthStyle: oauth2.AuthStyleInParams}},
	}
	for name, conf := range configs {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			tok, err := conf.PasswordCredentialsToken(ctx, email, userPassword)
			if err != nil {
				t.Fatal(err)
			}
			if tok.AccessToken == "" || tok.RefreshToken == "" || tok.Type() != "Bearer" || tok.ExpiresIn != 2 {
				t.Fatalf("token = %+v, want access and refresh tokens, Bearer, expires_in 2", tok)
			}
			if until := time.Until(tok.Expiry); until <= 0 || until > 3*time.Second {
				t.Errorf("expiry in %v, want about 2s", until)
			}

			ts := conf.TokenSource(ctx, tok)
			seen := map[string]bool{tok.RefreshToken: true}
			last := tok
			for i := range 3 {
				next, err := ts.Token()
				if err != nil {
					t.Fatalf("refresh %d: %v", i, err)
				}
				if next.AccessToken == last.AccessToken || seen[next.RefreshToken] {
					t.Fatalf("refresh %d did not rotate the tokens", i)
				}
				seen[next.RefreshToken] = true
				last = next
			}
			// The client made by the library authenticates latch's own API.
			resp, err := oauth2.NewClient(ctx, ts).Get(l.URL + "/v1/me")
			if err != nil {
				t.Fatal(err)
			}
			var me struct{ Email string }
			_ = json.NewDecoder(resp.Body).Decode(&me)
			resp.Body.Close()
			if resp.StatusCode != 200 || me.Email != email {
				t.Fatalf("GET /v1/me through oauth2.NewClient = %d %+v", resp.StatusCode, me)
			}

			// Revoking the session's refresh token stops the source.
			current, err := ts.Token()
			if err != nil {
				t.Fatal(err)
			}
			form := url.Values{"token": {current.RefreshToken}}
			if conf.ClientSecret == "" && conf.ClientID != "" {
				form.Set("client_id", conf.ClientID)
			}
			req, _ := http.NewRequest("POST", l.URL+"/oauth/revoke", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if conf.ClientSecret != "" {
				req.SetBasicAuth(url.QueryEscape(conf.ClientID), url.QueryEscape(conf.ClientSecret))
			}
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("revoke = %d", resp.StatusCode)
			}
			_, err = ts.Token()
			wantRetrieveError(t, err, 400, "invalid_grant")
		})
	}

	ctx := context.Background()
	t.Run("errors", func(t *testing.T) {
		_, err := configs["public client, auto-detected style"].PasswordCredentialsToken(ctx, email, "wrong password!")
		wantRetrieveError(t, err, 400, "invalid_grant")
		bad := &oauth2.Config{ClientID: clientID, ClientSecret: "wrong",
			Endpoint: oauth2.Endpoint{TokenURL: endpoint.TokenURL, AuthStyle: oauth2.AuthStyleInHeader}}
		_, err = bad.PasswordCredentialsToken(ctx, email, userPassword)
		wantRetrieveError(t, err, 401, "invalid_client")
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response.Header.Get("WWW-Authenticate") == "" {
			t.Error("invalid_client with Basic credentials has no WWW-Authenticate")
		}
	})

	// The library's own early-expiry margin set to a millisecond: the token
	// is reused while it is valid and refreshed once it expired (one wait
	// of the 2 s lifetime).
	t.Run("reuse until expiry", func(t *testing.T) {
		conf := configs["public client, auto-detected style"]
		tok, err := conf.PasswordCredentialsToken(ctx, email, userPassword)
		if err != nil {
			t.Fatal(err)
		}
		ts := oauth2.ReuseTokenSourceWithExpiry(tok, conf.TokenSource(ctx, tok), time.Millisecond)
		same, err := ts.Token()
		if err != nil || same.AccessToken != tok.AccessToken {
			t.Fatalf("a valid token was not reused: %v", err)
		}
		time.Sleep(time.Until(tok.Expiry) + 10*time.Millisecond)
		fresh, err := ts.Token()
		if err != nil || fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken {
			t.Fatalf("an expired token was not refreshed: %v", err)
		}
	})
}

// jwsHeader decodes a compact JWS's header.
func jwsHeader(t *testing.T, tok string) (alg, kid, typ string) {
	t.Helper()
	seg, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Alg, Kid, Typ string }
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h.Alg, h.Kid, h.Typ
}

// TestOIDCVerification discovers latch with go-oidc and verifies its access
// tokens (go-oidc verifies them as ID tokens: signature with the JWKS, iss,
// aud, exp; it ignores typ "at+jwt"), for every key algorithm, across a key
// rotation.
func TestOIDCVerification(t *testing.T) {
	for _, alg := range []string{"EdDSA", "ES256", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			l := startLatch(t, alg, 15*time.Minute)
			ctx := context.Background()
			provider, err := oidc.NewProvider(ctx, l.URL)
			if err != nil {
				t.Fatal(err)
			}
			var meta struct {
				Issuer        string   `json:"issuer"`
				JWKSURI       string   `json:"jwks_uri"`
				Revocation    string   `json:"revocation_endpoint"`
				Introspection string   `json:"introspection_endpoint"`
				Grants        []string `json:"grant_types_supported"`
				Algs          []string `json:"id_token_signing_alg_values_supported"`
			}
			if err := provider.Claims(&meta); err != nil {
				t.Fatal(err)
			}
			if meta.Issuer != l.URL || meta.JWKSURI != l.URL+"/.well-known/jwks.json" ||
				meta.Revocation != l.URL+"/oauth/revoke" || meta.Introspection != l.URL+"/oauth/introspect" ||
				strings.Join(meta.Grants, " ") != "authorization_code refresh_token password urn:latch:params:oauth:grant-type:mfa" || strings.Join(meta.Algs, " ") != alg {
				t.Errorf("discovery = %+v", meta)
			}
			if got := provider.Endpoint().TokenURL; got != l.URL+"/oauth/token" {
				t.Errorf("token endpoint = %q", got)
			}

			conf := &oauth2.Config{Endpoint: provider.Endpoint()}
			tok, err := conf.PasswordCredentialsToken(ctx, email, userPassword)
			if err != nil {
				t.Fatal(err)
			}
			gotAlg, kid1, typ := jwsHeader(t, tok.AccessToken)
			if gotAlg != alg || typ != "at+jwt" {
				t.Errorf("token header alg %q typ %q, want %q at+jwt", gotAlg, typ, alg)
			}

			// The audience is LATCH_AUDIENCE, by default the public URL.
			pinned := provider.Verifier(&oidc.Config{ClientID: l.URL, SupportedSigningAlgs: []string{alg}})
			fromDiscovery := provider.Verifier(&oidc.Config{ClientID: l.URL})
			for name, v := range map[string]*oidc.IDTokenVerifier{"pinned": pinned, "from discovery": fromDiscovery} {
				idt, err := v.Verify(ctx, tok.AccessToken)
				if err != nil {
					t.Fatalf("%s verifier: %v", name, err)
				}
				var c struct {
					Email string   `json:"email"`
					Sid   string   `json:"sid"`
					Roles []string `json:"roles"`
				}
				if err := idt.Claims(&c); err != nil {
					t.Fatal(err)
				}
				if idt.Issuer != l.URL || idt.Subject == "" || c.Email != email || c.Sid == "" || len(c.Roles) == 0 {
					t.Errorf("%s verifier: iss %q sub %q claims %+v", name, idt.Issuer, idt.Subject, c)
				}
			}
			// Refusals: another audience, another algorithm, a tampered
			// token.
			if _, err := provider.Verifier(&oidc.Config{ClientID: "https://other.example"}).Verify(ctx, tok.AccessToken); err == nil {
				t.Error("a token for another audience verified")
			}
			other := "RS256"
			if alg == "RS256" {
				other = "ES256"
			}
			if _, err := provider.Verifier(&oidc.Config{ClientID: l.URL, SupportedSigningAlgs: []string{other}}).Verify(ctx, tok.AccessToken); err == nil {
				t.Errorf("a %s token verified with only %s allowed", alg, other)
			}
			parts := strings.Split(tok.AccessToken, ".")
			parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"` + l.URL + `","aud":"` + l.URL + `","sub":"x","exp":9999999999}`))
			if _, err := pinned.Verify(ctx, strings.Join(parts, ".")); err == nil {
				t.Error("a tampered token verified")
			}

			// After a rotation: the new key's tokens verify (the verifier
			// refetches the JWKS for an unknown kid) and so do the old
			// key's until they expire.
			rot, err := l.svc.RotateKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tok2, err := conf.PasswordCredentialsToken(ctx, email, userPassword)
			if err != nil {
				t.Fatal(err)
			}
			if _, kid2, _ := jwsHeader(t, tok2.AccessToken); kid2 != rot.Current || kid2 == kid1 {
				t.Fatalf("after the rotation a token has kid %s, want %s", kid2, rot.Current)
			}
			for name, raw := range map[string]string{"new key": tok2.AccessToken, "retired key": tok.AccessToken} {
				if _, err := pinned.Verify(ctx, raw); err != nil {
					t.Errorf("after a rotation, a token of the %s: %v", name, err)
				}
			}
		})
	}
}

// TestIntrospectionWithClientCredentials introspects an oauth2 token as
// the confidential client, the way a resource server would.
func TestIntrospectionWithClientCredentials(t *testing.T) {
	l := startLatch(t, "EdDSA", 15*time.Minute)
	ctx := context.Background()
	conf := &oauth2.Config{Endpoint: oauth2.Endpoint{TokenURL: l.URL + "/oauth/token"}}
	tok, err := conf.PasswordCredentialsToken(ctx, email, userPassword)
	if err != nil {
		t.Fatal(err)
	}
	introspect := func(raw string, basic bool) map[string]any {
		t.Helper()
		req, _ := http.NewRequest("POST", l.URL+"/oauth/introspect", strings.NewReader(url.Values{"token": {raw}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		if !basic {
			if resp.StatusCode != 401 {
				t.Errorf("introspection without credentials = %d, want 401", resp.StatusCode)
			}
			return nil
		}
		if resp.StatusCode != 200 {
			t.Fatalf("introspection = %d %v", resp.StatusCode, m)
		}
		return m
	}
	introspect(tok.AccessToken, false)
	if m := introspect(tok.AccessToken, true); m["active"] != true || m["username"] != email || m["token_type"] != "Bearer" {
		t.Errorf("access token introspection = %v", m)
	}
	if m := introspect(tok.RefreshToken, true); m["active"] != true || m["token_type"] != "refresh_token" {
		t.Errorf("refresh token introspection = %v", m)
	}
}
