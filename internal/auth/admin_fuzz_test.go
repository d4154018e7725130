package auth

import (
	"testing"
	"time"
)

func TestCursorRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		at time.Time
		id string
	}{
		{time.Date(2020, 1, 2, 3, 4, 5, 6000, time.UTC), "0b7c-uuid"},
		{time.Unix(0, 0).UTC(), "with:colons:in:it"},
		{time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), "42"},
	} {
		at, id, ok := decodeUserCursor(encodeUserCursor(tc.at, tc.id))
		if !ok || !at.Equal(tc.at) || id != tc.id {
			t.Errorf("user cursor (%v, %q): got (%v, %q, %v)", tc.at, tc.id, at, id, ok)
		}
	}
	for _, id := range []int64{1, 42, 1 << 62} {
		if got, ok := decodeAuditCursor(encodeAuditCursor(id)); !ok || got != id {
			t.Errorf("audit cursor %d: got %d, %v", id, got, ok)
		}
	}
}

// FuzzCursors feeds arbitrary strings to the cursor decoders, which read
// query parameters: they must not panic, and what they accept must
// encode back to the same cursor.
func FuzzCursors(f *testing.F) {
	f.Add(encodeUserCursor(time.Unix(1, 0), "x"))
	f.Add(encodeAuditCursor(7))
	f.Add("dTE6MTIzOg")
	f.Add("YTE6LTE")
	f.Add("")
	f.Fuzz(func(t *testing.T, c string) {
		if at, id, ok := decodeUserCursor(c); ok && encodeUserCursor(at, id) != c {
			t.Errorf("user cursor %q decodes to (%v, %q), which encodes to %q", c, at, id, encodeUserCursor(at, id))
		}
		if id, ok := decodeAuditCursor(c); ok && (id <= 0 || encodeAuditCursor(id) != c) {
			t.Errorf("audit cursor %q decodes to %d", c, id)
		}
	})
}

// FuzzNormalizeRoles: roles from request bodies and import files. What is
// accepted is valid, deduplicated and at most MaxRoles long.
func FuzzNormalizeRoles(f *testing.F) {
	f.Add("user", "admin", "user")
	f.Add("", "A", "a b")
	f.Add("billing:read", "x-y_z", "\xff")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		got, err := NormalizeRoles([]string{a, b, c, a})
		if err != nil {
			return
		}
		if len(got) > MaxRoles || len(got) > 3 {
			t.Fatalf("too many roles: %q", got)
		}
		seen := map[string]bool{}
		for _, r := range got {
			if !validRole(r) || seen[r] {
				t.Fatalf("bad or repeated role %q in %q", r, got)
			}
			seen[r] = true
		}
	})
}
