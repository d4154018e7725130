package token

import (
	"slices"
	"testing"
)

// TestAMRAndACR: amr and acr travel through Sign and Verify; a token
// without them (issued before they existed) verifies with them empty, and
// a token whose amr is not an array of strings is refused.
func TestAMRAndACR(t *testing.T) {
	k := fixtures().ed
	c := validClaims()
	c.AMR, c.ACR = []string{"pwd", "otp", "mfa"}, "aal2"
	tok, err := Sign(k, c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := verifier(k).Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.AMR, c.AMR) || got.ACR != "aal2" {
		t.Fatalf("amr %v acr %q", got.AMR, got.ACR)
	}
	plain, err := verifier(k).Verify(signed(t, k, func(c *Claims) { c.AMR, c.ACR = nil, "" }))
	if err != nil || plain.AMR != nil || plain.ACR != "" {
		t.Fatalf("without amr: %+v, %v", plain, err)
	}
	hdr := `{"alg":"EdDSA","kid":"` + k.KID + `","typ":"at+jwt"}`
	bad := `{"iss":"` + testIssuer + `","sub":"u","aud":"` + testAudience + `","exp":` + "4102444800" + `,"jti":"j","amr":"pwd"}`
	if _, err := verifier(k).Verify(forge(t, k, hdr, bad)); err == nil {
		t.Fatal("a string amr was accepted")
	}
}
