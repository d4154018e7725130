package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Errors wrapped by Verify's refusals. Every refusal wraps ErrInvalid; an
// expired token wraps ErrExpired as well, a revoked one ErrRevoked.
var (
	ErrInvalid = errors.New("verify: invalid token")
	ErrExpired = errors.New("verify: token expired")
	ErrRevoked = errors.New("verify: token revoked")
)

// TypeAccessToken is the typ header of latch's access tokens (RFC 9068).
const TypeAccessToken = "at+jwt"

// DefaultMaxSize is the default Config.MaxTokenSize in bytes.
const DefaultMaxSize = 8192

// Claims are the claims of a verified access token (api.md).
type Claims struct {
	Issuer        string    // iss
	Subject       string    // sub: the user id
	Audience      []string  // aud
	ExpiresAt     time.Time // exp
	IssuedAt      time.Time // iat (zero when absent)
	NotBefore     time.Time // nbf (zero when absent)
	ID            string    // jti
	SessionID     string    // sid: the session (login) the token belongs to
	Roles         []string  // roles
	Email         string    // email
	EmailVerified bool      // email_verified
}

// HasRole reports whether the token carries role.
func (c *Claims) HasRole(role string) bool {
	for _, r := range c.Roles {
		if r == role {
			return true
		}
	}
	return false
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// checks are the claim checks of one verification.
type checks struct {
	issuer, audience string
	leeway           time.Duration
	now              time.Time
	maxSize          int
}

// segments splits a compact JWS into exactly three non-empty segments.
func segments(tok string) (h, p, s string, signed int, err error) {
	i := strings.IndexByte(tok, '.')
	if i < 0 {
		return "", "", "", 0, invalid("not a compact JWS")
	}
	j := strings.IndexByte(tok[i+1:], '.')
	if j < 0 {
		return "", "", "", 0, invalid("not a compact JWS")
	}
	j += i + 1
	if strings.IndexByte(tok[j+1:], '.') >= 0 {
		return "", "", "", 0, invalid("not a compact JWS")
	}
	h, p, s = tok[:i], tok[i+1:j], tok[j+1:]
	if h == "" || p == "" || s == "" {
		return "", "", "", 0, invalid("empty segment")
	}
	return h, p, s, j, nil
}

// parseHeader decodes the protected header: only alg, kid and typ are
// accepted, each a string; typ must be at+jwt.
func parseHeader(seg string) (alg, kid string, err error) {
	var buf [256]byte
	dst := buf[:]
	if n := b64.DecodedLen(len(seg)); n > len(buf) {
		dst = make([]byte, n)
	}
	hb, err := decodeB64Into(dst, seg)
	if err != nil {
		return "", "", invalid("header: %v", err)
	}
	var typ string
	var haveTyp bool
	err = scanObject(hb, func(name string, raw []byte) error {
		var ok bool
		switch name {
		case "alg":
			alg, ok = jsonString(raw)
		case "kid":
			kid, ok = jsonString(raw)
		case "typ":
			typ, ok = jsonString(raw)
			haveTyp = ok
		default:
			return fmt.Errorf("header parameter %q not accepted", name)
		}
		if !ok {
			return fmt.Errorf("header parameter %q is not a string", name)
		}
		return nil
	})
	if err != nil {
		return "", "", invalid("header: %v", err)
	}
	if alg == "" || kid == "" {
		return "", "", invalid("header: alg or kid missing")
	}
	if !haveTyp || !strings.EqualFold(typ, TypeAccessToken) && !strings.EqualFold(typ, "application/"+TypeAccessToken) {
		return "", "", invalid("header: typ is not %s", TypeAccessToken)
	}
	return alg, kid, nil
}

var (
	p256N     = elliptic.P256().Params().N
	p256HalfN = new(big.Int).Rsh(p256N, 1)
)

// verifySig checks sig over input with key, whose Alg fixes the algorithm.
func verifySig(key *Key, input string, sigSeg string) error {
	var buf [512]byte
	dst := buf[:]
	if n := b64.DecodedLen(len(sigSeg)); n > len(buf) {
		dst = make([]byte, n)
	}
	sig, err := decodeB64Into(dst, sigSeg)
	if err != nil {
		return invalid("signature: %v", err)
	}
	switch key.Alg {
	case EdDSA:
		pub, ok := key.Public.(ed25519.PublicKey)
		if !ok || len(sig) != ed25519.SignatureSize {
			return invalid("bad signature")
		}
		if !ed25519.Verify(pub, []byte(input), sig) {
			return invalid("bad signature")
		}
		return nil
	case ES256:
		pub, ok := key.Public.(*ecdsa.PublicKey)
		if !ok || len(sig) != 64 {
			return invalid("bad signature")
		}
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		// 0 < r < N and 0 < s <= N/2: latch signs low-S only, so a token
		// has no malleable twin.
		if r.Sign() <= 0 || r.Cmp(p256N) >= 0 || s.Sign() <= 0 || s.Cmp(p256HalfN) > 0 {
			return invalid("signature out of range")
		}
		h := sha256.Sum256([]byte(input))
		if !ecdsa.Verify(pub, h[:], r, s) {
			return invalid("bad signature")
		}
		return nil
	case RS256:
		pub, ok := key.Public.(*rsa.PublicKey)
		if !ok || len(sig) != pub.Size() {
			return invalid("bad signature")
		}
		h := sha256.Sum256([]byte(input))
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig) != nil {
			return invalid("bad signature")
		}
		return nil
	}
	return invalid("unsupported algorithm")
}

// numericDate parses a NumericDate written as a JSON integer.
func numericDate(raw []byte) (time.Time, bool) {
	if len(raw) == 0 || len(raw) > 19 {
		return time.Time{}, false
	}
	for _, c := range raw {
		if c < '0' || c > '9' {
			return time.Time{}, false
		}
	}
	if len(raw) > 1 && raw[0] == '0' {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0).UTC(), true
}

// parseClaims decodes and type-checks the payload. Unknown claims are
// ignored (RFC 7519 §4).
func parseClaims(seg string) (*Claims, error) {
	var buf [1024]byte
	dst := buf[:]
	if n := b64.DecodedLen(len(seg)); n > len(buf) {
		dst = make([]byte, n)
	}
	pb, err := decodeB64Into(dst, seg)
	if err != nil {
		return nil, invalid("payload: %v", err)
	}
	c := new(Claims)
	var have struct{ iss, sub, jti, exp, aud bool }
	err = scanObject(pb, func(name string, raw []byte) error {
		var ok bool
		switch name {
		case "iss":
			c.Issuer, ok = jsonString(raw)
			have.iss = ok && c.Issuer != ""
		case "sub":
			c.Subject, ok = jsonString(raw)
			have.sub = ok && c.Subject != ""
		case "jti":
			c.ID, ok = jsonString(raw)
			have.jti = ok && c.ID != ""
		case "sid":
			c.SessionID, ok = jsonString(raw)
		case "email":
			c.Email, ok = jsonString(raw)
		case "exp":
			c.ExpiresAt, ok = numericDate(raw)
			have.exp = ok
		case "iat":
			c.IssuedAt, ok = numericDate(raw)
		case "nbf":
			c.NotBefore, ok = numericDate(raw)
		case "aud":
			if s, isStr := jsonString(raw); isStr {
				c.Audience, ok = []string{s}, true
			} else {
				c.Audience, ok = jsonStrings(raw)
			}
			have.aud = ok
		case "roles":
			c.Roles, ok = jsonStrings(raw)
		case "email_verified":
			switch string(raw) {
			case "true":
				c.EmailVerified, ok = true, true
			case "false":
				ok = true
			}
		default:
			return nil
		}
		if !ok {
			return fmt.Errorf("claim %s has the wrong type", name)
		}
		return nil
	})
	if err != nil {
		return nil, invalid("payload: %v", err)
	}
	switch {
	case !have.iss:
		return nil, invalid("claim iss missing")
	case !have.sub:
		return nil, invalid("claim sub missing")
	case !have.jti:
		return nil, invalid("claim jti missing")
	case !have.exp:
		return nil, invalid("claim exp missing")
	case !have.aud:
		return nil, invalid("claim aud missing")
	}
	return c, nil
}

// verifyToken checks tok with the key lookup and the claim checks:
// compact form, header, key by kid (which pins the algorithm), signature,
// then the claims. Revocation is checked by the caller.
func verifyToken(tok string, keyFor func(kid string) (*Key, error), ck *checks) (*Claims, error) {
	max := ck.maxSize
	if max <= 0 {
		max = DefaultMaxSize
	}
	if len(tok) > max {
		return nil, invalid("token larger than %d bytes", max)
	}
	hSeg, pSeg, sSeg, signed, err := segments(tok)
	if err != nil {
		return nil, err
	}
	alg, kid, err := parseHeader(hSeg)
	if err != nil {
		return nil, err
	}
	key, err := keyFor(kid)
	if err != nil {
		return nil, err
	}
	if alg != key.Alg {
		return nil, invalid("alg %q does not match the key", alg)
	}
	if err := verifySig(key, tok[:signed], sSeg); err != nil {
		return nil, err
	}
	c, err := parseClaims(pSeg)
	if err != nil {
		return nil, err
	}
	t := ck.now
	if !t.Before(c.ExpiresAt.Add(ck.leeway)) {
		return nil, fmt.Errorf("%w: %w at %s", ErrInvalid, ErrExpired, c.ExpiresAt.Format(time.RFC3339))
	}
	if !c.NotBefore.IsZero() && c.NotBefore.After(t.Add(ck.leeway)) {
		return nil, invalid("not valid before %s", c.NotBefore.Format(time.RFC3339))
	}
	if !c.IssuedAt.IsZero() && c.IssuedAt.After(t.Add(ck.leeway)) {
		return nil, invalid("issued in the future")
	}
	if c.Issuer != ck.issuer {
		return nil, invalid("wrong issuer")
	}
	audOK := false
	for _, a := range c.Audience {
		if a == ck.audience {
			audOK = true
			break
		}
	}
	if !audOK {
		return nil, invalid("wrong audience")
	}
	return c, nil
}
