package verify

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The benchmarks compare verification through the middleware with the raw
// Ed25519 signature check of the same token (docs/benchmarks.md):
//
//	go test -run=^$ -bench=. -cpu=1 -count=5 ./verify

func benchToken(b *testing.B) (*Verifier, string) {
	f := fixtures()
	stub := newLatchStub(&testing.T{}, f.ed)
	b.Cleanup(stub.Close)
	v, err := New(Config{Issuer: testIssuer, Audience: testAudience, JWKSURL: stub.URL + "/.well-known/jwks.json",
		Now: func() time.Time { return testNow }})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { v.Close() })
	if err := v.Refresh(context.Background()); err != nil {
		b.Fatal(err)
	}
	return v, signed(b, f.ed, nil)
}

func BenchmarkRawEd25519(b *testing.B) {
	f := fixtures()
	tok := signed(b, f.ed, nil)
	i := strings.LastIndexByte(tok, '.')
	input := []byte(tok[:i])
	sig, err := b64.DecodeString(tok[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	pub := f.ed.Public.(ed25519.PublicKey)
	for b.Loop() {
		if !ed25519.Verify(pub, input, sig) {
			b.Fatal("bad signature")
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	v, tok := benchToken(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func benchMiddleware(b *testing.B, v *Verifier, tok string) {
	ok := false
	h := Middleware(v)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, ok = ClaimsFrom(r.Context())
	}))
	r := httptest.NewRequest("GET", "/notes", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		ok = false
		h.ServeHTTP(w, r)
		if !ok {
			b.Fatal("request refused")
		}
	}
}

func BenchmarkMiddleware(b *testing.B) {
	v, tok := benchToken(b)
	benchMiddleware(b, v, tok)
}

// BenchmarkMiddlewareRevocations adds the revocation check against a set
// of 10,000 ended sessions and 1,000 cut-off users.
func BenchmarkMiddlewareRevocations(b *testing.B) {
	v, tok := benchToken(b)
	v.rev = newRevocations()
	for i := range 10000 {
		v.rev.sessions["s"+strconv.Itoa(i)] = testNow.Add(time.Hour)
	}
	for i := range 1000 {
		v.rev.users["u"+strconv.Itoa(i)] = userCutoff{notBefore: testNow, until: testNow.Add(time.Hour)}
	}
	benchMiddleware(b, v, tok)
}

// BenchmarkMiddlewareVsRaw alternates one raw Ed25519 check and one pass
// through the middleware, so that both see the same machine load, and
// reports the middleware's throughput as a percentage of the raw check's
// (the goal: at least 90).
func BenchmarkMiddlewareVsRaw(b *testing.B) {
	v, tok := benchToken(b)
	i := strings.LastIndexByte(tok, '.')
	input := []byte(tok[:i])
	sig, err := b64.DecodeString(tok[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	pub := fixtures().ed.Public.(ed25519.PublicKey)
	ok := false
	h := Middleware(v)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, ok = ClaimsFrom(r.Context()) }))
	r := httptest.NewRequest("GET", "/notes", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := &discard{h: http.Header{}}
	var raw, mw time.Duration
	for b.Loop() {
		t0 := time.Now()
		if !ed25519.Verify(pub, input, sig) {
			b.Fatal("bad signature")
		}
		t1 := time.Now()
		ok = false
		h.ServeHTTP(w, r)
		t2 := time.Now()
		if !ok {
			b.Fatal("request refused")
		}
		raw += t1.Sub(t0)
		mw += t2.Sub(t1)
	}
	b.ReportMetric(100*float64(raw)/float64(mw), "%-of-raw")
	b.ReportMetric(float64(raw.Nanoseconds())/float64(b.N), "raw-ns/op")
	b.ReportMetric(float64(mw.Nanoseconds())/float64(b.N), "middleware-ns/op")
}
