package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// ErrInvalid is wrapped by every refusal of a token except expiry.
var ErrInvalid = errors.New("token: invalid")

// ErrExpired is wrapped when a token's signature and form are good but its
// exp has passed (api.md code token_expired). It does not wrap ErrInvalid.
var ErrExpired = errors.New("token: expired")

// TypeAccessToken is the typ header of access tokens (RFC 9068).
const TypeAccessToken = "at+jwt"

// DefaultMaxSize is the default Verifier.MaxSize in bytes.
const DefaultMaxSize = 8192

// Claims of an access token (RFC 9068, api.md).
type Claims struct {
	Issuer        string    // iss
	Subject       string    // sub: user id
	Audience      []string  // aud: encoded as a single string when it has one element
	ExpiresAt     time.Time // exp (NumericDate seconds)
	IssuedAt      time.Time // iat (omitted when zero)
	NotBefore     time.Time // nbf (omitted when zero)
	ID            string    // jti
	SessionID     string    // sid (omitted when empty)
	Roles         []string  // roles: always an array
	Email         string    // email (omitted when empty)
	EmailVerified bool      // email_verified
}

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
}

func unixPtr(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	u := t.Unix()
	return &u
}

// Sign returns c as a compact JWS signed with k, with the header
// {"alg":k.Alg,"kid":k.KID,"typ":"at+jwt"}. It refuses claims the Verifier
// would refuse for their shape: missing iss, sub, aud, exp or jti.
func Sign(k *Key, c *Claims) (string, error) {
	if k == nil || k.Private == nil {
		return "", errors.New("token: sign: no private key")
	}
	if k.KID == "" {
		return "", errors.New("token: sign: key has no kid")
	}
	if err := checkPublic(k.Alg, k.Private.Public()); err != nil {
		return "", err
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
	}{k.Alg, k.KID, TypeAccessToken})
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

// Verifier checks access tokens.
type Verifier struct {
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
	// MaxSize is the largest token accepted, in bytes (default 8192).
	// Larger tokens are refused before any decoding.
	MaxSize int
}

// allowedHeader lists the only header parameters accepted. Everything
// else (crit, jku, x5u, jwk, x5c, x5t, b64, cty, ...) is refused.
var allowedHeader = map[string]bool{"alg": true, "kid": true, "typ": true}

// Verify parses and checks tok: compact form, header, signature with the
// key named by kid, then the claims. Every refusal wraps ErrInvalid except
// an expired (but otherwise valid) token, which wraps ErrExpired.
func (v *Verifier) Verify(tok string) (*Claims, error) {
	max := v.MaxSize
	if max <= 0 {
		max = DefaultMaxSize
	}
	if len(tok) > max {
		return nil, invalid("token larger than %d bytes", max)
	}
	if v.Keys == nil || v.Issuer == "" || v.Audience == "" {
		return nil, invalid("verifier not configured")
	}
	// Exactly three segments.
	i := strings.IndexByte(tok, '.')
	if i < 0 {
		return nil, invalid("not a compact JWS")
	}
	j := strings.IndexByte(tok[i+1:], '.')
	if j < 0 {
		return nil, invalid("not a compact JWS")
	}
	j += i + 1
	if strings.IndexByte(tok[j+1:], '.') >= 0 {
		return nil, invalid("not a compact JWS")
	}
	hSeg, pSeg, sSeg := tok[:i], tok[i+1:j], tok[j+1:]
	if hSeg == "" || pSeg == "" || sSeg == "" {
		return nil, invalid("empty segment")
	}

	// Header.
	hb, err := decodeB64(hSeg)
	if err != nil {
		return nil, invalid("header: %v", err)
	}
	hdr, err := strictObject(hb)
	if err != nil {
		return nil, invalid("header: %v", err)
	}
	for name := range hdr {
		if !allowedHeader[name] {
			return nil, invalid("header parameter %q not accepted", name)
		}
	}
	alg, ok := jsonString(hdr["alg"])
	if !ok || alg == "" {
		return nil, invalid("header: alg missing or not a string")
	}
	kid, ok := jsonString(hdr["kid"])
	if !ok || kid == "" {
		return nil, invalid("header: kid missing or not a string")
	}
	typ, ok := jsonString(hdr["typ"])
	if !ok {
		return nil, invalid("header: typ missing or not a string")
	}
	if !strings.EqualFold(typ, TypeAccessToken) && !strings.EqualFold(typ, "application/"+TypeAccessToken) {
		return nil, invalid("header: typ %q is not %s", typ, TypeAccessToken)
	}

	// Key: chosen by kid, and it alone decides the algorithm.
	key, ok := v.Keys(kid)
	if !ok || key == nil {
		return nil, invalid("unknown kid")
	}
	if alg != key.Alg {
		return nil, invalid("alg %q does not match the key", alg)
	}

	// Signature.
	sig, err := decodeB64(sSeg)
	if err != nil {
		return nil, invalid("signature: %v", err)
	}
	if err := verifySig(key, tok[:j], sig); err != nil {
		return nil, err
	}

	// Claims, only now that the signature verified.
	pb, err := decodeB64(pSeg)
	if err != nil {
		return nil, invalid("payload: %v", err)
	}
	pl, err := strictObject(pb)
	if err != nil {
		return nil, invalid("payload: %v", err)
	}
	c, err := parseClaims(pl)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	t := now()
	if !t.Before(c.ExpiresAt.Add(v.Leeway)) {
		return nil, fmt.Errorf("%w at %s", ErrExpired, c.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if !c.NotBefore.IsZero() && c.NotBefore.After(t.Add(v.Leeway)) {
		return nil, invalid("not valid before %s", c.NotBefore.UTC().Format(time.RFC3339))
	}
	if !c.IssuedAt.IsZero() && c.IssuedAt.After(t.Add(v.Leeway)) {
		return nil, invalid("issued in the future")
	}
	if c.Issuer != v.Issuer {
		return nil, invalid("wrong issuer")
	}
	audOK := false
	for _, a := range c.Audience {
		if a == v.Audience {
			audOK = true
			break
		}
	}
	if !audOK {
		return nil, invalid("wrong audience")
	}
	return c, nil
}

// verifySig checks sig over input with key, whose Alg fixes the algorithm.
func verifySig(key *Key, input string, sig []byte) error {
	if err := checkPublic(key.Alg, key.Public); err != nil {
		return invalid("unusable key")
	}
	switch key.Alg {
	case EdDSA:
		if len(sig) != ed25519.SignatureSize {
			return invalid("bad signature length")
		}
		if !ed25519.Verify(key.Public.(ed25519.PublicKey), []byte(input), sig) {
			return invalid("bad signature")
		}
		return nil
	case ES256:
		if len(sig) != 64 {
			return invalid("bad signature length")
		}
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		// 0 < r < N and 0 < s <= N/2 (Sign emits low S only, so a
		// signature has no malleable twin).
		if r.Sign() <= 0 || r.Cmp(p256N) >= 0 || s.Sign() <= 0 || s.Cmp(p256HalfN) > 0 {
			return invalid("signature out of range")
		}
		h := sha256.Sum256([]byte(input))
		if !ecdsa.Verify(key.Public.(*ecdsa.PublicKey), h[:], r, s) {
			return invalid("bad signature")
		}
		return nil
	case RS256:
		pub := key.Public.(*rsa.PublicKey)
		if len(sig) != pub.Size() {
			return invalid("bad signature length")
		}
		h := sha256.Sum256([]byte(input))
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig) != nil {
			return invalid("bad signature")
		}
		return nil
	}
	return invalid("unsupported algorithm")
}

// numericDate parses a NumericDate written as a JSON integer (Sign never
// writes fractions or exponents).
func numericDate(raw json.RawMessage) (time.Time, bool) {
	s := string(raw)
	if s == "" || len(s) > 19 {
		return time.Time{}, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, false
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// parseClaims extracts and type-checks the claims from the payload's
// top-level members. Unknown claims are ignored (RFC 7519 §4).
func parseClaims(m map[string]json.RawMessage) (*Claims, error) {
	c := new(Claims)
	str := func(name string, dst *string, required bool) error {
		raw, present := m[name]
		if !present {
			if required {
				return invalid("claim %s missing", name)
			}
			return nil
		}
		s, ok := jsonString(raw)
		if !ok {
			return invalid("claim %s is not a string", name)
		}
		if required && s == "" {
			return invalid("claim %s empty", name)
		}
		*dst = s
		return nil
	}
	date := func(name string, dst *time.Time, required bool) error {
		raw, present := m[name]
		if !present {
			if required {
				return invalid("claim %s missing", name)
			}
			return nil
		}
		t, ok := numericDate(raw)
		if !ok {
			return invalid("claim %s is not a NumericDate", name)
		}
		*dst = t
		return nil
	}
	for _, f := range []error{
		str("iss", &c.Issuer, true),
		str("sub", &c.Subject, true),
		str("jti", &c.ID, true),
		str("sid", &c.SessionID, false),
		str("email", &c.Email, false),
		date("exp", &c.ExpiresAt, true),
		date("iat", &c.IssuedAt, false),
		date("nbf", &c.NotBefore, false),
	} {
		if f != nil {
			return nil, f
		}
	}
	raw, ok := m["aud"]
	if !ok {
		return nil, invalid("claim aud missing")
	}
	if s, ok := jsonString(raw); ok {
		c.Audience = []string{s}
	} else if a, ok := jsonStrings(raw); ok {
		c.Audience = a
	} else {
		return nil, invalid("claim aud is neither a string nor an array of strings")
	}
	if raw, ok := m["roles"]; ok {
		r, ok := jsonStrings(raw)
		if !ok {
			return nil, invalid("claim roles is not an array of strings")
		}
		c.Roles = r
	}
	if raw, ok := m["email_verified"]; ok {
		switch string(raw) {
		case "true":
			c.EmailVerified = true
		case "false":
		default:
			return nil, invalid("claim email_verified is not a boolean")
		}
	}
	return c, nil
}
