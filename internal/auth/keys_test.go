package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/authtest"
	"github.com/latchauth/latch/internal/svctest"
	"github.com/latchauth/latch/internal/token"
	"github.com/latchauth/latch/jws"
)

// keyFixture is a fixture whose database more instances may open.
type keyFixture struct {
	*fixture
	url string
}

// instance starts another service on f's database file (its own
// connection pool, as another latch process would have) and f's clock.
func (f *keyFixture) instance(t *testing.T, mod func(*auth.Config)) *auth.Service {
	t.Helper()
	cfg := auth.Config{PublicURL: "https://auth.example.com", Secret: testSecret}
	if mod != nil {
		mod(&cfg)
	}
	return authtest.New(t, cfg, authtest.WithStore(authtest.Open(t, f.url)), authtest.WithClock(f.clock)).Service
}

// newKeyFixture is newFixture on a SQLite file that more instances can
// open.
func newKeyFixture(t *testing.T, mod func(*auth.Config)) *keyFixture {
	t.Helper()
	return newKeyFixtureOn(t, "sqlite:"+filepath.Join(t.TempDir(), "t.db"), mod)
}

// newKeyFixtureOn is newKeyFixture on the database at dbURL.
func newKeyFixtureOn(t *testing.T, dbURL string, mod func(*auth.Config)) *keyFixture {
	t.Helper()
	f := &keyFixture{
		fixture: &fixture{clock: authtest.NewClock(authtest.DefaultStart())},
		url:     dbURL,
	}
	f.db = authtest.OpenMigrated(t, f.url)
	f.svc = f.instance(t, mod)
	return f
}

// keyStates returns kid -> state of every stored key, and the kids of the
// current and next keys.
func keyStates(t *testing.T, svc *auth.Service) (states map[string]string, current, next []string) {
	t.Helper()
	infos, err := svc.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	states = make(map[string]string)
	for _, k := range infos {
		states[k.KID] = k.State
		switch k.State {
		case auth.KeyCurrent:
			current = append(current, k.KID)
		case auth.KeyNext:
			next = append(next, k.KID)
		}
	}
	return states, current, next
}

// jwksKeys parses the service's JWKS.
func jwksKeys(t *testing.T, svc *auth.Service) map[string]*token.Key {
	t.Helper()
	b := svc.JWKS()
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatalf("JWKS %s: %v", b, err)
	}
	out := make(map[string]*token.Key)
	for _, raw := range set.Keys {
		k, err := jws.ParseJWK(raw, 0)
		if err != nil {
			t.Fatalf("JWK %s: %v", raw, err)
		}
		out[k.KID] = &token.Key{KID: k.KID, Alg: k.Alg, Public: k.Public}
	}
	return out
}

// header decodes a JWS header.
func header(t *testing.T, jws string) (alg, kid string) {
	t.Helper()
	seg, _, _ := strings.Cut(jws, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Alg, Kid string }
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h.Alg, h.Kid
}

// verifiesWithJWKS reports whether tok verifies (signature, iss, aud, exp)
// with the service's published keys alone, as an outside verifier would.
func verifiesWithJWKS(t *testing.T, f *keyFixture, svc *auth.Service, tok string) bool {
	t.Helper()
	keys := jwksKeys(t, svc)
	v := token.IssuerVerifier{
		Keys:     func(kid string) (*token.Key, bool) { k, ok := keys[kid]; return k, ok },
		Issuer:   "https://auth.example.com",
		Audience: "https://auth.example.com",
		Now:      f.clock.Now,
	}
	_, err := v.Verify(tok)
	return err == nil
}

func login(t *testing.T, svc *auth.Service, addr string) *auth.TokenPair {
	t.Helper()
	p, err := svc.Login(auth.ContextWithClient(context.Background(), client), addr, pw)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKeysFirstStart(t *testing.T) {
	f := newKeyFixture(t, nil)
	states, current, next := keyStates(t, f.svc)
	if len(current) != 1 || len(next) != 1 || len(states) != 2 {
		t.Fatalf("keys on a fresh store = %v, want one current and one next", states)
	}
	jwks := jwksKeys(t, f.svc)
	if jwks[current[0]] == nil || jwks[next[0]] == nil || len(jwks) != 2 {
		t.Errorf("JWKS kids = %v, want the current %s and the next %s", slices.Collect(mapKeys(jwks)), current[0], next[0])
	}
	if got := f.svc.SigningAlgs(); !slices.Equal(got, []string{"EdDSA"}) {
		t.Errorf("SigningAlgs = %v, want [EdDSA]", got)
	}
	// A second instance starting on the same store adds nothing.
	f.instance(t, nil)
	if states2, _, _ := keyStates(t, f.svc); len(states2) != 2 {
		t.Errorf("after a second instance started: %v, want the same two keys", states2)
	}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestRotateTwice rotates twice and follows the first key until it is no
// longer published: its tokens keep verifying (for latch and for anyone
// with the JWKS) until they expire, and the key leaves the JWKS at
// retirement + access TTL + reload period + skew.
func TestRotateTwice(t *testing.T) {
	f := newKeyFixture(t, func(c *auth.Config) { c.RequireConfirmation = false })
	ctx := context.Background()
	if _, err := f.svc.Signup(auth.ContextWithClient(ctx, client), "rot@example.com", pw); err != nil {
		t.Fatal(err)
	}
	_, cur0, next0 := keyStates(t, f.svc)
	a := login(t, f.svc, "rot@example.com")
	if _, kid := header(t, a.AccessToken); kid != cur0[0] {
		t.Fatalf("token signed by %s, want the current key %s", kid, cur0[0])
	}

	rot1, err := f.svc.RotateKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rot1.Retired != cur0[0] || rot1.Current != next0[0] || rot1.Next == "" || rot1.Next == next0[0] {
		t.Fatalf("rotation = %+v, want %s retired and the next key %s promoted", rot1, cur0[0], next0[0])
	}
	if want := f.clock.Now().Add(15*time.Minute + time.Minute + 5*time.Minute); !rot1.RetiredUntil.Equal(want) {
		t.Errorf("RetiredUntil = %v, want %v (access TTL + reload + skew)", rot1.RetiredUntil, want)
	}
	b := login(t, f.svc, "rot@example.com")
	if _, kid := header(t, b.AccessToken); kid != rot1.Current {
		t.Fatalf("after rotation a token is signed by %s, want %s", kid, rot1.Current)
	}
	jwks := jwksKeys(t, f.svc)
	for _, kid := range []string{rot1.Retired, rot1.Current, rot1.Next} {
		if jwks[kid] == nil {
			t.Errorf("JWKS lacks %s after the first rotation", kid)
		}
	}

	f.clock.Advance(10 * time.Minute)
	rot2, err := f.svc.RotateKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rot2.Retired != rot1.Current || rot2.Current != rot1.Next {
		t.Fatalf("second rotation = %+v, want %s retired and %s current", rot2, rot1.Current, rot1.Next)
	}
	// 14 minutes after the first token was issued: still valid everywhere.
	f.clock.Advance(4 * time.Minute)
	for _, tok := range []*auth.TokenPair{a, b} {
		if _, err := f.svc.Authenticate(ctx, tok.AccessToken); err != nil {
			t.Errorf("Authenticate(token of a retired key) = %v, want it accepted until it expires", err)
		}
		if !verifiesWithJWKS(t, f, f.svc, tok.AccessToken) {
			t.Errorf("a token of a retired key does not verify with the JWKS before it expires")
		}
	}
	states, _, _ := keyStates(t, f.svc)
	if states[rot1.Retired] != auth.KeyRetired || states[rot2.Retired] != auth.KeyRetired {
		t.Errorf("states = %v, want both earlier keys retired", states)
	}

	// Past the first key's publication: it leaves the JWKS (after the
	// periodic reload), the second retired key stays.
	f.clock.Advance(rot1.RetiredUntil.Sub(f.clock.Now()))
	if err := f.svc.MaintainKeys(ctx); err != nil {
		t.Fatal(err)
	}
	jwks = jwksKeys(t, f.svc)
	if jwks[rot1.Retired] != nil {
		t.Errorf("the first key is still published at its RetiredUntil")
	}
	if jwks[rot2.Retired] == nil || jwks[rot2.Current] == nil || jwks[rot2.Next] == nil || len(jwks) != 3 {
		t.Errorf("JWKS kids = %v, want %s (retired), %s (current), %s (next)", slices.Collect(mapKeys(jwks)), rot2.Retired, rot2.Current, rot2.Next)
	}
	if states, _, _ := keyStates(t, f.svc); states[rot1.Retired] != auth.KeyExpired {
		t.Errorf("first key state = %q, want expired", states[rot1.Retired])
	}
	f.clock.Advance(rot2.RetiredUntil.Sub(f.clock.Now()))
	if err := f.svc.MaintainKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if jwks := jwksKeys(t, f.svc); len(jwks) != 2 || jwks[rot2.Retired] != nil {
		t.Errorf("JWKS kids = %v, want only the current and next keys", slices.Collect(mapKeys(jwks)))
	}
}

// TestRotateWithoutNext rotates a store whose only key is current (as a
// store from before rotation existed): a new key is generated and promoted.
func TestRotateWithoutNext(t *testing.T) {
	f := newKeyFixture(t, nil)
	ctx := context.Background()
	_, cur, next := keyStates(t, f.svc)
	// Retire the next key by hand: the store now has no next key.
	err := f.db.Tx(ctx, func(tx auth.Tx) error {
		_, err := tx.RetireSigningKey(ctx, next[0], f.clock.Now(), f.clock.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rot, err := f.svc.RotateKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rot.Retired != cur[0] || rot.Current == "" || rot.Current == next[0] || rot.Next == "" {
		t.Fatalf("rotation = %+v, want %s retired and a fresh key promoted", rot, cur[0])
	}
	_, cur2, next2 := keyStates(t, f.svc)
	if !slices.Equal(cur2, []string{rot.Current}) || !slices.Equal(next2, []string{rot.Next}) {
		t.Errorf("current %v next %v, want [%s] [%s]", cur2, next2, rot.Current, rot.Next)
	}
}

// TestKeyAlgorithmChange starts an instance configured for another
// algorithm: the next key is replaced at once (published a full period
// before it signs) and signs from the following rotation.
func TestKeyAlgorithmChange(t *testing.T) {
	for _, alg := range []string{"ES256", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			f := newKeyFixture(t, func(c *auth.Config) { c.RequireConfirmation = false })
			ctx := context.Background()
			if _, err := f.svc.Signup(auth.ContextWithClient(ctx, client), "alg@example.com", pw); err != nil {
				t.Fatal(err)
			}
			_, _, oldNext := keyStates(t, f.svc)
			svc := f.instance(t, func(c *auth.Config) { c.KeyAlg = alg; c.RequireConfirmation = false })
			states, _, next := keyStates(t, svc)
			if len(next) != 1 || next[0] == oldNext[0] {
				t.Fatalf("next keys %v (old %s), want a new one", next, oldNext[0])
			}
			if states[oldNext[0]] != auth.KeyExpired {
				t.Errorf("the EdDSA next key is %q, want expired (it never signed)", states[oldNext[0]])
			}
			if got, _ := header(t, login(t, svc, "alg@example.com").AccessToken); got != "EdDSA" {
				t.Errorf("before the rotation tokens are %s, want EdDSA", got)
			}
			if got := svc.SigningAlgs(); !slices.Equal(got, []string{"EdDSA", alg}) {
				t.Errorf("SigningAlgs = %v, want [EdDSA %s]", got, alg)
			}
			if _, err := svc.RotateKeys(ctx); err != nil {
				t.Fatal(err)
			}
			p := login(t, svc, "alg@example.com")
			if got, kid := header(t, p.AccessToken); got != alg || kid != next[0] {
				t.Errorf("after the rotation tokens are %s by %s, want %s by %s", got, kid, alg, next[0])
			}
			if got := svc.SigningAlgs(); !slices.Equal(got, []string{alg, "EdDSA"}) {
				t.Errorf("SigningAlgs = %v, want [%s EdDSA]", got, alg)
			}
			// The first instance never loaded the new key (it was created
			// after its last reload): an unknown kid makes it reload (at
			// most once a second), then it signs with the new key after
			// its periodic maintenance.
			f.clock.Advance(2 * time.Second)
			if _, err := f.svc.Authenticate(ctx, p.AccessToken); err != nil {
				t.Errorf("the other instance refuses the new key's token: %v", err)
			}
			if err := f.svc.MaintainKeys(ctx); err != nil {
				t.Fatal(err)
			}
			if got, _ := header(t, login(t, f.svc, "alg@example.com").AccessToken); got != alg {
				t.Errorf("the other instance signs %s after reloading, want %s", got, alg)
			}
		})
	}
}

// TestScheduledRotation rotates once KeyRotation has passed, on whichever
// instance gets there first: two instances due at the same moment rotate
// once between them.
func TestScheduledRotation(t *testing.T) {
	f := newKeyFixture(t, func(c *auth.Config) { c.KeyRotation = 24 * time.Hour })
	ctx := context.Background()
	other := f.instance(t, func(c *auth.Config) { c.KeyRotation = 24 * time.Hour })
	_, cur, next := keyStates(t, f.svc)

	f.clock.Advance(23 * time.Hour)
	if err := f.svc.MaintainKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if _, cur2, _ := keyStates(t, f.svc); !slices.Equal(cur2, cur) {
		t.Fatalf("rotated before the period: current %v, want %v", cur2, cur)
	}

	f.clock.Advance(time.Hour)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		svc := f.svc
		if i%2 == 1 {
			svc = other
		}
		wg.Go(func() { errs[i] = svc.MaintainKeys(ctx) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("MaintainKeys: %v", err)
		}
	}
	states, cur2, next2 := keyStates(t, f.svc)
	if !slices.Equal(cur2, next) || len(next2) != 1 || states[cur[0]] != auth.KeyRetired || len(states) != 3 {
		t.Errorf("after concurrent scheduled rotations: %v (current %v, next %v), want one rotation: %s retired, %s current, one new next",
			states, cur2, next2, cur[0], next[0])
	}

	// Off: never rotates.
	g := newKeyFixture(t, func(c *auth.Config) { c.KeyRotation = -1 })
	_, gcur, _ := keyStates(t, g.svc)
	g.clock.Advance(10000 * time.Hour)
	if err := g.svc.MaintainKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if _, gcur2, _ := keyStates(t, g.svc); !slices.Equal(gcur2, gcur) {
		t.Errorf("rotated with KeyRotation < 0: current %v, want %v", gcur2, gcur)
	}
}

// TestConcurrentManualRotation rotates from two instances (own connection
// pools on one database) and several goroutines at once: every rotation
// either happens whole or not at all, and exactly one key is current.
func TestConcurrentManualRotation(t *testing.T) {
	testConcurrentManualRotation(t, newKeyFixture(t, nil))
}

// TestConcurrentRotationPostgres is TestConcurrentManualRotation and
// TestScheduledRotation's race on PostgreSQL, whose READ COMMITTED
// transactions do not serialize: the compare-and-set on the current key
// is what keeps one rotation from being doubled.
func TestConcurrentRotationPostgres(t *testing.T) {
	testConcurrentManualRotation(t, newKeyFixtureOn(t, svctest.PostgresURL(t), nil))

	day := func(c *auth.Config) { c.KeyRotation = 24 * time.Hour }
	f := newKeyFixtureOn(t, svctest.PostgresURL(t), day)
	ctx := context.Background()
	others := []*auth.Service{f.svc, f.instance(t, day), f.instance(t, day)}
	_, cur, _ := keyStates(t, f.svc)
	f.clock.Advance(25 * time.Hour)
	var wg sync.WaitGroup
	errs := make([]error, 9)
	for i := range errs {
		wg.Go(func() { errs[i] = others[i%3].MaintainKeys(ctx) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("MaintainKeys: %v", err)
		}
	}
	states, cur2, next2 := keyStates(t, f.svc)
	if len(cur2) != 1 || len(next2) != 1 || states[cur[0]] != auth.KeyRetired || len(states) != 3 {
		t.Errorf("after concurrent scheduled rotations on PostgreSQL: %v, want exactly one rotation", states)
	}
}

func testConcurrentManualRotation(t *testing.T, f *keyFixture) {
	ctx := context.Background()
	other := f.instance(t, nil)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		svc := f.svc
		if i%2 == 1 {
			svc = other
		}
		wg.Go(func() { _, errs[i] = svc.RotateKeys(ctx) })
	}
	wg.Wait()
	done := 0
	for _, err := range errs {
		switch {
		case err == nil:
			done++
		case errors.Is(err, auth.ErrRotationConflict):
		default:
			t.Errorf("RotateKeys: %v", err)
		}
	}
	states, cur, next := keyStates(t, f.svc)
	if len(cur) != 1 || len(next) != 1 {
		t.Fatalf("after concurrent rotations: %v, want exactly one current and one next", states)
	}
	retired := 0
	for _, s := range states {
		if s == auth.KeyRetired {
			retired++
		}
	}
	t.Logf("%d of %d rotations succeeded", done, len(errs))
	if done == 0 || retired != done {
		t.Errorf("%d rotations succeeded and %d keys are retired (%v); want at least one, and one retired key per rotation", done, retired, states)
	}
}

// TestSupersededKeysRetired simulates two instances that created a first
// key at once: the newest is current everywhere and maintenance retires
// the other (still published until its tokens expire).
func TestSupersededKeysRetired(t *testing.T) {
	f := newKeyFixture(t, nil)
	ctx := context.Background()
	_, cur, _ := keyStates(t, f.svc)
	k, err := token.GenerateKey("EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	der, _ := k.MarshalPrivate()
	sealed, err := token.Seal(testSecret, der, []byte("latch signing key "+k.KID))
	if err != nil {
		t.Fatal(err)
	}
	jwk, _ := k.PublicJWK()
	f.clock.Advance(time.Second)
	now := f.clock.Now()
	err = f.db.Tx(ctx, func(tx auth.Tx) error {
		return tx.CreateSigningKey(ctx, &auth.SigningKey{KID: k.KID, Alg: k.Alg, PrivateEnc: sealed, PublicJWK: jwk, CreatedAt: now, ActiveAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.MaintainKeys(ctx); err != nil {
		t.Fatal(err)
	}
	states, cur2, _ := keyStates(t, f.svc)
	if !slices.Equal(cur2, []string{k.KID}) || states[cur[0]] != auth.KeyRetired {
		t.Errorf("states = %v, want %s current and %s retired", states, k.KID, cur[0])
	}
	if jwksKeys(t, f.svc)[cur[0]] == nil {
		t.Errorf("the superseded key left the JWKS at once; its tokens are still valid")
	}
}
