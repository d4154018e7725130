package jws

import (
	"errors"
	"strings"
)

// Errors of ParseBearer.
var (
	ErrNoBearer  = errors.New("jws: no Authorization header")
	ErrBadBearer = errors.New("jws: malformed Authorization header")
)

// ParseBearer extracts the token of a request's Authorization header
// values (RFC 6750 §2.1): exactly one header, the scheme "Bearer" in any
// case, one or more spaces, then a single b64token. It returns ErrNoBearer
// when there is no header and ErrBadBearer for anything else that does not
// fit. Tokens in query strings or bodies are never looked at.
func ParseBearer(values []string) (string, error) {
	switch len(values) {
	case 0:
		return "", ErrNoBearer
	case 1:
	default:
		return "", ErrBadBearer
	}
	scheme, rest, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrBadBearer
	}
	tok := strings.TrimLeft(rest, " ")
	if !IsB64Token(tok) {
		return "", ErrBadBearer
	}
	return tok, nil
}

// IsB64Token reports whether s matches RFC 6750's
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func IsB64Token(s string) bool {
	i := 0
	for i < len(s) {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			i++
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}
