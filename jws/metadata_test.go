package jws

import (
	"encoding/json"
	"errors"
	"testing"
)

// TestAppMetadataClaim: an app_metadata object comes back as the signed
// bytes, stays nil when absent, and any other JSON type refuses the token
// (as a mistyped claim does).
func TestAppMetadataClaim(t *testing.T) {
	ed := fixtures().ed
	withMeta := func(v any) string {
		return ed.forge(t, ed.header(), payload(t, func(p map[string]any) { p["app_metadata"] = v }))
	}
	c, err := Verify(withMeta(json.RawMessage(`{"plan":"pro","n":[1,2]}`)), keyFor, checks())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got := string(c.AppMetadata); got != `{"plan":"pro","n":[1,2]}` {
		t.Errorf("AppMetadata = %s", got)
	}
	var m struct{ Plan string }
	if err := json.Unmarshal(c.AppMetadata, &m); err != nil || m.Plan != "pro" {
		t.Errorf("decoding AppMetadata: %+v, %v", m, err)
	}
	c, err = Verify(ed.forge(t, ed.header(), payload(t, nil)), keyFor, checks())
	if err != nil || c.AppMetadata != nil {
		t.Errorf("no claim: AppMetadata = %q, %v; want nil", c.AppMetadata, err)
	}
	for _, v := range []any{[]int{1}, "x", nil, 1, true} {
		if c, err := Verify(withMeta(v), keyFor, checks()); c != nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("app_metadata %v: Verify = %v, %v; want ErrInvalid", v, c, err)
		}
	}
	// A repeated key inside it is refused like one at the top level.
	dup := ed.forge(t, ed.header(), `{"iss":"`+testIssuer+`","sub":"u","aud":"`+testAudience+
		`","exp":`+jsonNum(t, payload(t, nil))+`,"jti":"j","app_metadata":{"a":1,"a":2}}`)
	if c, err := Verify(dup, keyFor, checks()); c != nil || !errors.Is(err, ErrInvalid) {
		t.Errorf("duplicate key in app_metadata: Verify = %v, %v; want ErrInvalid", c, err)
	}
}

// jsonNum is the exp of a payload made by payload.
func jsonNum(t *testing.T, p string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(p), &m); err != nil {
		t.Fatal(err)
	}
	return string(m["exp"])
}
