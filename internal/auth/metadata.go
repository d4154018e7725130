package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strconv"
	"unicode/utf8"
)

// Metadata: two JSON objects a user carries besides the account itself.
// app_metadata is set by admins only and travels in every access token (a
// plan, a tenant, feature flags: what services that verify the token
// decide on); user_metadata is the user's own (a display name, settings)
// and stays out of tokens.

// Limits of a metadata object.
const (
	// MaxMetadataSize is the most bytes a metadata object takes in the
	// form latch stores and signs (MetadataJSON): compact, with <, >, &,
	// U+2028 and U+2029 escaped in strings.
	MaxMetadataSize = 4096
	// MaxMetadataDepth is the deepest nesting of objects and arrays, the
	// metadata object itself counting as one. Access tokens are refused
	// by verifiers past a depth of 32, and nothing legitimate needs more.
	MaxMetadataDepth = 16
)

// CodeInvalidMetadata: a metadata object is over MaxMetadataSize, nested
// deeper than MaxMetadataDepth or repeats a key within one object (422).
// Metadata that is not a JSON object at all is CodeInvalidRequest.
const CodeInvalidMetadata Code = "invalid_metadata"

// Event types of metadata changes. app_metadata_changed has an admin's
// Actor; user_metadata_changed is the user's own (with the session).
// Their Details hold the new size in bytes, never the content.
const (
	EventAppMetadataChanged  = "app_metadata_changed"
	EventUserMetadataChanged = "user_metadata_changed"
)

// emptyMetadata is the metadata of a user who has none.
var emptyMetadata = json.RawMessage(`{}`)

// MetadataJSON is m as latch answers and signs it: "{}" for none.
func MetadataJSON(m json.RawMessage) json.RawMessage {
	if len(m) == 0 {
		return emptyMetadata
	}
	return m
}

// NormalizeMetadata checks that b, the value given for field
// ("app_metadata" or "user_metadata"), is one JSON object within the
// limits, with no key repeated within an object, and returns its stored
// form: compact, with <, >, &, U+2028 and U+2029 escaped in strings (what
// encoding/json writes, so that a signed token holds the stored bytes and
// the size limit bounds the token). Numbers and key order are kept as
// given.
func NormalizeMetadata(field string, b []byte) (json.RawMessage, error) {
	notObject := Errorf(CodeInvalidRequest, "%s must be a JSON object (send {} to clear it)", field)
	if !utf8.Valid(b) {
		return nil, Errorf(CodeInvalidRequest, "%s is not valid UTF-8", field)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, notObject
	}
	if err := checkMetadataObject(field, dec); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, Errorf(CodeInvalidRequest, "%s has data after the JSON object", field)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, b); err != nil {
		return nil, Errorf(CodeInvalidRequest, "%s is not valid JSON", field)
	}
	var out bytes.Buffer
	json.HTMLEscape(&out, compact.Bytes())
	if out.Len() > MaxMetadataSize {
		return nil, Errorf(CodeInvalidMetadata, "%s is %d bytes; at most %d are allowed", field, out.Len(), MaxMetadataSize)
	}
	return json.RawMessage(out.Bytes()), nil
}

// checkMetadataObject reads the rest of an object whose '{' dec has just
// returned, refusing nesting past MaxMetadataDepth and a key repeated
// within one object (compared after unescaping, as verifiers of a token
// compare them).
func checkMetadataObject(field string, dec *json.Decoder) error {
	type level struct {
		keys    map[string]bool // nil for an array
		wantKey bool
	}
	stack := []level{{keys: map[string]bool{}, wantKey: true}}
	malformed := Errorf(CodeInvalidRequest, "%s is not valid JSON", field)
	for len(stack) > 0 {
		tok, err := dec.Token()
		if err != nil {
			return malformed
		}
		top := &stack[len(stack)-1]
		if top.keys != nil && top.wantKey {
			if tok == json.Delim('}') {
				stack = stack[:len(stack)-1]
			} else if k, ok := tok.(string); ok {
				if top.keys[k] {
					return Errorf(CodeInvalidMetadata, "%s repeats the key %q within one object", field, clip(k, 64))
				}
				top.keys[k] = true
				top.wantKey = false
				continue
			} else {
				return malformed
			}
		} else {
			switch tok {
			case json.Delim('{'), json.Delim('['):
				if len(stack) == MaxMetadataDepth {
					return Errorf(CodeInvalidMetadata, "%s is nested more than %d levels deep", field, MaxMetadataDepth)
				}
				l := level{}
				if tok == json.Delim('{') {
					l = level{keys: map[string]bool{}, wantKey: true}
				}
				stack = append(stack, l)
				continue
			case json.Delim(']'):
				stack = stack[:len(stack)-1]
			}
		}
		// A value ended (a scalar, or the container just closed): the
		// object holding it wants its next key.
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].wantKey = true
		}
	}
	return nil
}

// UpdateUserMetadata replaces the caller's user_metadata with m (a JSON
// object, see NormalizeMetadata) and returns the user. Setting the value
// it already has changes nothing and records no event.
func (s *Service) UpdateUserMetadata(ctx context.Context, p *Principal, m []byte) (*User, error) {
	norm, err := NormalizeMetadata("user_metadata", m)
	if err != nil {
		return nil, err
	}
	var (
		u       *User
		changed bool
		ev      Event
	)
	err = s.deps.Store.Tx(ctx, func(tx Tx) error {
		changed = false
		var err error
		if u, err = tx.UserByID(ctx, p.User.ID); err != nil {
			if notFound(err) {
				return errInvalidBearer("the account no longer exists")
			}
			return err
		}
		if bytes.Equal(MetadataJSON(u.UserMetadata), norm) {
			return nil
		}
		u.UserMetadata, u.UpdatedAt = norm, s.now()
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		changed = true
		ev = Event{Type: EventUserMetadataChanged, UserID: u.ID, SessionID: p.SessionID,
			Details: map[string]string{"bytes": strconv.Itoa(len(norm))}}
		return s.publish(ctx, tx, u, &ev) // user.updated, with the change
	})
	if err != nil {
		return nil, err
	}
	if changed {
		s.emit(ctx, ev) // wakes the webhook worker when user.updated was queued
	}
	return u, nil
}
