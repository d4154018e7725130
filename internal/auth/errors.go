package auth

import (
	"errors"
	"fmt"
	"time"
)

// Code is a stable machine-readable error code (api.md's `code`).
type Code string

// Error codes of api.md. HTTP statuses are mapped by internal/httpapi.
const (
	CodeInvalidRequest     Code = "invalid_request"
	CodeInvalidToken       Code = "invalid_token" // bad confirmation/reset token in a body (400)
	CodeInvalidBearer      Code = "invalid_bearer"
	CodeInvalidCredentials Code = "invalid_credentials"
	CodeTokenExpired       Code = "token_expired"
	CodeEmailNotConfirmed  Code = "email_not_confirmed"
	CodeAccountDisabled    Code = "account_disabled"
	CodeForbidden          Code = "forbidden"
	CodeNotFound           Code = "not_found"
	CodeEmailTaken         Code = "email_taken"
	CodeInvalidEmail       Code = "invalid_email"
	CodeWeakPassword       Code = "weak_password"
	CodeRateLimited        Code = "rate_limited"
	CodeUnavailable        Code = "unavailable"
	CodeInternal           Code = "internal"
)

// Error is a domain error: a code, a message safe to show the client, and an
// optional cause for the log.
type Error struct {
	Code       Code
	Message    string
	RetryAfter time.Duration // for rate_limited and unavailable
	Cause      error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("auth: %s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return fmt.Sprintf("auth: %s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Cause }

// Errorf makes an *Error with a client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns err's code: its own when it is an *Error, unavailable
// when the store is down, internal otherwise.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, ErrStoreDown) {
		return CodeUnavailable
	}
	return CodeInternal
}
