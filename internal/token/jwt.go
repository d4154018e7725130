package token

import (
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/latchauth/latch/jws"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// b64 is the encoding of JWS segments and opaque tokens: base64url without
// padding. Decoding goes through jws.DecodeSegment, which is stricter.
var b64 = base64.RawURLEncoding.Strict()

// ErrInvalid is wrapped by every refusal of a token except expiry.
var ErrInvalid = errors.New("token: invalid")

// ErrExpired is wrapped when a token's signature and form are good but its
// exp has passed (api.md code token_expired). It does not wrap ErrInvalid.
var ErrExpired = errors.New("token: expired")

// Claims of an access token (RFC 9068, api.md). Sign writes Audience as a
// single string when it has one element, and Roles always as an array.
type Claims = jws.Claims

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// wireClaims is the JSON form Sign writes.
type wireClaims struct {
	Iss           string   `json:"iss"`
	Sub           string   `json:"sub"`
	Aud           any      `json:"aud"`
	Exp           int64    `json:"exp"`
	Iat           *int64   `json:"iat,omitempty"`
	Nbf           *int64   `json:"nbf,omitempty"`
	Jti           string   `json:"jti"`
	Sid           string   `json:"sid,omitempty"`
	Roles         []string `json:"roles"`
	Email         string   `json:"email,omitempty"`
	EmailVerified bool     `json:"email_verified"`
	Amr           []string `json:"amr,omitempty"`
	Acr           string   `json:"acr,omitempty"`
	// AppMetadata is written as given: the service stores it in the
	// form encoding/json writes (auth.NormalizeMetadata).
	AppMetadata json.RawMessage `json:"app_metadata,omitempty"`
}

func unixPtr(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	u := t.Unix()
	return &u
}

// Sign returns c as a compact JWS signed with k, with the header
// {"alg":k.Alg,"kid":k.KID,"typ":"at+jwt"}. It refuses claims that
// IssuerVerifier would refuse for their shape: missing iss, sub, aud, exp
// or jti.
func Sign(k *Key, c *Claims) (string, error) {
	if k == nil || k.Private == nil {
		return "", errors.New("token: sign: no private key")
	}
	if k.KID == "" {
		return "", errors.New("token: sign: key has no kid")
	}
	if k.checkedAlg == "" || k.checkedAlg != k.Alg {
		if err := checkPublic(k.Alg, k.Private.Public()); err != nil {
			return "", err
		}
	}
	if c.Issuer == "" || c.Subject == "" || c.ID == "" || c.ExpiresAt.IsZero() || len(c.Audience) == 0 {
		return "", errors.New("token: sign: iss, sub, aud, exp and jti are required")
	}
	for _, a := range c.Audience {
		if a == "" {
			return "", errors.New("token: sign: empty audience")
		}
	}
	w := wireClaims{
		Iss: c.Issuer, Sub: c.Subject, Exp: c.ExpiresAt.Unix(),
		Iat: unixPtr(c.IssuedAt), Nbf: unixPtr(c.NotBefore),
		Jti: c.ID, Sid: c.SessionID, Roles: c.Roles,
		Email: c.Email, EmailVerified: c.EmailVerified,
		Amr: c.AMR, Acr: c.ACR, AppMetadata: c.AppMetadata,
	}
	if w.Roles == nil {
		w.Roles = []string{}
	}
	if len(c.Audience) == 1 {
		w.Aud = c.Audience[0]
	} else {
		w.Aud = c.Audience
	}
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{k.Alg, k.KID, jws.TypeAccessToken})
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	payload, err := json.Marshal(w)
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	var sb strings.Builder
	sb.Grow(b64.EncodedLen(len(header)) + b64.EncodedLen(len(payload)) + 2 + 342)
	sb.WriteString(b64.EncodeToString(header))
	sb.WriteByte('.')
	sb.WriteString(b64.EncodeToString(payload))
	sig, err := signRaw(k, []byte(sb.String()))
	if err != nil {
		return "", err
	}
	sb.WriteByte('.')
	sb.WriteString(b64.EncodeToString(sig))
	return sb.String(), nil
}

// signRaw produces the JWS signature of input for k.Alg.
func signRaw(k *Key, input []byte) ([]byte, error) {
	switch k.Alg {
	case EdDSA:
		sig, err := k.Private.Sign(rand.Reader, input, crypto.Hash(0))
		if err != nil {
			return nil, fmt.Errorf("token: sign: %w", err)
		}
		return sig, nil
	case ES256:
		h := sha256.Sum256(input)
		der, err := k.Private.Sign(rand.Reader, h[:], crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("token: sign: %w", err)
		}
		return ecdsaRaw(der)
	case RS256:
		h := sha256.Sum256(input)
		sig, err := k.Private.Sign(rand.Reader, h[:], crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("token: sign: %w", err)
		}
		return sig, nil
	}
	return nil, fmt.Errorf("token: sign: unsupported algorithm %q", k.Alg)
}

var (
	p256N     = elliptic.P256().Params().N
	p256HalfN = new(big.Int).Rsh(p256N, 1)
)

// ecdsaRaw converts an ASN.1 DER ECDSA signature to the JWS form R || S
// (32 bytes each), normalising S to the lower half of the group order so
// that a token has exactly one valid signature.
func ecdsaRaw(der []byte) ([]byte, error) {
	var r, s = new(big.Int), new(big.Int)
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1Integer(r) || !seq.ReadASN1Integer(s) || !seq.Empty() {
		return nil, errors.New("token: sign: malformed ECDSA signature")
	}
	if s.Cmp(p256HalfN) > 0 {
		s.Sub(p256N, s)
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out, nil
}

// IssuerVerifier is the issuer's check of the access tokens it signed:
// latch's server verifying a token on its own endpoints (userinfo,
// introspection, the admin and account APIs), with the public halves of
// the keys it holds in memory. It runs jws.Verify and sorts the refusals
// into ErrInvalid and ErrExpired, the api.md codes. Services other than
// latch use verify.Verifier instead, which fetches the keys from the JWKS.
type IssuerVerifier struct {
	// Keys returns the public key with the given kid. The key pins the
	// algorithm: a token is accepted only if its alg equals the key's Alg.
	Keys func(kid string) (*Key, bool)
	// Issuer is the required iss.
	Issuer string
	// Audience must be one of the token's aud values.
	Audience string
	// Leeway is the clock skew allowed on exp, nbf and iat (default 0).
	Leeway time.Duration
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// MaxSize is the largest token accepted, in bytes (default
	// jws.DefaultMaxSize).
	// Larger tokens are refused before any decoding.
	MaxSize int
}

// Verify parses and checks tok with jws.Verify: compact form, header,
// signature with the key named by kid, then the claims. Every refusal
// wraps ErrInvalid except an expired (but otherwise valid) token, which
// wraps ErrExpired.
func (v *IssuerVerifier) Verify(tok string) (*Claims, error) {
	if v.Keys == nil || v.Issuer == "" || v.Audience == "" {
		return nil, invalid("verifier not configured")
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	ck := jws.Checks{Issuer: v.Issuer, Audience: v.Audience, Leeway: v.Leeway, Now: now(), MaxSize: v.MaxSize}
	c, err := jws.Verify(tok, func(kid string) (*jws.Key, error) {
		k, ok := v.Keys(kid)
		if !ok || k == nil {
			return nil, invalid("unknown kid")
		}
		return k.public(), nil
	}, &ck)
	if err != nil {
		var e *jws.Error
		switch {
		case !errors.As(err, &e):
			return nil, err
		case e.Expired:
			return nil, fmt.Errorf("%w: %s", ErrExpired, e.Reason)
		}
		return nil, invalid("%s", e.Reason)
	}
	return c, nil
}
