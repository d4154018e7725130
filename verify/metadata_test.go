package verify

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/latchauth/latch/internal/token"
)

// TestAppMetadata: the app_metadata an admin set for the user reaches a
// service as Claims.AppMetadata, byte for byte as latch signed it.
func TestAppMetadata(t *testing.T) {
	f := fixtures()
	stub := newLatchStub(t, f.ed)
	v, _ := newVerifier(t, stub, nil)
	const meta = `{"plan":"pro","tenant":{"id":42,"name":"\u003cacme\u003e"}}`
	c, err := v.Verify(context.Background(), signed(t, f.ed, func(c *token.Claims) {
		c.AppMetadata = json.RawMessage(meta)
	}))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if string(c.AppMetadata) != meta {
		t.Errorf("AppMetadata = %s, want %s", c.AppMetadata, meta)
	}
	var m struct {
		Plan   string
		Tenant struct{ Name string }
	}
	if err := json.Unmarshal(c.AppMetadata, &m); err != nil || m.Plan != "pro" || m.Tenant.Name != "<acme>" {
		t.Errorf("decoded %+v, %v", m, err)
	}
}
