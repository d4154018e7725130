package sqlstore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// TestAuditAppendOnly: the audit table refuses changes and deletions, even
// from SQL that bypasses the store.
func TestAuditAppendOnly(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, filepath.Join(t.TempDir(), "a.db"), options{busyTimeout: time.Second})
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e := &auth.AuditEvent{Type: "login", UserID: "u1", CreatedAt: time.Now()}
	if err := db.Tx(ctx, func(tx auth.Tx) error { return tx.AppendAudit(ctx, e) }); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE audit_events SET type = 'nothing'`,
		`UPDATE audit_events SET details = '{"x":"y"}' WHERE id = 1`,
		`DELETE FROM audit_events`,
		`DELETE FROM audit_events WHERE id = 1`,
	} {
		_, err := db.db.ExecContext(ctx, stmt)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: error %v, want the append-only refusal", stmt, err)
		}
	}
	evs, err := db.AuditEvents(ctx, auth.AuditQuery{Limit: 10})
	if err != nil || len(evs) != 1 || evs[0].Type != "login" || len(evs[0].Details) != 0 {
		t.Errorf("after refused changes: %+v %v", evs, err)
	}
}
