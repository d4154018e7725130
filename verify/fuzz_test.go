package verify

import (
	"encoding/json"
	"testing"
)

// FuzzParseFeed: an accepted feed answer has a cursor and complete entries.
func FuzzParseFeed(f *testing.F) {
	f.Add([]byte(`{"sessions":[{"sid":"s","until":"2026-03-01T12:15:00Z"}],"users":[{"sub":"u","not_before":"2026-03-01T12:00:00Z","until":"2026-03-01T12:15:00Z"}],"cursor":"c","poll_after_ms":0}`))
	f.Add([]byte(`{"sessions":[],"users":[],"cursor":"1.2.3","poll_after_ms":500}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := parseFeed(b)
		if err != nil {
			return
		}
		if a.Cursor == "" || a.PollAfterMS < 0 {
			t.Fatalf("accepted %q", b)
		}
		for _, s := range a.Sessions {
			if s.SID == "" || s.Until.IsZero() {
				t.Fatalf("accepted session entry %+v", s)
			}
		}
		out, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseFeed(out); err != nil {
			t.Fatalf("re-encoded answer refused: %v", err)
		}
	})
}
