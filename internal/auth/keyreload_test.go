package auth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/svctest"
)

// keyLoadStore counts the signing key loads of a service once armed. The
// first armed load waits until a second one starts (the reloads overlap)
// or, when none does, for a moment, so that a burst piles up on it; it
// fails when fail is set.
type keyLoadStore struct {
	auth.Store
	armed   atomic.Bool
	fail    atomic.Bool
	loads   atomic.Int64
	overlap chan struct{}
	once    sync.Once
}

var errStoreDown = errors.New("store down")

func (s *keyLoadStore) SigningKeys(ctx context.Context) ([]*auth.SigningKey, error) {
	if s.armed.Load() {
		switch s.loads.Add(1) {
		case 1:
			select {
			case <-s.overlap:
			case <-time.After(200 * time.Millisecond): // only lets the burst arrive; nothing is asserted on it
			}
		default:
			s.once.Do(func() { close(s.overlap) })
		}
		if s.fail.Load() {
			return nil, errStoreDown
		}
	}
	return s.Store.SigningKeys(ctx)
}

// countedInstance starts another service on f's database whose signing
// key loads are counted.
func countedInstance(t *testing.T, f *keyFixture) (*auth.Service, *keyLoadStore) {
	t.Helper()
	ls := &keyLoadStore{overlap: make(chan struct{})}
	svc := authtest.New(t, auth.Config{PublicURL: "https://auth.example.com", Secret: testSecret},
		authtest.WithStore(authtest.Open(t, f.url)), authtest.WithClock(f.clock),
		authtest.WithDeps(func(d *auth.Deps) { ls.Store = d.Store; d.Store = ls })).Service
	return svc, ls
}

// unknownKidToken is a well-formed access token header naming kid; the
// rest is never looked at, since no key has that kid.
func unknownKidToken(kid string) string {
	b64 := base64.RawURLEncoding
	return b64.EncodeToString([]byte(`{"alg":"EdDSA","kid":"`+kid+`","typ":"at+jwt"}`)) + "." +
		b64.EncodeToString([]byte(`{"sub":"x"}`)) + "." + b64.EncodeToString(make([]byte, 64))
}

// TestUnknownKidBurstReloadsOnce: a burst of tokens naming kids the key
// ring does not hold reloads the keys from the store once; callers that
// arrive during the reload share it. Tokens of a key another instance
// created verify for every caller of the burst.
func TestUnknownKidBurstReloadsOnce(t *testing.T) {
	noConfirm := func(c *auth.Config) { c.RequireConfirmation = false }
	t.Run("SQLite", func(t *testing.T) { testUnknownKidBurstReloadsOnce(t, newKeyFixture(t, noConfirm)) })
	t.Run("PostgreSQL", func(t *testing.T) {
		testUnknownKidBurstReloadsOnce(t, newKeyFixtureOn(t, svctest.PostgresURL(t), noConfirm))
	})
}

func testUnknownKidBurstReloadsOnce(t *testing.T, f *keyFixture) {
	ctx := context.Background()
	svc, ls := countedInstance(t, f)
	if _, err := f.svc.Signup(auth.ContextWithClient(ctx, client), "burst@example.com", pw); err != nil {
		t.Fatal(err)
	}
	// Another instance rotates: svc has not loaded the new current key.
	if _, err := f.svc.RotateKeys(ctx); err != nil {
		t.Fatal(err)
	}
	newKeyTok := login(t, f.svc, "burst@example.com").AccessToken
	f.clock.Advance(2 * time.Second) // past the once-a-second reload limit
	ls.armed.Store(true)

	const n = 24
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		tok := newKeyTok
		if i%2 == 1 {
			tok = unknownKidToken(fmt.Sprintf("unknown-%d", i))
		}
		wg.Go(func() { _, errs[i] = svc.Authenticate(ctx, tok) })
	}
	wg.Wait()
	if got := ls.loads.Load(); got != 1 {
		t.Errorf("%d parallel tokens with unknown kids loaded the signing keys %d times, want 1", n, got)
	}
	for i, err := range errs {
		switch {
		case i%2 == 0 && err != nil:
			t.Errorf("token %d of the new key: %v", i, err)
		case i%2 == 1 && auth.ErrorCode(err) != auth.CodeInvalidBearer:
			t.Errorf("token %d of an unknown kid: %v, want %s", i, err, auth.CodeInvalidBearer)
		}
	}
}

// TestUnknownKidReloadFailureRateLimited: while the store fails, unknown
// kids still try a reload at most once a second.
func TestUnknownKidReloadFailureRateLimited(t *testing.T) {
	f := newKeyFixture(t, nil)
	ctx := context.Background()
	svc, ls := countedInstance(t, f)
	f.clock.Advance(2 * time.Second)
	ls.fail.Store(true)
	ls.armed.Store(true)
	for i := range 5 {
		if _, err := svc.Authenticate(ctx, unknownKidToken(fmt.Sprintf("unknown-%d", i))); auth.ErrorCode(err) != auth.CodeInvalidBearer {
			t.Fatalf("unknown kid with the store down: %v, want %s", err, auth.CodeInvalidBearer)
		}
	}
	if got := ls.loads.Load(); got != 1 {
		t.Errorf("5 unknown kids within a second with the store down: %d key loads, want 1", got)
	}
	f.clock.Advance(2 * time.Second)
	_, _ = svc.Authenticate(ctx, unknownKidToken("unknown-later"))
	if got := ls.loads.Load(); got != 2 {
		t.Errorf("after 2 more seconds: %d key loads, want 2", got)
	}
}
