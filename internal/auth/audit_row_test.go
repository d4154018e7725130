package auth

import (
	"testing"
	"time"
)

// TestAuditRowRecords: emit finds out an event that changed after publish
// wrote its row (the row would lack the change), and only such an event.
func TestAuditRowRecords(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	e := Event{Type: EventLogin, UserID: "u1", SessionID: "s1", IP: "192.0.2.1", UserAgent: "ua",
		Details: map[string]string{"second_factor": "totp", "password": "never stored"}, At: at}
	row := auditRow(&e)
	if _, ok := row.Details["password"]; ok {
		t.Fatalf("row details %v hold a secret-looking key", row.Details)
	}
	if !row.records(e) {
		t.Fatal("the row does not record the event it was made of")
	}
	same := e
	same.IP, same.UserAgent = "", "" // emit sets both again from the request
	same.Details = map[string]string{"second_factor": "totp", "password": "other"}
	if !row.records(same) {
		t.Error("a change to a key never stored, or to the client fields, counted as a change")
	}
	for name, change := range map[string]func(*Event){
		"details": func(e *Event) { e.Details = map[string]string{"second_factor": "totp", "browser_session": "b1"} },
		"session": func(e *Event) { e.SessionID = "s2" },
		"user":    func(e *Event) { e.UserID = "u2" },
		"actor":   func(e *Event) { e.Actor = ActorCLI },
		"time":    func(e *Event) { e.At = at.Add(time.Second) },
	} {
		changed := e
		change(&changed)
		if row.records(changed) {
			t.Errorf("%s changed after the row was written, and the row still counts as recording it", name)
		}
	}
}
