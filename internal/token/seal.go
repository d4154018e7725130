package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// MinSecretLen is the minimum length in bytes of the server secret.
const MinSecretLen = 32

const (
	sealVersion   = 1
	sealInfo      = "latch seal v1"
	successorInfo = "latch refresh successor"
)

// aeadFor derives an AES-256-GCM AEAD from ikm with HKDF-SHA256.
func aeadFor(ikm []byte, info string) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, ikm, nil, info, 32)
	if err != nil {
		return nil, fmt.Errorf("token: derive key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("token: cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("token: cipher: %w", err)
	}
	return aead, nil
}

// sealWith encrypts plaintext as version || nonce || ciphertext+tag, with
// version || ad as additional data.
func sealWith(aead cipher.AEAD, plaintext, ad []byte) []byte {
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out[0] = sealVersion
	rand.Read(out[1:]) // never fails (crypto/rand)
	return aead.Seal(out, out[1:], plaintext, additional(ad))
}

// openWith reverses sealWith.
func openWith(aead cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < 1+aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("%w: sealed data too short", ErrInvalid)
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w: unknown seal version %d", ErrInvalid, sealed[0])
	}
	n := 1 + aead.NonceSize()
	pt, err := aead.Open(nil, sealed[1:n], sealed[n:], additional(ad))
	if err != nil {
		return nil, fmt.Errorf("%w: sealed data does not authenticate", ErrInvalid)
	}
	return pt, nil
}

func additional(ad []byte) []byte {
	return append([]byte{sealVersion}, ad...)
}

var errShortSecret = fmt.Errorf("token: secret shorter than %d bytes", MinSecretLen)

// Seal encrypts plaintext for storage with the server secret (LATCH_SECRET,
// at least 32 bytes): AES-256-GCM under HKDF-SHA256(secret, info "latch
// seal v1"), a random 96-bit nonce, ad bound as additional data. The result
// is a version byte, the nonce, and the ciphertext with its tag.
func Seal(secret, plaintext, ad []byte) ([]byte, error) {
	if len(secret) < MinSecretLen {
		return nil, errShortSecret
	}
	aead, err := aeadFor(secret, sealInfo)
	if err != nil {
		return nil, err
	}
	return sealWith(aead, plaintext, ad), nil
}

// Open decrypts what Seal produced with the same secret and ad. A wrong
// secret, wrong ad or any modification gives an error wrapping ErrInvalid.
func Open(secret, sealed, ad []byte) ([]byte, error) {
	if len(secret) < MinSecretLen {
		return nil, errShortSecret
	}
	aead, err := aeadFor(secret, sealInfo)
	if err != nil {
		return nil, err
	}
	return openWith(aead, sealed, ad)
}

// SealSuccessor seals next (a refresh token) with a key derived from prev's
// plaintext (HKDF-SHA256 of prev's raw bytes, info "latch refresh
// successor"), so that only someone presenting prev can recover next. Both
// must be well-formed opaque tokens.
func SealSuccessor(prev, next string) ([]byte, error) {
	p, ok := decodeOpaque(prev)
	if !ok {
		return nil, errors.New("token: malformed previous token")
	}
	n, ok := decodeOpaque(next)
	if !ok {
		return nil, errors.New("token: malformed successor token")
	}
	aead, err := aeadFor(p, successorInfo)
	if err != nil {
		return nil, err
	}
	return sealWith(aead, n, nil), nil
}

// OpenSuccessor recovers the successor sealed by SealSuccessor with the
// same prev. Any other prev, or modified data, gives an error wrapping
// ErrInvalid.
func OpenSuccessor(prev string, sealed []byte) (string, error) {
	p, ok := decodeOpaque(prev)
	if !ok {
		return "", fmt.Errorf("%w: malformed previous token", ErrInvalid)
	}
	aead, err := aeadFor(p, successorInfo)
	if err != nil {
		return "", err
	}
	n, err := openWith(aead, sealed, nil)
	if err != nil {
		return "", err
	}
	if len(n) != opaqueBytes {
		return "", fmt.Errorf("%w: sealed successor has wrong length", ErrInvalid)
	}
	return b64.EncodeToString(n), nil
}
