package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func FuzzDecodeJSON(f *testing.F) {
	seeds := []string{
		``, `{}`, `[]`, `null`, `"x"`, `{"email":"a@b.c","password":"pw"}`,
		`{"token":"t","password":"p"}`, `{"refresh_token":1}`, `{"email":"a"} x`,
		`{"current_password":"a","new_password":"b"}`, `{"new_email":"x","password":"y"}`,
		"{\"email\":\"\xff\"}", `{"a":{"b":[1,2,{"c":null}]}}`, `{"email":"\u0000"}`,
		`{"roles":["a"],"id":"x"}`, `{"disabled":true,"bogus":1}`, `{"email":"a@b.c","email":"d@e.f"}`,
	}
	for _, s := range seeds {
		f.Add(s, "application/json")
	}
	f.Add(`{}`, "text/plain")
	f.Add(`{}`, "application/json; charset=utf-8")
	f.Fuzz(func(t *testing.T, body, contentType string) {
		decoders := []func(string, string) error{
			fuzzOne[signupRequest](false), fuzzOne[loginRequest](false), fuzzOne[tokenRequest](false),
			fuzzOne[emailRequest](false), fuzzOne[refreshRequest](false), fuzzOne[resetRequest](false),
			fuzzOne[changePasswordRequest](false), fuzzOne[changeEmailRequest](false),
			fuzzOne[passwordRequest](false), fuzzOne[logoutRequest](true), fuzzOne[emptyRequest](true),
			fuzzOne[patchUserRequest](false), fuzzOne[passwordRequest](true),
		}
		// Every JSON endpoint's decoder, as its handler calls it.
		for _, d := range decoders {
			if err := d(body, contentType); err != nil {
				e := toAPIError(err)
				if e.status < 400 || e.status >= 500 {
					t.Fatalf("body %q, type %q: answer %d %s", body, contentType, e.status, e.code)
				}
			}
		}
	})
}

// fuzzOne decodes one request body as a T.
func fuzzOne[T any](optional bool) func(string, string) error {
	return func(body, contentType string) error {
		r := httptest.NewRequest("POST", "/v1/x", strings.NewReader(body))
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		w := httptest.NewRecorder()
		var err error
		if optional {
			_, err = decodeOptional[T](w, r)
		} else {
			_, err = decode[T](w, r)
		}
		return err
	}
}
