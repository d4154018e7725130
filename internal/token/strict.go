package token

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// b64 is the only base64 flavour accepted anywhere in this package:
// URL alphabet, no padding, zero trailing bits.
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

// decodeB64 decodes s strictly: base64url alphabet only, no padding, no
// whitespace, canonical (trailing bits zero).
func decodeB64(s string) ([]byte, error) {
	if !isB64URL(s) {
		return nil, errors.New("not base64url")
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, errors.New("not canonical base64url")
	}
	return b, nil
}

// maxJSONDepth bounds nesting of objects and arrays in a header or payload.
const maxJSONDepth = 32

// strictObject checks that b is exactly one JSON object in valid UTF-8,
// with no duplicate member names at any depth and nothing after it, and
// returns its top-level members.
func strictObject(b []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("invalid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := checkValue(dec, 0, true); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after JSON")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

// checkValue consumes one JSON value from dec, refusing duplicate object
// member names and nesting deeper than maxJSONDepth. If mustObject is set
// the value has to be an object.
func checkValue(dec *json.Decoder, depth int, mustObject bool) error {
	if depth > maxJSONDepth {
		return errors.New("JSON nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("malformed JSON")
	}
	d, isDelim := tok.(json.Delim)
	if mustObject && (!isDelim || d != '{') {
		return errors.New("not a JSON object")
	}
	if !isDelim {
		return nil
	}
	switch d {
	case '{':
		seen := make(map[string]struct{})
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return errors.New("malformed JSON")
			}
			k, ok := kt.(string)
			if !ok {
				return errors.New("malformed JSON")
			}
			if _, dup := seen[k]; dup {
				return fmt.Errorf("duplicate JSON member %q", k)
			}
			seen[k] = struct{}{}
			if err := checkValue(dec, depth+1, false); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // '}'
			return errors.New("malformed JSON")
		}
	case '[':
		for dec.More() {
			if err := checkValue(dec, depth+1, false); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // ']'
			return errors.New("malformed JSON")
		}
	default:
		return errors.New("malformed JSON")
	}
	return nil
}

// jsonString decodes raw as a JSON string, refusing any other type
// (including null, which json.Unmarshal would silently accept).
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// jsonStrings decodes raw as a JSON array of strings.
func jsonStrings(raw json.RawMessage) ([]string, bool) {
	if len(raw) == 0 || raw[0] != '[' {
		return nil, false
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
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
