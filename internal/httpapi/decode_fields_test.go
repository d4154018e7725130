package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPatchUserRefusesUnknownFields: the admin PATCH names a field it
// does not take instead of ignoring it.
func TestPatchUserRefusesUnknownFields(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"rolse":["admin"]}`, `unknown field "rolse"; this request takes app_metadata, disabled, email, email_confirmed, password, roles`},
		{`{"roles":["user"],"created_at":"2020-01-01T00:00:00Z"}`, `field "created_at" is read-only`},
		{`{"id":"x"}`, `field "id" is read-only`},
		{`{"roles":["user"],"email":"a@example.com","password":"p","disabled":false,"email_confirmed":true}`, ""},
	} {
		r := httptest.NewRequest("PATCH", "/admin/v1/users/x", strings.NewReader(tc.body))
		r.Header.Set("Content-Type", "application/json")
		_, err := decode[patchUserRequest](httptest.NewRecorder(), r)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.body, err)
			}
			continue
		}
		e := toAPIError(err)
		if err == nil || e.status != 400 || e.code != codeInvalidRequest || !strings.Contains(e.detail, tc.want) {
			t.Errorf("%s: %v, want 400 invalid_request %q", tc.body, err, tc.want)
		}
	}
}
