// Package passkeytest gives tests software passkeys
// (github.com/descope/virtualwebauthn) that every relying party accepts.
package passkeytest

import (
	"crypto/ecdsa"
	"crypto/x509"

	"github.com/descope/virtualwebauthn"
)

// Credential returns a new ES256 (P-256) credential. virtualwebauthn
// writes the public key's coordinates without their leading zero bytes,
// so about one key in 64 has a coordinate shorter than 32 bytes, which
// go-webauthn rightly refuses (RFC 9053 §7.1.1 fixes the length): such
// keys are drawn again, so that a test never fails by chance.
func Credential() virtualwebauthn.Credential {
	for {
		c := virtualwebauthn.NewCredential(virtualwebauthn.KeyTypeEC2)
		k, err := x509.ParsePKCS8PrivateKey(c.Key.Data)
		if err != nil {
			panic("passkeytest: virtualwebauthn made an unreadable key: " + err.Error())
		}
		if fullLength(k.(*ecdsa.PrivateKey)) {
			return c
		}
	}
}

// fullLength reports whether neither coordinate of k's public key starts
// with a zero byte, which virtualwebauthn would drop.
func fullLength(k *ecdsa.PrivateKey) bool {
	b, err := k.PublicKey.Bytes() // 0x04 || X (32 bytes) || Y (32 bytes)
	if err != nil || len(b) != 65 {
		panic("passkeytest: not a P-256 key")
	}
	return b[1] != 0 && b[33] != 0
}
