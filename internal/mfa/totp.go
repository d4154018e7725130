// Package mfa holds the mechanics of latch's second factors: TOTP secrets
// and codes (RFC 6238 through github.com/pquerna/otp), recovery codes and
// the QR image of an otpauth URL. It keeps no state: which time step an
// account last used, and which recovery codes are spent, is the store's
// business (a conditional write decides each), and the rules are
// internal/auth's.
package mfa

import (
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters (api.md): SHA-1, 6 digits, 30-second steps, one step of
// drift either way. They are what every authenticator app understands.
const (
	Period = 30
	Digits = 6
	Skew   = 1
)

// secretBytes is the size of a new secret: 160 bits, RFC 4226's
// recommendation for HMAC-SHA-1.
const secretBytes = 20

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTP makes a new secret for account (the user's address) of issuer
// (the product name). It returns the secret in base32 (what a person types
// into an app that cannot scan) and the otpauth:// URL the QR code carries.
func NewTOTP(issuer, account string) (secret, url string, err error) {
	k, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: account,
		Period:      Period,
		SecretSize:  secretBytes,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", "", fmt.Errorf("mfa: new TOTP secret: %w", err)
	}
	return k.Secret(), k.URL(), nil
}

// Step is the RFC 6238 time step of t.
func Step(t time.Time) int64 { return t.Unix() / Period }

// CodeAt is the code of secret for time step step.
func CodeAt(secret string, step int64) (string, error) {
	if step < 0 {
		return "", errors.New("mfa: negative time step")
	}
	c, err := hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", fmt.Errorf("mfa: TOTP code: %w", err)
	}
	return c, nil
}

// Match reports the time step at which code (already through ParseCode) is
// secret's code, looking at the step of now and Skew steps either side,
// and only at steps after after: a code of a step already used, or of an
// earlier one, is refused, so a code works at most once. Of several
// matching steps it picks the latest. Every candidate is computed and
// compared in constant time, whatever matches.
func Match(secret, code string, now time.Time, after int64) (step int64, ok bool, err error) {
	cur := Step(now)
	found := int64(-1)
	for s := cur - Skew; s <= cur+Skew; s++ {
		want, err := CodeAt(secret, s)
		if err != nil {
			return 0, false, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && s > after {
			found = s
		}
	}
	return found, found >= 0, nil
}

// ValidSecret reports whether secret is a base32 TOTP secret of the size
// NewTOTP makes.
func ValidSecret(secret string) bool {
	b, err := b32.DecodeString(strings.ToUpper(secret))
	return err == nil && len(b) == secretBytes
}

// ParseCode normalises a TOTP code as typed: spaces and one dash (apps show
// "123 456") are dropped; the rest must be exactly Digits ASCII digits.
func ParseCode(s string) (string, bool) {
	if len(s) > 32 {
		return "", false
	}
	var b strings.Builder
	dashes := 0
	for _, r := range s {
		switch {
		case r == ' ':
		case r == '-':
			dashes++
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	if dashes > 1 || b.Len() != Digits {
		return "", false
	}
	return b.String(), true
}
