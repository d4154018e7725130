package password

import (
	"encoding/base64"
	"fmt"
	"strings"
)

type scheme int

const (
	schemeArgon2id scheme = iota + 1
	schemeArgon2i
	schemeBcrypt
)

// decoded is a parsed encoded hash.
type decoded struct {
	scheme scheme
	// argon2
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
	// bcrypt: the whole 60-byte hash
	raw []byte
	// bcrypt cost
	cost int
}

// b64 is PHC's base64: standard alphabet, no padding, canonical only.
var b64 = base64.RawStdEncoding.Strict()

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformedHash}, args...)...)
}

// parse parses encoded strictly and checks its parameters against h's
// limits. It never panics and never allocates more than the string's size.
func (h *Hasher) parse(encoded string) (*decoded, error) {
	if len(encoded) > maxEncodedLen {
		return nil, malformed("longer than %d bytes", maxEncodedLen)
	}
	// encoding/base64 skips CR and LF even in strict mode: refuse them here
	// so that a hash has one spelling.
	if strings.ContainsAny(encoded, "\r\n") {
		return nil, malformed("contains a line break")
	}
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		return h.parseArgon2(encoded, schemeArgon2id)
	case strings.HasPrefix(encoded, "$argon2i$"):
		return h.parseArgon2(encoded, schemeArgon2i)
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		return h.parseBcrypt(encoded)
	}
	name := "(no $scheme$ prefix)"
	if rest, ok := strings.CutPrefix(encoded, "$"); ok {
		if i := strings.IndexByte(rest, '$'); i >= 0 && i <= 16 {
			name = "$" + rest[:i] + "$"
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedHash, name)
}

// parseArgon2 parses "$argon2id$v=19$m=M,t=T,p=P$SALT$KEY" (PHC string
// format: decimal parameters without leading zeros, salt and key in
// unpadded standard base64). The parameters may come in any order, as
// node-argon2 writes "m=M,p=P,t=T".
func (h *Hasher) parseArgon2(encoded string, s scheme) (*decoded, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return nil, malformed("argon2: want 5 $-separated fields, got %d", len(parts)-1)
	}
	if parts[2] != "v=19" {
		if strings.HasPrefix(parts[2], "v=") {
			return nil, fmt.Errorf("%w: argon2 version %q", ErrUnsupportedHash, parts[2])
		}
		return nil, malformed("argon2: want version field v=19")
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return nil, malformed("argon2: want parameters m, t and p")
	}
	var vals [3]uint32
	var seen [3]bool
	for _, kv := range params {
		k, v, _ := strings.Cut(kv, "=")
		i := strings.Index("mtp", k)
		if len(k) != 1 || i < 0 || seen[i] {
			return nil, malformed("argon2: want parameters m, t and p, each once")
		}
		n, ok := parseUint32(v)
		if !ok {
			return nil, malformed("argon2: bad number for %s", k)
		}
		vals[i], seen[i] = n, true
	}
	m, t, p := vals[0], vals[1], vals[2]
	switch {
	case t < 1:
		return nil, malformed("argon2: t must be at least 1")
	case p < 1:
		return nil, malformed("argon2: p must be at least 1")
	case p > uint32(h.lim.threads):
		return nil, malformed("argon2: p=%d above limit %d", p, h.lim.threads)
	case m < 8*p:
		return nil, malformed("argon2: m must be at least 8*p")
	case m > h.lim.memory:
		return nil, malformed("argon2: m=%d above limit %d", m, h.lim.memory)
	case t > h.lim.time:
		return nil, malformed("argon2: t=%d above limit %d", t, h.lim.time)
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return nil, malformed("argon2: salt is not base64")
	}
	if len(salt) < 8 || len(salt) > 64 {
		return nil, malformed("argon2: salt of %d bytes (want 8 to 64)", len(salt))
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil {
		return nil, malformed("argon2: hash is not base64")
	}
	if len(key) < 16 || len(key) > 64 {
		return nil, malformed("argon2: hash of %d bytes (want 16 to 64)", len(key))
	}
	return &decoded{scheme: s, memory: m, time: t, threads: uint8(p), salt: salt, key: key}, nil
}

// parseUint32 parses a decimal without sign or leading zeros.
func parseUint32(s string) (uint32, bool) {
	if s == "" || len(s) > 10 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > 1<<32-1 {
		return 0, false
	}
	return uint32(n), true
}

// bcryptAlphabet is bcrypt's own base64 alphabet.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// parseBcrypt parses "$2b$CC$" followed by 53 characters of bcrypt base64
// (22 of salt, 31 of hash): 60 bytes in all.
func (h *Hasher) parseBcrypt(encoded string) (*decoded, error) {
	if len(encoded) != 60 {
		return nil, malformed("bcrypt: %d bytes (want 60)", len(encoded))
	}
	c1, c2 := encoded[4], encoded[5]
	if c1 < '0' || c1 > '9' || c2 < '0' || c2 > '9' || encoded[6] != '$' {
		return nil, malformed("bcrypt: want two-digit cost")
	}
	cost := int(c1-'0')*10 + int(c2-'0')
	if cost < 4 || cost > 31 {
		return nil, malformed("bcrypt: cost %d out of range 4..31", cost)
	}
	if cost > h.lim.bcryptCost {
		return nil, malformed("bcrypt: cost %d above limit %d", cost, h.lim.bcryptCost)
	}
	for i := 7; i < len(encoded); i++ {
		if strings.IndexByte(bcryptAlphabet, encoded[i]) < 0 {
			return nil, malformed("bcrypt: bad character at %d", i)
		}
	}
	return &decoded{scheme: schemeBcrypt, raw: []byte(encoded), cost: cost}, nil
}
