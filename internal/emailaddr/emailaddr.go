// Package emailaddr parses the email addresses latch accepts and gives each
// the two forms latch uses: the address it mails, and the key accounts are
// matched on.
//
// The rule the package keeps: two spellings with the same Key are mailed at
// the same mailbox. Key is Mail with its ASCII letters lower-cased, so two
// addresses with one key differ at most in ASCII case, which every mail
// system treats as one mailbox. Unicode case folding (strings.ToLower,
// cases.Fold) is never applied: it maps U+0130 "İ" to "i" and U+212A (Kelvin)
// to "k", letting a spelling that is mailed elsewhere claim an ASCII
// address.
//
// Domains are matched and mailed in IDNA A-label form (UTS #46 lookup
// processing), the form DNS resolves: "exämple.com" and "xn--exmple-cua.com"
// are one domain. A local part outside ASCII is refused unless Unicode local
// parts are allowed; then it is enforced with the PRECIS
// UsernameCasePreserved profile (RFC 8265) and mailed in that form.
package emailaddr

import (
	"net/mail"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
)

// Limits of an address, in bytes.
const (
	// MaxLength is the longest address latch mails (RFC 5321's path limit
	// less the angle brackets).
	MaxLength = 254
	// MaxLocal is the longest local part (RFC 5321 §4.5.3.1.1).
	MaxLocal = 64
	// maxInput bounds the work on a spelling before it is normalised: a
	// fullwidth spelling is up to three times longer than its result.
	maxInput = 4 * MaxLength
)

// Address is an address latch accepts, in the two forms latch uses.
type Address struct {
	// Mail is the address latch sends mail to and shows: the local part as
	// given (in Unicode mode after PRECIS enforcement), "@", the domain's
	// A-label form (as given when that is ASCII and differs only in case).
	Mail string
	// Key is the form accounts are matched on: Mail with its ASCII letters
	// lower-cased. It is ASCII unless Unicode local parts are allowed.
	Key string
}

// Error says why a spelling is not an address latch accepts. Its message
// is written for the person who typed the address.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

var (
	errSyntax   = &Error{"email is not a valid address"}
	errLength   = &Error{"email is too long (at most 254 bytes, 64 before the @)"}
	errNonASCII = &Error{"the part of the email address before the @ must be ASCII: this server does not accept internationalised local parts"}
	errLocal    = &Error{"the part of the email address before the @ has characters that cannot be used in an address"}
	errDomain   = &Error{"the domain of the email address is not a valid domain name"}
)

// Parse checks that s (surrounding space ignored) is one bare address - no
// display name, no comments, no quoted local part, no domain literal - with
// a dotted domain that is a valid IDNA domain name, and returns its forms.
// A local part outside ASCII is refused unless unicode is set. The error is
// an *Error.
func Parse(s string, unicode bool) (Address, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxInput || !utf8.ValidString(s) {
		return Address{}, errSyntax
	}
	if !bare(s) {
		return Address{}, errSyntax
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if !ascii(local) {
		if !unicode {
			return Address{}, errNonASCII
		}
		var err error
		if local, err = precis.UsernameCasePreserved.String(local); err != nil {
			return Address{}, errLocal
		}
	}
	// A trailing dot names the DNS root: refused rather than silently
	// dropped, so that every accepted spelling is one latch can show back.
	if strings.HasSuffix(domain, ".") || strings.ContainsAny(domain, "[] ") {
		return Address{}, errSyntax
	}
	ace, err := idna.Lookup.ToASCII(domain)
	if err != nil || !dnsName(ace) {
		return Address{}, errDomain
	}
	mailDomain := ace
	if ascii(domain) && strings.EqualFold(domain, ace) {
		mailDomain = domain
	}
	addr := local + "@" + mailDomain
	if len(local) > MaxLocal || len(addr) > MaxLength {
		return Address{}, errLength
	}
	// Width mapping may have turned a fullwidth "＠" or "．" into an ASCII
	// special: the normalised form must still be one bare address.
	if !bare(addr) || strings.LastIndexByte(addr, '@') != len(local) {
		return Address{}, errLocal
	}
	return Address{Mail: addr, Key: localKey(local) + "@" + ace}, nil
}

// localKey is the form local parts are matched on: ASCII letters folded,
// nothing else. Folding can put a letter next to a combining mark that
// composes with it only in lower case ("T" + U+0308 has no precomposed
// form, "t" + U+0308 is U+1E97), so the folded form is brought back to NFC,
// the form PRECIS gives every Unicode local part: "T̈" and "ẗ" then share
// a key, as they share a mailbox.
func localKey(local string) string {
	k := lowerASCII(local)
	if ascii(k) {
		return k
	}
	return norm.NFC.String(k)
}

// bare reports whether s is exactly one address, as net/mail reads it,
// with nothing around it and no quoting.
func bare(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s && strings.LastIndexByte(s, '@') > 0
}

// dnsName reports whether ace (from idna.Lookup) is a dotted DNS name of
// non-empty labels within DNS's length limits.
func dnsName(ace string) bool {
	if len(ace) > 253 || !strings.Contains(ace, ".") {
		return false
	}
	for label := range strings.SplitSeq(ace, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
	}
	return true
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// lowerASCII lower-cases the ASCII letters of s and leaves every other
// byte alone.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
