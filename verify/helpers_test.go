package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/token"
)

// The tests sign with latch's own internal/token, so that what latch issues
// is what this package accepts. Only the tests import it; the package does
// not (TestImportsNothingFromServer).

// b64 is the encoding of JWS segments.
var b64 = base64.RawURLEncoding

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	testIssuer   = "https://auth.example.com"
	testAudience = "https://api.example.com"
)

type fixture struct{ ed, ec, rs, ed2 *token.Key }

var fixtures = sync.OnceValue(func() *fixture {
	f := &fixture{}
	for _, p := range []struct {
		dst **token.Key
		alg string
	}{{&f.ed, token.EdDSA}, {&f.ec, token.ES256}, {&f.rs, token.RS256}, {&f.ed2, token.EdDSA}} {
		k, err := token.GenerateKey(p.alg)
		if err != nil {
			panic(err)
		}
		*p.dst = k
	}
	return f
})

func validClaims() *token.Claims {
	return &token.Claims{
		Issuer:        testIssuer,
		Subject:       "user-1",
		Audience:      []string{testAudience},
		ExpiresAt:     testNow.Add(15 * time.Minute),
		IssuedAt:      testNow,
		NotBefore:     testNow,
		ID:            "jti-1",
		SessionID:     "sess-1",
		Roles:         []string{"user"},
		Email:         "a@example.com",
		EmailVerified: true,
	}
}

// signed signs validClaims with k after edit.
func signed(t testing.TB, k *token.Key, edit func(*token.Claims)) string {
	t.Helper()
	c := validClaims()
	if edit != nil {
		edit(c)
	}
	tok, err := token.Sign(k, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func validPayload() map[string]any {
	return map[string]any{
		"iss": testIssuer, "sub": "user-1", "aud": testAudience,
		"exp": testNow.Add(15 * time.Minute).Unix(), "iat": testNow.Unix(), "nbf": testNow.Unix(),
		"jti": "jti-1", "sid": "sess-1", "roles": []string{"user"},
		"email": "a@example.com", "email_verified": true,
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// forge builds a compact JWS from raw header and payload JSON, signed with
// k's private key under k.Alg whatever the header says.
func forge(t testing.TB, k *token.Key, hdr, payload string) string {
	t.Helper()
	input := b64.EncodeToString([]byte(hdr)) + "." + b64.EncodeToString([]byte(payload))
	return input + "." + b64.EncodeToString(signRaw(t, k, []byte(input), false))
}

// signRaw signs input as JWS does for k.Alg; highS makes an ES256
// signature with the high S its low-S twin would have.
func signRaw(t testing.TB, k *token.Key, input []byte, highS bool) []byte {
	t.Helper()
	switch k.Alg {
	case token.EdDSA:
		return ed25519.Sign(k.Private.(ed25519.PrivateKey), input)
	case token.ES256:
		h := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, k.Private.(*ecdsa.PrivateKey), h[:])
		if err != nil {
			t.Fatal(err)
		}
		n := k.Private.(*ecdsa.PrivateKey).Curve.Params().N
		half := new(big.Int).Rsh(n, 1)
		if (s.Cmp(half) > 0) != highS {
			s.Sub(n, s)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	case token.RS256:
		h := sha256.Sum256(input)
		sig, err := rsa.SignPKCS1v15(rand.Reader, k.Private.(*rsa.PrivateKey), crypto.SHA256, h[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	t.Fatalf("unknown alg %s", k.Alg)
	return nil
}

// latchStub is an httptest server playing latch's JWKS and revocation
// feed.
type latchStub struct {
	*httptest.Server
	mu           sync.Mutex
	keys         []*token.Key
	cacheControl string
	down         bool
	jwksHits     atomic.Int64
	fetched      chan struct{} // receives after each JWKS answer, if not full

	// Feed: answers are queued by push; a poll with a cursor waits for one.
	feed     chan string
	feedHits atomic.Int64
	feedAuth string // Authorization header of the last feed poll
}

func newLatchStub(t *testing.T, keys ...*token.Key) *latchStub {
	t.Helper()
	s := &latchStub{keys: keys, fetched: make(chan struct{}, 16), feed: make(chan string, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		s.jwksHits.Add(1)
		s.mu.Lock()
		down, keys, cc := s.down, s.keys, s.cacheControl
		s.mu.Unlock()
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		b, err := token.JWKS(keys)
		if err != nil {
			t.Error(err)
		}
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
		select {
		case s.fetched <- struct{}{}:
		default:
		}
	})
	mux.HandleFunc("GET /v1/revocations", func(w http.ResponseWriter, r *http.Request) {
		s.feedHits.Add(1)
		s.mu.Lock()
		s.feedAuth = r.Header.Get("Authorization")
		down := s.down
		s.mu.Unlock()
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if r.URL.Query().Get("since") == "" {
			_, _ = w.Write([]byte(`{"sessions":[],"users":[],"cursor":"c0","poll_after_ms":0}`))
			return
		}
		select {
		case body := <-s.feed:
			_, _ = w.Write([]byte(body))
		case <-r.Context().Done():
		}
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *latchStub) setKeys(keys ...*token.Key) {
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
}

func (s *latchStub) setDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

// clock is a settable clock for Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newVerifier returns a Verifier of the stub at a settable clock.
func newVerifier(t *testing.T, stub *latchStub, edit func(*Config)) (*Verifier, *clock) {
	t.Helper()
	clk := &clock{now: testNow}
	cfg := Config{
		Issuer:   testIssuer,
		Audience: testAudience,
		JWKSURL:  stub.URL + "/.well-known/jwks.json",
		Now:      clk.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v, clk
}
