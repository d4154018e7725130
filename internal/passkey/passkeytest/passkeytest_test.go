package passkeytest_test

import (
	"crypto/ecdsa"
	"crypto/x509"
	"testing"

	"github.com/latchauth/latch/internal/passkey/passkeytest"
)

// Every credential has full-length coordinates (about one in 64 raw ones
// has not, so 500 draws meet several).
func TestCredentialCoordinates(t *testing.T) {
	for range 500 {
		c := passkeytest.Credential()
		k, err := x509.ParsePKCS8PrivateKey(c.Key.Data)
		if err != nil {
			t.Fatal(err)
		}
		b, err := k.(*ecdsa.PrivateKey).PublicKey.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if b[1] == 0 || b[33] == 0 {
			t.Fatalf("a coordinate starts with a zero byte: %x", b)
		}
	}
}
