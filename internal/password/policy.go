package password

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Defaults of Policy.
const (
	DefaultMinLength = 8
	DefaultMaxLength = 1024
	// MinMaxLength is the least MaxLength a Policy applies: api.md accepts
	// passwords of at least 256 characters.
	MinMaxLength = 256
	// minLocalPart is the shortest email local part that passwords may not
	// contain; shorter ones would ban too much ("del@" and "deletion", and
	// every word with "a" for "a@x").
	minLocalPart = 4
)

// Normalize returns pw in Unicode Normalization Form C, the form in which
// passwords are hashed, compared and counted.
func Normalize(pw string) string { return norm.NFC.String(pw) }

// Policy is latch's password policy (NIST SP 800-63B): a length in code
// points after NFC normalisation, no composition rules, no common
// passwords and none that contain the account's email local part.
type Policy struct {
	// MinLength is the least number of code points; default 8.
	MinLength int
	// MaxLength is the greatest number of code points; default 1024, and
	// never below 256. Longer passwords are refused, never truncated.
	MaxLength int
}

// PolicyError is the error of a password that breaks the policy.
type PolicyError struct {
	// Reason is a sentence fragment safe to show the user, to follow the
	// word "Password", e.g. "must be at least 8 characters".
	Reason string
}

// Error returns "password " followed by the reason.
func (e *PolicyError) Error() string { return "password " + e.Reason }

// Check returns nil when pw is acceptable as a new password of the account
// with email, and otherwise a *PolicyError saying why not.
//
// pw must be valid UTF-8; spaces and every printable character are
// allowed. It is counted in code points after NFC normalisation. It may
// not be a common password (see IsCommon) and may not contain the local
// part of email (case-insensitively) when that is at least 4 characters.
func (p Policy) Check(pw, email string) error {
	minLen, maxLen := p.MinLength, p.MaxLength
	if minLen <= 0 {
		minLen = DefaultMinLength
	}
	if maxLen <= 0 {
		maxLen = DefaultMaxLength
	}
	maxLen = max(maxLen, MinMaxLength, minLen)

	if !utf8.ValidString(pw) {
		return &PolicyError{Reason: "must be valid UTF-8 text"}
	}
	npw := Normalize(pw)
	n := utf8.RuneCountInString(npw)
	if n < minLen {
		return &PolicyError{Reason: fmt.Sprintf("must be at least %d characters", minLen)}
	}
	if n > maxLen {
		return &PolicyError{Reason: fmt.Sprintf("must be at most %d characters", maxLen)}
	}
	lower := strings.ToLower(npw)
	for _, part := range localParts(email) {
		if strings.Contains(lower, part) {
			return &PolicyError{Reason: "must not contain the part of your email address before the @"}
		}
	}
	if isCommonLower(lower) {
		return &PolicyError{Reason: "is too common"}
	}
	return nil
}

// localParts returns the lower-cased, normalised local part of email and,
// for "name+tag@host", also "name", keeping those of at least minLocalPart
// code points.
func localParts(email string) []string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return nil
	}
	local := strings.ToLower(Normalize(email[:at]))
	var parts []string
	if utf8.RuneCountInString(local) >= minLocalPart {
		parts = append(parts, local)
	}
	if base, _, ok := strings.Cut(local, "+"); ok && utf8.RuneCountInString(base) >= minLocalPart {
		parts = append(parts, base)
	}
	return parts
}
