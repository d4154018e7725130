package httpapi

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// maxFormParams bounds how many parameters an OAuth request may carry; the
// endpoints know fewer than ten.
const maxFormParams = 64

// errFormSyntax and errFormDuplicate are wrapped by parseOAuthForm's errors.
var (
	errFormSyntax    = errors.New("httpapi: malformed form")
	errFormDuplicate = errors.New("httpapi: duplicate form parameter")
)

// parseOAuthForm parses an application/x-www-form-urlencoded body strictly,
// as RFC 6749 §3.2 wants: a parameter given twice is refused (even with the
// same value), a parameter without a value counts as absent, names and
// values must be valid UTF-8 after percent-decoding ("+" is a space), and a
// bad percent escape is refused rather than skipped. Empty segments ("a=1&&")
// are ignored. Unlike url.ParseQuery a ";" is part of a value, not an error.
func parseOAuthForm(body string) (map[string]string, error) {
	form := make(map[string]string)
	seen := make(map[string]bool)
	n := 0
	for body != "" {
		var pair string
		pair, body, _ = strings.Cut(body, "&")
		if pair == "" {
			continue
		}
		if n++; n > maxFormParams {
			return nil, fmt.Errorf("%w: more than %d parameters", errFormSyntax, maxFormParams)
		}
		rawName, rawValue, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			return nil, fmt.Errorf("%w: bad escape in a parameter name", errFormSyntax)
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return nil, fmt.Errorf("%w: bad escape in parameter %q", errFormSyntax, printable(name))
		}
		if !utf8.ValidString(name) || !utf8.ValidString(value) {
			return nil, fmt.Errorf("%w: parameter %q is not valid UTF-8", errFormSyntax, printable(name))
		}
		if name == "" {
			return nil, fmt.Errorf("%w: a parameter has no name", errFormSyntax)
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: %q", errFormDuplicate, printable(name))
		}
		seen[name] = true
		if value != "" {
			form[name] = value
		}
	}
	return form, nil
}

// printable shortens a client-chosen parameter name for an error
// description: at most 40 bytes of printable ASCII, "?" for the rest.
func printable(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b[i] = '?'
		}
	}
	return string(b)
}
