package verify

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/token"
)

// TestJWKSSmallOrderEd25519Key: a JWKS (tampered with, or served by an
// impostor) carrying an Ed25519 key of small order would let anyone sign
// tokens: with the identity as key, R = B and S = 1 verify for every
// message. The key is skipped and the forged token refused.
func TestJWKSSmallOrderEd25519Key(t *testing.T) {
	f := fixtures()
	identity := make([]byte, 32)
	identity[0] = 1
	nonCanonicalIdentity, _ := hex.DecodeString("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")
	order8, _ := hex.DecodeString("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
	good, err := f.ed.PublicJWK()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		key  []byte
	}{{"identity", identity}, {"identity, y = p+1, x = -0", nonCanonicalIdentity}, {"order 8", order8}} {
		t.Run(tt.name, func(t *testing.T) {
			evil := `{"kty":"OKP","crv":"Ed25519","x":"` + b64.EncodeToString(tt.key) + `","kid":"evil","alg":"EdDSA","use":"sig"}`
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"keys":[%s,%s]}`, good, evil)
			}))
			t.Cleanup(srv.Close)
			v, err := New(Config{Issuer: testIssuer, Audience: testAudience, JWKSURL: srv.URL, Now: func() time.Time { return testNow }})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { v.Close() })
			if _, err := v.Verify(context.Background(), signed(t, f.ed, nil)); err != nil {
				t.Fatalf("token of the good key: %v", err)
			}
			// R = B, S = 1: valid for the identity whatever the message,
			// and for a key of order 8 for one message in 8.
			basepoint, _ := hex.DecodeString("5866666666666666666666666666666666666666666666666666666666666666")
			sig := append(basepoint, make([]byte, 32)...)
			sig[32] = 1
			forged := 0
			for i := range 16 {
				p := validPayload()
				p["sub"], p["roles"] = "admin", []string{"admin"}
				p["jti"] = fmt.Sprintf("forged-%d", i)
				input := b64.EncodeToString([]byte(`{"alg":"EdDSA","kid":"evil","typ":"at+jwt"}`)) + "." + b64.EncodeToString([]byte(mustJSON(t, p)))
				if !ed25519.Verify(tt.key, []byte(input), sig) {
					continue
				}
				forged++
				c, err := v.Verify(context.Background(), input+"."+b64.EncodeToString(sig))
				if c != nil || !errors.Is(err, ErrInvalid) {
					t.Fatalf("forged token under the small-order key: %+v, %v; want ErrInvalid", c, err)
				}
			}
			if forged == 0 {
				t.Fatal("no forgery verified under crypto/ed25519; the test no longer shows the attack")
			}
		})
	}
}

// TestUnknownKidsJoinOneFetch: a burst of tokens naming kids the cache
// does not hold makes one JWKS fetch, which every caller arriving while it
// runs joins: the tokens of a newly published key all verify, and tokens
// of unknown kids all fail, whatever the interleaving.
func TestUnknownKidsJoinOneFetch(t *testing.T) {
	f := fixtures()
	var hits atomic.Int64
	release := make(chan struct{})
	var mu sync.Mutex
	keys := []*token.Key{f.ed}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 2 {
			<-release // hold the second fetch while the burst arrives
		}
		mu.Lock()
		b, err := token.JWKS(keys)
		mu.Unlock()
		if err != nil {
			t.Error(err)
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	clk := &clock{now: testNow}
	v, err := New(Config{Issuer: testIssuer, Audience: testAudience, JWKSURL: srv.URL, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	ctx := context.Background()
	if err := v.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	keys = []*token.Key{f.ed, f.ed2} // latch published a new key
	mu.Unlock()
	clk.Add(time.Minute) // past MinRefreshInterval

	const n = 32
	toks := make([]string, n)
	for i := range toks {
		toks[i] = signed(t, f.ed2, nil)
		if i%2 == 1 {
			kid := fmt.Sprintf("unknown-%d", i)
			toks[i] = forge(t, f.ed, mustJSON(t, map[string]any{"alg": "EdDSA", "kid": kid, "typ": "at+jwt"}), mustJSON(t, validPayload()))
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = v.Verify(ctx, toks[i]) })
	}
	time.Sleep(50 * time.Millisecond) // let the burst pile up on the held fetch (not asserted on)
	close(release)
	wg.Wait()
	for i, err := range errs {
		if i%2 == 0 && err != nil {
			t.Errorf("token %d of the new key: %v", i, err)
		}
		if i%2 == 1 && !errors.Is(err, ErrInvalid) {
			t.Errorf("token %d of an unknown kid: %v, want ErrInvalid", i, err)
		}
	}
	if got := hits.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times (start-up included), want 2", got)
	}
}
