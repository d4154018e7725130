package auth_test

import (
	"context"
	"crypto/subtle"
	"testing"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/limit"
	"github.com/latchauth/latch/internal/mail"
	"github.com/latchauth/latch/internal/password"
)

// plainHasher stands in for argon2id in BenchmarkLoginHashExcluded, so that
// the benchmark measures everything around the hash: lookups, the session
// and refresh token writes, and signing.
type plainHasher struct{}

func (plainHasher) Hash(_ context.Context, pw string) (string, error) { return "plain:" + pw, nil }
func (plainHasher) Verify(_ context.Context, pw, enc string) (bool, bool, error) {
	return subtle.ConstantTimeCompare([]byte("plain:"+pw), []byte(enc)) == 1, false, nil
}
func (plainHasher) VerifyDummy(context.Context, string) error { return nil }

func benchService(b *testing.B, h auth.Hasher) (*auth.Service, *auth.TokenPair) {
	b.Helper()
	ctx := context.Background()
	db := authtest.OpenStore(b)
	svc, err := auth.New(ctx, auth.Config{Secret: testSecret, RefreshGrace: -1}, auth.Deps{
		Store: db, Limiter: limit.New(), Composer: mail.NewComposer(), Hasher: h, Policy: password.Policy{},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(svc.Close)
	// Confirmation is off in this config: signup logs in.
	res, err := svc.Signup(auth.ContextWithClient(ctx, client), "bench@example.com", pw)
	if err != nil {
		b.Fatal(err)
	}
	return svc, res.Tokens
}

func benchLogin(b *testing.B, h auth.Hasher) {
	svc, _ := benchService(b, h)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := svc.Login(auth.ContextWithClient(ctx, client), "bench@example.com", pw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoginHashIncluded is a whole login with argon2id (OWASP
// parameters): what one core can serve.
func BenchmarkLoginHashIncluded(b *testing.B) { benchLogin(b, password.NewHasher(password.Config{})) }

// BenchmarkLoginHashExcluded is a login without the password hash cost.
func BenchmarkLoginHashExcluded(b *testing.B) { benchLogin(b, plainHasher{}) }

// BenchmarkRefresh rotates a refresh token (lookup, conditional update,
// insert, touch, sign).
func BenchmarkRefresh(b *testing.B) {
	svc, p := benchService(b, plainHasher{})
	ctx := context.Background()
	rt := p.RefreshToken
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		next, err := svc.Refresh(auth.ContextWithClient(ctx, client), rt)
		if err != nil {
			b.Fatal(err)
		}
		rt = next.RefreshToken
	}
}

// BenchmarkAuthenticate verifies a bearer token as latch's protected routes
// do: signature, claims, then the session and user reads.
func BenchmarkAuthenticate(b *testing.B) {
	svc, p := benchService(b, plainHasher{})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := svc.Authenticate(ctx, p.AccessToken); err != nil {
			b.Fatal(err)
		}
	}
}
