package verify

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/token"
)

// FuzzVerify feeds arbitrary tokens to the verification and checks it
// against latch's own verifier (internal/token): both must accept and
// refuse the same tokens and agree on the claims.
func FuzzVerify(f *testing.F) {
	fx := fixtures()
	keys := map[string]*Key{}
	for _, k := range []*token.Key{fx.ed, fx.ec} {
		keys[k.KID] = &Key{KID: k.KID, Alg: k.Alg, Public: k.Public}
	}
	theirs := &token.Verifier{
		Keys: func(kid string) (*token.Key, bool) {
			for _, k := range []*token.Key{fx.ed, fx.ec} {
				if k.KID == kid {
					return &token.Key{KID: k.KID, Alg: k.Alg, Public: k.Public}, true
				}
			}
			return nil, false
		},
		Issuer:   testIssuer,
		Audience: testAudience,
		Now:      func() time.Time { return testNow },
	}
	ck := &checks{issuer: testIssuer, audience: testAudience, now: testNow}
	keyFor := func(kid string) (*Key, error) {
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, invalid("unknown kid")
	}
	f.Add(signed(f, fx.ed, nil))
	f.Add(signed(f, fx.ec, nil))
	f.Add(signed(f, fx.ed, func(c *token.Claims) { c.Audience = []string{"a", testAudience} }))
	f.Add(forge(f, fx.ed, `{"alg":"EdDSA","kid":"`+fx.ed.KID+`","typ":"at+jwt"}`, `{"iss":"`+testIssuer+`","sub":"s","aud":"`+testAudience+`","exp":1900000000,"jti":"j","x":{"a":[1,{"b":null}]}}`))
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		mine, err := verifyToken(tok, keyFor, ck)
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("refusal %v does not wrap ErrInvalid", err)
		}
		ref, refErr := theirs.Verify(tok)
		if (err == nil) != (refErr == nil) {
			t.Fatalf("verify says %v, internal/token says %v", err, refErr)
		}
		if err != nil {
			if errors.Is(err, ErrExpired) != errors.Is(refErr, token.ErrExpired) {
				t.Fatalf("expiry: verify says %v, internal/token says %v", err, refErr)
			}
			return
		}
		if mine.Subject != ref.Subject || mine.ID != ref.ID || mine.SessionID != ref.SessionID ||
			!mine.ExpiresAt.Equal(ref.ExpiresAt) || !mine.IssuedAt.Equal(ref.IssuedAt) ||
			!slices.Equal(mine.Roles, ref.Roles) || !slices.Equal(mine.Audience, ref.Audience) ||
			mine.Email != ref.Email || mine.EmailVerified != ref.EmailVerified {
			t.Fatalf("claims differ:\nverify         %+v\ninternal/token %+v", mine, ref)
		}
	})
}

// FuzzParseJWKS: any input either fails or yields usable keys with a kid
// and an accepted algorithm.
func FuzzParseJWKS(f *testing.F) {
	fx := fixtures()
	set, err := token.JWKS([]*token.Key{fx.ed, fx.ec, fx.rs})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(set)
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k","alg":"EdDSA","use":"sig"}]}`))
	f.Add([]byte(`{"keys":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, _, err := ParseJWKS(b)
		if err != nil {
			return
		}
		for kid, k := range keys {
			if kid == "" || kid != k.KID || k.Public == nil {
				t.Fatalf("bad key %q: %+v", kid, k)
			}
			switch k.Alg {
			case EdDSA, ES256, RS256:
			default:
				t.Fatalf("key %q with alg %q", kid, k.Alg)
			}
		}
	})
}

// FuzzParseFeed: an accepted feed answer has a cursor and complete entries.
func FuzzParseFeed(f *testing.F) {
	f.Add([]byte(`{"sessions":[{"sid":"s","until":"2026-03-01T12:15:00Z"}],"users":[{"sub":"u","not_before":"2026-03-01T12:00:00Z","until":"2026-03-01T12:15:00Z"}],"cursor":"c","poll_after_ms":0}`))
	f.Add([]byte(`{"sessions":[],"users":[],"cursor":"1.2.3","poll_after_ms":500}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := parseFeed(b)
		if err != nil {
			return
		}
		if a.Cursor == "" || a.PollAfterMS < 0 {
			t.Fatalf("accepted %q", b)
		}
		for _, s := range a.Sessions {
			if s.SID == "" || s.Until.IsZero() {
				t.Fatalf("accepted session entry %+v", s)
			}
		}
		out, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseFeed(out); err != nil {
			t.Fatalf("re-encoded answer refused: %v", err)
		}
	})
}
