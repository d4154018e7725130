package auth

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParseAuthorizeQuery: any query string either fails to parse (an
// error page) or gives a request with client_id and redirect_uri that
// re-encodes to a query parsing to the same request; check never panics.
func FuzzParseAuthorizeQuery(f *testing.F) {
	f.Add("response_type=code&client_id=abc&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&state=s&nonce=n&scope=openid+email&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256")
	f.Add("client_id=a&client_id=b&redirect_uri=x")
	f.Add("client_id=a&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&prompt=login+none&state=%zz")
	f.Add("client_id=%00&redirect_uri=%0a&response_type=token&response_type=code")
	f.Add(";;&&==")
	pub := &Client{ID: "a", Type: ClientPublic}
	conf := &Client{ID: "a", Type: ClientConfidential}
	f.Fuzz(func(t *testing.T, raw string) {
		r, err := ParseAuthorizeQuery(raw)
		if err != nil {
			if r != nil {
				t.Fatal("a request with an error")
			}
			return
		}
		if r.ClientID == "" || r.RedirectURI == "" {
			t.Fatalf("parsed without client_id or redirect_uri: %+v", r)
		}
		q, err := url.ParseQuery(raw)
		if err != nil || len(q["client_id"]) != 1 || len(q["redirect_uri"]) != 1 {
			t.Fatalf("accepted %q: %v", raw, err)
		}
		again, err := ParseAuthorizeQuery(r.Query())
		if err != nil {
			t.Fatalf("re-encoded request does not parse: %v", err)
		}
		again.Repeated = r.Repeated
		if *again != *r {
			t.Fatalf("round trip: %+v != %+v", again, r)
		}
		for _, c := range []*Client{pub, conf} {
			if e := r.check(c); e != nil && (e.Code == "" || strings.ContainsAny(e.Code, " \n")) {
				t.Fatalf("bad error code %q", e.Code)
			}
		}
		if r.check(pub) == nil && !validPKCE(r.CodeChallenge) {
			t.Fatalf("a public client's request passed without a valid code_challenge: %+v", r)
		}
	})
}
