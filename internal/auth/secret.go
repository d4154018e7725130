package auth

import (
	"crypto/sha256"
	"crypto/subtle"
)

// Secret is a configured shared secret that callers present as a bearer
// credential (the admin API key, the revocation feed key). It keeps only
// the SHA-256 of the secret, so that checking a presented one compares
// equal-length digests in constant time whatever its length.
type Secret struct {
	hash *[sha256.Size]byte // nil: no secret configured
}

// NewSecret returns the Secret s; the empty string configures none, and
// no credential matches it.
func NewSecret(s string) Secret {
	if s == "" {
		return Secret{}
	}
	h := sha256.Sum256([]byte(s))
	return Secret{hash: &h}
}

// IsSet reports whether a secret is configured.
func (k Secret) IsSet() bool { return k.hash != nil }

// Matches reports, in constant time, whether presented is the secret.
func (k Secret) Matches(presented string) bool {
	if k.hash == nil {
		return false
	}
	h := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(h[:], k.hash[:]) == 1
}
