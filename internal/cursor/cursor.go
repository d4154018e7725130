// Package cursor is the one format of the cursors latch hands to clients:
// the next page of the user list and of the audit log, and the position of
// a revocation feed follower.
//
// A cursor is opaque to clients: unpadded base64url of a fixed binary
// layout (a version byte, the kind of list, two numbers and a text id).
// Decoding is strict, so that every cursor has exactly one spelling and
// anything a client made up or mangled is refused (the caller answers 400),
// never read as some other position. The kind keeps a cursor of one list
// from being accepted by another.
package cursor

import (
	"encoding/base64"
	"encoding/binary"
	"unicode/utf8"

	"github.com/latchauth/latch/jws"
)

// Kind names the list a cursor belongs to.
type Kind byte

// The lists that hand out cursors.
const (
	Users       Kind = 'u' // the admin user list
	Audit       Kind = 'a' // the audit log
	Revocations Kind = 'r' // the revocation feed
	Deliveries  Kind = 'd' // a webhook's deliveries
)

// Position is what a cursor holds. Each list uses the fields it needs and
// leaves the others zero; its decoder checks that they are.
type Position struct {
	// Micros is an instant in microseconds since the Unix epoch.
	Micros int64
	// Num is a row id or a fingerprint.
	Num uint64
	// ID is a text row id (valid UTF-8).
	ID string
}

const (
	// version is the layout's version: bumping it makes every old cursor
	// invalid, which clients handle by starting over.
	version = 1
	// header is the fixed part: version, kind, Micros, Num.
	header = 1 + 1 + 8 + 8
	// MaxLen bounds a cursor's text, checked before decoding anything.
	MaxLen = 256
)

// Encode returns the cursor of p in the list kind.
func Encode(kind Kind, p Position) string {
	b := make([]byte, header, header+len(p.ID))
	b[0], b[1] = version, byte(kind)
	binary.BigEndian.PutUint64(b[2:], uint64(p.Micros))
	binary.BigEndian.PutUint64(b[10:], p.Num)
	b = append(b, p.ID...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode reads a cursor made by Encode for the list kind. ok is false for
// anything else: another list's cursor, another version, a text that is
// not canonical unpadded base64url, an ID that is not UTF-8.
func Decode(kind Kind, s string) (p Position, ok bool) {
	if len(s) > MaxLen {
		return Position{}, false
	}
	b, err := jws.DecodeSegment(s) // strict: no padding, no CR/LF, no stray bits
	if err != nil || len(b) < header || b[0] != version || b[1] != byte(kind) || !utf8.Valid(b[header:]) {
		return Position{}, false
	}
	return Position{
		Micros: int64(binary.BigEndian.Uint64(b[2:])),
		Num:    binary.BigEndian.Uint64(b[10:]),
		ID:     string(b[header:]),
	}, true
}
