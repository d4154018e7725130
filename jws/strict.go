package jws

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// b64 is the only base64 flavour accepted anywhere: URL alphabet, no
// padding, zero trailing bits.
var b64 = base64.RawURLEncoding.Strict()

// isB64URL reports whether s consists only of characters of the base64url
// alphabet. encoding/base64 silently skips '\r' and '\n' even in strict
// mode, so the alphabet is checked separately before decoding.
func isB64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// decodeB64Into decodes s strictly into dst (which must be large enough)
// and returns the decoded bytes.
func decodeB64Into(dst []byte, s string) ([]byte, error) {
	if !isB64URL(s) {
		return nil, errors.New("not base64url")
	}
	n, err := b64.Decode(dst, []byte(s))
	if err != nil {
		return nil, errors.New("not canonical base64url")
	}
	return dst[:n], nil
}

// DecodeSegment decodes s strictly as a JWS segment is encoded: base64url
// alphabet only, no padding, no whitespace, canonical (unused trailing bits
// zero). It is the only base64 decoding latch and verify use.
func DecodeSegment(s string) ([]byte, error) {
	b, err := decodeB64Into(make([]byte, b64.DecodedLen(len(s))), s)
	if err != nil {
		return nil, fmt.Errorf("jws: %w", err)
	}
	return b, nil
}

// decodeB64 decodes s strictly (see DecodeSegment).
func decodeB64(s string) ([]byte, error) {
	return decodeB64Into(make([]byte, b64.DecodedLen(len(s))), s)
}

// maxJSONDepth bounds the nesting of objects and arrays in a header,
// payload or JWK (the top-level object counts as one).
const maxJSONDepth = 32

// maxMembers bounds the top-level members of a header, payload or JWK.
const maxMembers = 64

var errMalformed = errors.New("malformed JSON")

// scanObject checks that b is exactly one JSON object (RFC 8259) in valid
// UTF-8, with no duplicate member names at any depth (compared after
// unescaping) and nothing but whitespace after it, and calls member for
// each top-level member with its raw value, in order.
//
// It is a single-pass scanner rather than json.Decoder.Token plus
// json.Unmarshal because it runs on every verified token, and it hands the
// members to a callback rather than collecting them in a map so that
// verification allocates no map; FuzzScanObject checks it against
// encoding/json.
func scanObject(b []byte, member func(name string, raw []byte) error) error {
	if !utf8.Valid(b) {
		return errors.New("invalid UTF-8")
	}
	p := jsonParser{b: b}
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return errors.New("not a JSON object")
	}
	if err := p.object(1, member); err != nil {
		return err
	}
	p.ws()
	if p.i != len(p.b) {
		return errors.New("trailing data after JSON")
	}
	return nil
}

// jsonParser scans JSON text already known to be valid UTF-8.
type jsonParser struct {
	b []byte
	i int
}

func (p *jsonParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) error {
	if p.i >= len(p.b) {
		return errMalformed
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth+1, nil)
	case c == '[':
		_, err := p.elements(depth+1, false)
		return err
	case c == '"':
		_, err := p.str()
		return err
	case c == '-' || ('0' <= c && c <= '9'):
		return p.number()
	case c == 't':
		return p.lit("true")
	case c == 'f':
		return p.lit("false")
	case c == 'n':
		return p.lit("null")
	}
	return errMalformed
}

func (p *jsonParser) lit(s string) error {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return errMalformed
	}
	p.i += len(s)
	return nil
}

// object scans an object at p.i. At the top level (member != nil) each
// member is handed to member; duplicates are found by a linear search of
// the few names seen. Nested objects use a set.
func (p *jsonParser) object(depth int, member func(name string, raw []byte) error) error {
	if depth > maxJSONDepth {
		return errors.New("JSON nested too deeply")
	}
	p.i++ // '{'
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return nil
	}
	var (
		top    [16]string
		names  = top[:0]
		nested map[string]struct{}
	)
	if member == nil {
		nested = make(map[string]struct{})
	}
	for {
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return errMalformed
		}
		name, err := p.str()
		if err != nil {
			return err
		}
		if member != nil {
			for _, n := range names {
				if n == name {
					return fmt.Errorf("duplicate JSON member %q", name)
				}
			}
			if len(names) == maxMembers {
				return errors.New("too many JSON members")
			}
			names = append(names, name)
		} else {
			if _, dup := nested[name]; dup {
				return fmt.Errorf("duplicate JSON member %q", name)
			}
			nested[name] = struct{}{}
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return errMalformed
		}
		p.i++
		p.ws()
		start := p.i
		if err := p.value(depth); err != nil {
			return err
		}
		if member != nil {
			if err := member(name, p.b[start:p.i:p.i]); err != nil {
				return err
			}
		}
		p.ws()
		if p.i >= len(p.b) {
			return errMalformed
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return errMalformed
		}
	}
}

// elements scans an array at p.i, returning the raw elements if keep.
func (p *jsonParser) elements(depth int, keep bool) ([][]byte, error) {
	if depth > maxJSONDepth {
		return nil, errors.New("JSON nested too deeply")
	}
	p.i++ // '['
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return nil, nil
	}
	var out [][]byte
	for {
		p.ws()
		start := p.i
		if err := p.value(depth); err != nil {
			return nil, err
		}
		if keep {
			out = append(out, p.b[start:p.i:p.i])
		}
		p.ws()
		if p.i >= len(p.b) {
			return nil, errMalformed
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return out, nil
		default:
			return nil, errMalformed
		}
	}
}

// str scans a string at p.i and returns its decoded value.
func (p *jsonParser) str() (string, error) {
	start := p.i
	p.i++ // '"'
	escaped := false
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			if !escaped {
				return string(p.b[start+1 : p.i-1]), nil
			}
			var s string
			if err := json.Unmarshal(p.b[start:p.i], &s); err != nil {
				return "", errMalformed
			}
			return s, nil
		case c < 0x20:
			return "", errMalformed
		case c == '\\':
			escaped = true
			p.i++
			if p.i >= len(p.b) {
				return "", errMalformed
			}
			switch p.b[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i++
			case 'u':
				if len(p.b)-p.i < 5 {
					return "", errMalformed
				}
				for _, h := range p.b[p.i+1 : p.i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return "", errMalformed
					}
				}
				p.i += 5
			default:
				return "", errMalformed
			}
		default:
			p.i++
		}
	}
	return "", errMalformed
}

// number scans a number at p.i (RFC 8259 §6 grammar).
func (p *jsonParser) number() error {
	digits := func() int {
		n := 0
		for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.b[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return errMalformed
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return errMalformed
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return errMalformed
		}
	}
	return nil
}

// jsonString decodes raw as a JSON string, refusing any other type
// (including null, which json.Unmarshal would silently accept).
func jsonString(raw []byte) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	p := jsonParser{b: raw}
	s, err := p.str()
	if err != nil || p.i != len(raw) {
		return "", false
	}
	return s, true
}

// jsonStrings decodes raw as a JSON array of strings.
func jsonStrings(raw []byte) ([]string, bool) {
	if len(raw) == 0 || raw[0] != '[' {
		return nil, false
	}
	p := jsonParser{b: raw}
	items, err := p.elements(1, true)
	if err != nil || p.i != len(raw) {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, ok := jsonString(it)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}
