package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// decodeAnswer runs decode[T] on one request and reports the answer a
// client would see: 0 and "" on success.
func decodeAnswer[T any](body io.Reader, contentType string, optional bool) (T, int, string, string) {
	r := httptest.NewRequest("POST", "/v1/x", body)
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	var v T
	var err error
	if optional {
		v, err = decodeOptional[T](w, r)
	} else {
		v, err = decode[T](w, r)
	}
	if err != nil {
		e := toAPIError(err)
		return v, e.status, e.code, e.detail
	}
	return v, 0, "", ""
}

// chunked hides a body's length, as a chunked request does.
func chunked(s string) io.Reader { return io.MultiReader(strings.NewReader(s)) }

func TestDecode(t *testing.T) {
	big := `{"email":"a@example.com","password":"` + strings.Repeat("x", maxBody) + `"}`
	justFits := `{"email":"a@example.com","password":"` + strings.Repeat("x", maxBody-len(`{"email":"a@example.com","password":""}`)) + `"}`
	const ok = `{"email":"a@example.com","password":"pw"}`
	tests := []struct {
		name       string
		ct         string
		body       io.Reader
		wantStatus int
		wantCode   string
		wantDetail string // substring of the detail
	}{
		{"valid", "application/json", strings.NewReader(ok), 0, "", ""},
		{"charset utf-8", "application/json; charset=utf-8", strings.NewReader(ok), 0, "", ""},
		{"charset UTF-8 upper case", "Application/JSON; charset=UTF-8", strings.NewReader(ok), 0, "", ""},
		{"unknown field ignored", "application/json", strings.NewReader(`{"email":"a@example.com","password":"pw","roles":["admin"],"id":7}`), 0, "", ""},
		{"surrounding whitespace", "application/json", strings.NewReader(" \n" + ok + "\n\t "), 0, "", ""},
		{"exactly 64 KiB", "application/json", strings.NewReader(justFits), 0, "", ""},
		{"missing content type", "", strings.NewReader(ok), 415, "unsupported_media_type", "application/json"},
		{"text/plain", "text/plain", strings.NewReader(ok), 415, "unsupported_media_type", ""},
		{"form", "application/x-www-form-urlencoded", strings.NewReader("email=a&password=b"), 415, "unsupported_media_type", ""},
		{"json suffix type", "application/problem+json", strings.NewReader(ok), 415, "unsupported_media_type", ""},
		{"latin1 charset", "application/json; charset=iso-8859-1", strings.NewReader(ok), 415, "unsupported_media_type", ""},
		{"malformed content type", "application/json; charset", strings.NewReader(ok), 415, "unsupported_media_type", ""},
		{"too large, length known", "application/json", strings.NewReader(big), 413, "payload_too_large", "65536"},
		{"too large, chunked", "application/json", chunked(big), 413, "payload_too_large", ""},
		{"empty body", "application/json", strings.NewReader(""), 400, "invalid_request", "empty"},
		{"malformed", "application/json", strings.NewReader(`{"email":`), 400, "invalid_request", "malformed"},
		{"bad syntax", "application/json", strings.NewReader(`{"email" "a"}`), 400, "invalid_request", "malformed JSON at byte offset"},
		{"trailing object", "application/json", strings.NewReader(ok + `{}`), 400, "invalid_request", "after the JSON object"},
		{"trailing garbage", "application/json", strings.NewReader(ok + `x`), 400, "invalid_request", "after the JSON object"},
		{"wrong type", "application/json", strings.NewReader(`{"email":42,"password":"pw"}`), 400, "invalid_request", `field "email" must be a string`},
		{"wrong type object", "application/json", strings.NewReader(`{"email":"a@example.com","password":{"a":1}}`), 400, "invalid_request", `field "password" must be a string`},
		{"missing field", "application/json", strings.NewReader(`{"email":"a@example.com"}`), 400, "invalid_request", `field "password" is required`},
		{"empty field", "application/json", strings.NewReader(`{"email":"","password":"pw"}`), 400, "invalid_request", `field "email" is required`},
		{"null field", "application/json", strings.NewReader(`{"email":null,"password":"pw"}`), 400, "invalid_request", `field "email" is required`},
		{"array top level", "application/json", strings.NewReader(`[` + ok + `]`), 400, "invalid_request", "JSON object"},
		{"string top level", "application/json", strings.NewReader(`"hello"`), 400, "invalid_request", "JSON object"},
		{"null top level", "application/json", strings.NewReader(`null`), 400, "invalid_request", "JSON object"},
		{"invalid UTF-8", "application/json", strings.NewReader("{\"email\":\"a\xff@example.com\",\"password\":\"pw\"}"), 400, "invalid_request", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, status, code, detail := decodeAnswer[signupRequest](tt.body, tt.ct, false)
			if status != tt.wantStatus || code != tt.wantCode {
				t.Fatalf("got %d %q (%q), want %d %q", status, code, detail, tt.wantStatus, tt.wantCode)
			}
			if !strings.Contains(detail, tt.wantDetail) {
				t.Errorf("detail = %q, want it to contain %q", detail, tt.wantDetail)
			}
			if status == 0 && (v.Email != "a@example.com" || v.Password == "") {
				t.Errorf("decoded %+v, want email a@example.com and a password", v)
			}
		})
	}
}

func TestDecodeOptional(t *testing.T) {
	tests := []struct {
		name       string
		ct         string
		body       io.Reader
		wantStatus int
		wantToken  string
	}{
		{"no body", "", nil, 0, ""},
		{"empty body", "", strings.NewReader(""), 0, ""},
		{"empty body any type", "text/plain", strings.NewReader(""), 0, ""},
		{"whitespace only", "", strings.NewReader(" \r\n"), 0, ""},
		{"empty object", "application/json", strings.NewReader(`{}`), 0, ""},
		{"refresh token", "application/json", strings.NewReader(`{"refresh_token":"rt"}`), 0, "rt"},
		{"object without content type", "", strings.NewReader(`{}`), 415, ""},
		{"array", "application/json", strings.NewReader(`[]`), 400, ""},
		{"null", "application/json", strings.NewReader(`null`), 400, ""},
		{"wrong type", "application/json", strings.NewReader(`{"refresh_token":1}`), 400, ""},
		{"too large", "application/json", chunked(`{"a":"` + strings.Repeat("x", maxBody) + `"}`), 413, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, status, code, detail := decodeAnswer[logoutRequest](tt.body, tt.ct, true)
			if status != tt.wantStatus {
				t.Fatalf("got %d %q (%q), want %d", status, code, detail, tt.wantStatus)
			}
			if v.RefreshToken != tt.wantToken {
				t.Errorf("refresh_token = %q, want %q", v.RefreshToken, tt.wantToken)
			}
		})
	}
}

// TestDecodeThroughRoutes checks that every JSON endpoint answers decoding
// failures as problems before anything reaches the service.
func TestDecodeThroughRoutes(t *testing.T) {
	h, _ := newTransport(t, Config{})
	endpoints := []string{
		"/v1/signup", "/v1/confirm", "/v1/confirm/resend", "/v1/login", "/v1/token/refresh",
		"/v1/password/forgot", "/v1/password/reset",
	}
	for _, path := range endpoints {
		t.Run(path, func(t *testing.T) {
			w := do(h, "POST", path, strings.NewReader(`{}`), http.Header{"Content-Type": {"text/plain"}})
			wantProblem(t, w, 415, "unsupported_media_type")
			w = do(h, "POST", path, strings.NewReader(`{"x":1} 1`), jsonHeader())
			wantProblem(t, w, 400, "invalid_request")
			w = do(h, "POST", path, strings.NewReader(`{}`), jsonHeader())
			p := wantProblem(t, w, 400, "invalid_request")
			if !strings.Contains(p.Detail, "is required") {
				t.Errorf("detail = %q, want it to name the missing field", p.Detail)
			}
			w = do(h, "POST", path, bytes.NewReader(make([]byte, maxBody+1)), jsonHeader())
			wantProblem(t, w, 413, "payload_too_large")
		})
	}
}
