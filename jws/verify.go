package jws

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// TypeAccessToken is the typ header of access tokens (RFC 9068).
const TypeAccessToken = "at+jwt"

// DefaultMaxSize is the default Checks.MaxSize in bytes.
const DefaultMaxSize = 8192

// Claims of an access token (RFC 9068, api.md).
type Claims struct {
	Issuer        string    // iss
	Subject       string    // sub: the user id
	Audience      []string  // aud
	ExpiresAt     time.Time // exp (NumericDate: seconds, maybe fractional)
	IssuedAt      time.Time // iat (zero when absent)
	NotBefore     time.Time // nbf (zero when absent)
	ID            string    // jti
	SessionID     string    // sid: the session (login) the token belongs to
	Roles         []string  // roles
	Email         string    // email
	EmailVerified bool      // email_verified
	AMR           []string  // amr (RFC 8176): how the session was authenticated, e.g. ["pwd","otp","mfa"]
	ACR           string    // acr: "aal1" (one factor) or "aal2" (two)
	// AppMetadata is the app_metadata claim: the JSON object an admin set
	// for the user, as signed ({} when none; nil when the token has no
	// such claim). Decode it with json.Unmarshal into what you expect.
	AppMetadata json.RawMessage
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

// Checks are what Verify requires of a token's claims.
type Checks struct {
	// Issuer is the required iss.
	Issuer string
	// Audience must be one of the token's aud values.
	Audience string
	// Leeway is the clock skew allowed on exp, nbf and iat.
	Leeway time.Duration
	// Now is the time to check exp, nbf and iat against; the zero value
	// means time.Now.
	Now time.Time
	// MaxSize is the largest token accepted, in bytes (DefaultMaxSize when
	// zero). Larger tokens are refused before any decoding.
	MaxSize int
}

// Errors that refusals wrap: every refusal wraps ErrInvalid; one of a
// token whose only fault is that it expired wraps ErrExpired as well.
var (
	ErrInvalid = errors.New("jws: invalid token")
	ErrExpired = errors.New("jws: token expired")
)

// An Error is Verify's refusal of a token.
type Error struct {
	// Reason says what is wrong, for logs ("header: typ is not at+jwt").
	// It never contains the token.
	Reason string
	// Expired is set when the token is well-formed and correctly signed
	// but its exp has passed.
	Expired bool
}

func (e *Error) Error() string { return "jws: invalid token: " + e.Reason }

// Is makes a refusal match ErrInvalid, and ErrExpired when Expired.
func (e *Error) Is(target error) bool {
	return target == ErrInvalid || e.Expired && target == ErrExpired
}

func invalid(format string, args ...any) error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

// Verify is the rule that decides whether an access token is accepted,
// with no key management around it: the caller supplies keyFor and the
// checks. A service accepting latch tokens wants verify.Verifier, which
// fetches and caches the keys and calls Verify; latch's server calls it
// through internal/token's IssuerVerifier (see the package doc).
//
// Verify checks the compact JWS tok (RFC 7515 §7.1, RFC 8725, RFC 9068):
// three segments of canonical base64url; a header of exactly one JSON
// object without duplicate members, with only the parameters alg, kid and
// typ, all strings, typ at+jwt; the key that keyFor returns for the kid,
// whose Alg must equal the header's alg (the key pins the algorithm, never
// the token); the signature (ES256 low-S only); and only then the payload,
// a strict JSON object whose claims have their types (iss, sub, jti, exp
// and aud required; NumericDates non-negative, without exponent, and
// no later than year 9999), against ck.
//
// Refusals are *Error values; an error keyFor returns is passed on as it
// is. Verify allocates no map: the claims are decoded as the payload is
// scanned.
func Verify(tok string, keyFor func(kid string) (*Key, error), ck *Checks) (*Claims, error) {
	max := ck.MaxSize
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
	if key == nil {
		return nil, invalid("unknown kid")
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
	// A zero Now must not mean year 1, before which every token is
	// unexpired.
	t := ck.Now
	if t.IsZero() {
		t = time.Now()
	}
	if !t.Before(c.ExpiresAt.Add(ck.Leeway)) {
		return nil, &Error{Reason: "expired at " + c.ExpiresAt.Format(time.RFC3339), Expired: true}
	}
	if !c.NotBefore.IsZero() && c.NotBefore.After(t.Add(ck.Leeway)) {
		return nil, invalid("not valid before %s", c.NotBefore.Format(time.RFC3339))
	}
	if !c.IssuedAt.IsZero() && c.IssuedAt.After(t.Add(ck.Leeway)) {
		return nil, invalid("issued in the future")
	}
	if c.Issuer != ck.Issuer {
		return nil, invalid("wrong issuer")
	}
	audOK := false
	for _, a := range c.Audience {
		if a == ck.Audience {
			audOK = true
			break
		}
	}
	if !audOK {
		return nil, invalid("wrong audience")
	}
	return c, nil
}

// segments splits a compact JWS into exactly three non-empty segments and
// returns the length of the signing input.
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
// accepted (everything else - crit, jku, x5u, jwk, x5c, x5t, b64, cty... -
// is refused), each a string; alg and kid non-empty, typ at+jwt.
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

// verifySig checks the signature segment over input with key, whose Alg
// fixes the algorithm.
func verifySig(key *Key, input string, sigSeg string) error {
	if err := checkKey(key.Alg, key.Public, false); err != nil {
		return invalid("unusable key")
	}
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
		// 0 < r < N and 0 < s <= N/2: latch signs low-S only, so a token
		// has no malleable twin.
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

// parseClaims decodes and type-checks the payload in one scan, without a
// map. Unknown claims are ignored (RFC 7519 §4).
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
		case "amr":
			c.AMR, ok = jsonStrings(raw)
		case "acr":
			c.ACR, ok = jsonString(raw)
		case "app_metadata":
			// Already checked as JSON by the scan; only objects are
			// metadata. A copy: raw may live in a reused buffer.
			if ok = len(raw) > 0 && raw[0] == '{'; ok {
				c.AppMetadata = append(json.RawMessage(nil), raw...)
			}
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
