package verify_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/latchauth/latch/jws"
	"github.com/latchauth/latch/verify"
)

// A service protects its handlers with Middleware: a token is checked
// against the keys of latch's JWKS (served here by httptest in place of
// latch), and the handler reads the claims from the request's context.
func Example_middleware() {
	latch, tok := fakeLatch("user")
	defer latch.Close()

	v, err := verify.New(verify.Config{
		Issuer:   "https://auth.example.com",
		Audience: "https://auth.example.com",
		JWKSURL:  latch.URL + "/.well-known/jwks.json",
		// With latch's feed: RevocationsURL: "https://auth.example.com/v1/revocations",
		Now: func() time.Time { return time.Unix(1767225700, 0) }, // a fixed clock, for the example
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Close()

	listNotes := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verify.ClaimsFrom(r.Context())
		fmt.Fprintln(w, "notes of", c.Subject)
	})
	deleteAll := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "deleted")
	})
	authn := verify.Middleware(v)
	mux := http.NewServeMux()
	mux.Handle("GET /notes", authn(listNotes))
	mux.Handle("DELETE /notes", authn(verify.RequireRole("admin")(deleteAll)))

	for _, req := range []struct{ method, token string }{
		{"GET", tok},
		{"GET", ""},
		{"DELETE", tok},
	} {
		r := httptest.NewRequest(req.method, "/notes", nil)
		if req.token != "" {
			r.Header.Set("Authorization", "Bearer "+req.token)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(req.method, w.Code)
		if w.Code == http.StatusOK {
			fmt.Print(w.Body)
		} else {
			fmt.Println("WWW-Authenticate:", w.Header().Get("WWW-Authenticate"))
		}
	}
	// Output:
	// GET 200
	// notes of user-1
	// GET 401
	// WWW-Authenticate: Bearer
	// DELETE 403
	// WWW-Authenticate: Bearer error="insufficient_scope", error_description="the access token lacks the role \"admin\""
}

// Verify checks a token without the middleware, fetching latch's keys on
// first use.
func ExampleVerifier_Verify() {
	latch, tok := fakeLatch("admin")
	defer latch.Close()

	v, err := verify.New(verify.Config{
		Issuer:   "https://auth.example.com",
		Audience: "https://auth.example.com",
		JWKSURL:  latch.URL + "/.well-known/jwks.json",
		Now:      func() time.Time { return time.Unix(1767225700, 0) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Close()

	c, err := v.Verify(context.Background(), tok)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Subject, c.SessionID, c.HasRole("admin"))

	_, err = v.Verify(context.Background(), tok+"x")
	fmt.Println(err != nil)
	// Output:
	// user-1 s1 true
	// true
}

// fakeLatch stands in for latch: it serves a JWKS with one Ed25519 key and
// returns an access token signed with it, as latch would issue one for
// user-1 with role.
func fakeLatch(role string) (*httptest.Server, string) {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	jwks, err := jws.JWKS([]*jws.Key{{KID: "k1", Alg: jws.EdDSA, Public: priv.Public()}})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwks)
	}))
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString([]byte(`{"alg":"EdDSA","kid":"k1","typ":"at+jwt"}`)) + "." +
		enc.EncodeToString([]byte(`{"iss":"https://auth.example.com","sub":"user-1","aud":"https://auth.example.com",`+
			`"iat":1767225600,"exp":1767226500,"jti":"t1","sid":"s1","roles":["`+role+`"]}`))
	return srv, signed + "." + enc.EncodeToString(ed25519.Sign(priv, []byte(signed)))
}
