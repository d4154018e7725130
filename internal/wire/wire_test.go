package wire

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// TestEmptyListsAreArrays: clients of the admin API and of `--json` read
// [] and {} where there is nothing, never null, and "" for a time not set.
func TestEmptyListsAreArrays(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600))
	got := map[string]any{
		"user":     NewAdminUser(&auth.User{ID: "u", CreatedAt: at}),
		"users":    NewUsers(nil, ""),
		"sessions": NewSessions(nil),
		"events":   NewEvents(&auth.AuditPage{Events: []*auth.AuditEvent{{ID: 7}}}),
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"events":{"events":[{"id":"7","type":"","user_id":"","session_id":"","actor":"","ip":"","user_agent":"","created_at":"","details":{}}],"next_cursor":""},` +
		`"sessions":[],` +
		`"user":{"id":"u","email":"","email_confirmed":false,"roles":[],"created_at":"2026-01-02T02:04:05Z","app_metadata":{},"user_metadata":{},"disabled":false,"updated_at":""},` +
		`"users":{"users":[],"next_cursor":""}}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}
