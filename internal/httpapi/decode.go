package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// maxBody is the largest request body the JSON API reads (api.md: 64 KiB).
const maxBody = 64 << 10

// checker is implemented by request bodies with required fields; check
// returns a 400 naming the first missing one.
type checker interface {
	check() error
}

// required returns a 400 invalid_request naming the first of the
// (name, value) pairs whose value is empty.
func required(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return badRequest(fmt.Sprintf("field %q is required", pairs[i]))
		}
	}
	return nil
}

// decode reads r's body as one JSON object into a T: the Content-Type must
// be application/json (415 otherwise), the body at most 64 KiB (413), valid
// UTF-8 JSON with an object at the top level and nothing after it (400).
// Unknown fields are ignored. When T implements checker its check runs last.
func decode[T any](w http.ResponseWriter, r *http.Request) (T, error) {
	var v T
	if err := checkContentType(r); err != nil {
		return v, err
	}
	b, err := readBody(w, r)
	if err != nil {
		return v, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return v, badRequest("request body is empty: a JSON object is expected")
	}
	return v, unmarshal(b, &v)
}

// decodeOptional is decode for endpoints whose body may be left out: an
// empty body (with any or no Content-Type) gives T's zero value; anything
// else is decoded like decode does.
func decodeOptional[T any](w http.ResponseWriter, r *http.Request) (T, error) {
	var v T
	b, err := readBody(w, r)
	if err != nil {
		return v, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return v, nil
	}
	if err := checkContentType(r); err != nil {
		return v, err
	}
	return v, unmarshal(b, &v)
}

// checkContentType accepts application/json with no charset or a UTF-8 one.
func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	unsupported := newError(http.StatusUnsupportedMediaType, codeUnsupportedMediaType,
		"Content-Type must be application/json")
	if ct == "" {
		return unsupported
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return unsupported
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return unsupported
	}
	return nil
}

// readBody reads the whole body, at most maxBody bytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	tooLarge := newError(http.StatusRequestEntityTooLarge, codePayloadTooLarge,
		fmt.Sprintf("request body larger than %d bytes", maxBody))
	if r.ContentLength > maxBody {
		return nil, tooLarge
	}
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, badRequest("could not read the request body")
	}
	return b, nil
}

// unmarshal decodes b, a non-empty body, into v and runs its check.
func unmarshal(b []byte, v any) error {
	if !utf8.Valid(b) {
		return badRequest("request body is not valid UTF-8")
	}
	trimmed := bytes.TrimLeft(b, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] != '{' {
		return badRequest("request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("request body has data after the JSON object")
	}
	if f, ok := v.(fieldChecker); ok {
		if err := checkFields(b, v, f.readOnlyFields()); err != nil {
			return err
		}
	}
	if c, ok := v.(checker); ok {
		return c.check()
	}
	return nil
}

// fieldChecker is a request that refuses fields it does not take, rather
// than ignore them: for a change, an ignored field would be a silent
// no-op. readOnlyFields are fields of the resource that cannot be changed.
type fieldChecker interface {
	readOnlyFields() []string
}

// checkFields refuses a top-level key of b that is not a json field of
// v's struct type, saying whether it is read-only or unknown.
func checkFields(b []byte, v any, readOnly []string) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return jsonError(err)
	}
	known := map[string]bool{}
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			known[name] = true
		}
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if known[k] {
			continue
		}
		if slices.Contains(readOnly, k) {
			return badRequest(fmt.Sprintf("field %q is read-only", k))
		}
		names := make([]string, 0, len(known))
		for n := range known {
			names = append(names, n)
		}
		sort.Strings(names)
		return badRequest(fmt.Sprintf("unknown field %q; this request takes %s", clipField(k), strings.Join(names, ", ")))
	}
	return nil
}

// clipField shortens a client's field name for an error message.
func clipField(k string) string {
	if r := []rune(k); len(r) > 64 {
		return string(r[:64]) + "..."
	}
	return k
}

// jsonError turns an encoding/json error into a 400 that says what is wrong
// without echoing the body.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return badRequest(fmt.Sprintf("malformed JSON at byte offset %d", syn.Offset))
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badRequest("request body must be a JSON object")
		}
		return badRequest(fmt.Sprintf("field %q must be %s", typ.Field, jsonKind(typ.Type.String())))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return badRequest("malformed JSON: unexpected end of the body")
	default:
		return badRequest("malformed JSON")
	}
}

// jsonKind names a Go type the way a JSON client thinks of it.
func jsonKind(goType string) string {
	switch goType {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "float64":
		return "a number"
	}
	if strings.HasPrefix(goType, "[]") {
		return "an array"
	}
	return "an object"
}
