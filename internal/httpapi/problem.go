package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

// Problem codes of the transport itself (api.md); the domain codes come from
// package auth.
const (
	codeNotFound             = "not_found"
	codeMethodNotAllowed     = "method_not_allowed"
	codePayloadTooLarge      = "payload_too_large"
	codeUnsupportedMediaType = "unsupported_media_type"
	codeInvalidRequest       = "invalid_request"
	codeInvalidToken         = "invalid_token"
	codeForbidden            = "forbidden"
	codeUnavailable          = "unavailable"
	codeInternal             = "internal"
)

// problemType is the RFC 9457 "type" of every problem latch answers.
const problemType = "about:blank"

// apiError is the transport's one error type, like tsweb's HTTPError: the
// status, code and detail the client is shown, the headers that go with
// them, and the cause, which is only logged. Each route group renders it
// in its own format (errorFormat): an RFC 9457 problem for /v1 and the
// admin API, RFC 6749 §5.2 JSON for /oauth.
type apiError struct {
	status int
	code   string
	detail string
	// retryAfter, when positive, is sent as Retry-After (rounded up to whole
	// seconds, at least 1).
	retryAfter time.Duration
	// wwwAuthenticate, when set, is sent as WWW-Authenticate.
	wwwAuthenticate string
	// mfa carries the mfa_token and methods of an mfa_required answer.
	mfa   *auth.MFARequiredError
	cause error
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return "httpapi: " + e.code + ": " + e.detail + ": " + e.cause.Error()
	}
	return "httpapi: " + e.code + ": " + e.detail
}

func (e *apiError) Unwrap() error { return e.cause }

// newError makes an apiError with a client-safe detail.
func newError(status int, code, detail string) *apiError {
	return &apiError{status: status, code: code, detail: detail}
}

// badRequest is a 400 invalid_request with detail.
func badRequest(detail string) *apiError {
	return newError(http.StatusBadRequest, codeInvalidRequest, detail)
}

// Bearer challenges (RFC 6750 §3).
const (
	// api.md: every 401 of a protected route carries error="invalid_token",
	// also when no token was sent.
	challengeNoToken = `Bearer realm="latch", error="invalid_token"`
	challengeInvalid = `Bearer error="invalid_token"`
	challengeExpired = `Bearer error="invalid_token", error_description="token expired"`
)

// statusOf is the one table from a domain error code to its HTTP status and
// the code string the client sees. Codes missing here answer 500 internal.
var statusOf = map[auth.Code]struct {
	status int
	code   string
}{
	auth.CodeInvalidRequest:     {http.StatusBadRequest, "invalid_request"},
	auth.CodeInvalidToken:       {http.StatusBadRequest, "invalid_token"},
	auth.CodeInvalidBearer:      {http.StatusUnauthorized, "invalid_token"},
	auth.CodeInvalidCredentials: {http.StatusUnauthorized, "invalid_credentials"},
	auth.CodeTokenExpired:       {http.StatusUnauthorized, "token_expired"},
	auth.CodeEmailNotConfirmed:  {http.StatusForbidden, "email_not_confirmed"},
	auth.CodeAccountDisabled:    {http.StatusForbidden, "account_disabled"},
	auth.CodeForbidden:          {http.StatusForbidden, "forbidden"},
	auth.CodeNotFound:           {http.StatusNotFound, "not_found"},
	auth.CodeEmailTaken:         {http.StatusConflict, "email_taken"},
	auth.CodeInvalidEmail:       {http.StatusUnprocessableEntity, "invalid_email"},
	auth.CodeWeakPassword:       {http.StatusUnprocessableEntity, "weak_password"},
	auth.CodeRateLimited:        {http.StatusTooManyRequests, "rate_limited"},
	auth.CodeUnavailable:        {http.StatusServiceUnavailable, "unavailable"},
	auth.CodeMFARequired:        {http.StatusForbidden, "mfa_required"},
	auth.CodeMFAAlreadyEnabled:  {http.StatusConflict, "mfa_already_enabled"},
	auth.CodeInvalidRedirect:    {http.StatusBadRequest, "invalid_redirect"},
	auth.CodeInvalidMetadata:    {http.StatusUnprocessableEntity, "invalid_metadata"},
	auth.CodeDeliveryPending:    {http.StatusConflict, "delivery_pending"},
}

// Generic details of answers that must not leak internals.
const (
	detailInternal    = "internal error"
	detailUnavailable = "service temporarily unavailable"
)

// toAPIError turns any error a handler returns into the problem to answer.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var de *auth.Error
	if errors.As(err, &de) {
		m, ok := statusOf[de.Code]
		if !ok {
			return &apiError{status: http.StatusInternalServerError, code: codeInternal, detail: detailInternal, cause: err}
		}
		e := &apiError{status: m.status, code: m.code, detail: de.Message, retryAfter: de.RetryAfter, cause: err}
		errors.As(err, &e.mfa)
		if e.detail == "" {
			e.detail = http.StatusText(m.status)
		}
		switch de.Code {
		case auth.CodeInvalidBearer:
			e.wwwAuthenticate = challengeInvalid
		case auth.CodeTokenExpired:
			e.wwwAuthenticate = challengeExpired
		case auth.CodeRateLimited, auth.CodeUnavailable:
			if e.retryAfter <= 0 {
				e.retryAfter = time.Second
			}
		}
		return e
	}
	if auth.ErrorCode(err) == auth.CodeUnavailable {
		return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable, detail: detailUnavailable, retryAfter: time.Second, cause: err}
	}
	return &apiError{status: http.StatusInternalServerError, code: codeInternal, detail: detailInternal, cause: err}
}

// retryAfterSeconds is d in whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// problem is the RFC 9457 body.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail,omitempty"`
	// mfa_required's extension members (RFC 9457 §3.2).
	MFAToken string   `json:"mfa_token,omitempty"`
	Methods  []string `json:"methods,omitempty"`
}

// errorFormat is how a route group answers errors: classify turns any
// error a handler returns into the answer (domain codes become the group's
// codes), write renders it.
type errorFormat struct {
	classify func(error) *apiError
	write    func(http.ResponseWriter, *apiError)
}

// problemFormat answers RFC 9457 problems: /v1, the admin API, operations.
var problemFormat = errorFormat{classify: toAPIError, write: writeProblem}

// writeError answers err as a problem.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeErrorAs(w, r, problemFormat, err)
}

// writeErrorAs answers err in format f. Server-side failures (5xx) are
// logged with their cause and the request id; the client only sees a
// generic detail.
func (s *server) writeErrorAs(w http.ResponseWriter, r *http.Request, f errorFormat, err error) {
	e := f.classify(err)
	if e.status >= 500 {
		level := slog.LevelError
		if e.status == http.StatusServiceUnavailable {
			level = slog.LevelWarn
		}
		s.log.Log(r.Context(), level, "httpapi: request failed",
			"request_id", requestIDFrom(r.Context()),
			"method", r.Method,
			"path", r.URL.Path,
			"status", e.status,
			"code", e.code,
			"err", errString(e.cause))
	}
	f.write(w, e)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// setErrorHeaders sets the headers that go with e, whatever its format, and
// drops a Content-Length set before the handler failed.
func setErrorHeaders(w http.ResponseWriter, e *apiError) {
	h := w.Header()
	if e.retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(retryAfterSeconds(e.retryAfter), 10))
	}
	if e.wwwAuthenticate != "" {
		h.Set("WWW-Authenticate", e.wwwAuthenticate)
	}
	h.Del("Content-Length")
	if e.mfa != nil {
		h.Set("Cache-Control", "no-store") // the mfa_token is a credential
	}
}

// writeProblem writes e as application/problem+json with its headers.
func writeProblem(w http.ResponseWriter, e *apiError) {
	setErrorHeaders(w, e)
	// A problem never carries the answer's would-be token header.
	w.Header().Del("Authorization")
	w.Header().Set("Content-Type", "application/problem+json")
	p := problem{
		Type:   problemType,
		Title:  http.StatusText(e.status),
		Status: e.status,
		Code:   e.code,
		Detail: e.detail,
	}
	if e.mfa != nil {
		p.MFAToken, p.Methods = e.mfa.Token, e.mfa.Methods
	}
	writeJSONBody(w, e.status, p)
}
