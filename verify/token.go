package verify

import (
	"errors"
	"fmt"

	"github.com/latchauth/latch/jws"
)

// Errors wrapped by Verify's refusals. Every refusal wraps ErrInvalid; an
// expired token wraps ErrExpired as well, a revoked one ErrRevoked.
var (
	ErrInvalid = errors.New("verify: invalid token")
	ErrExpired = errors.New("verify: token expired")
	ErrRevoked = errors.New("verify: token revoked")
)

// TypeAccessToken is the typ header of latch's access tokens (RFC 9068).
const TypeAccessToken = jws.TypeAccessToken

// DefaultMaxSize is the default Config.MaxTokenSize in bytes.
const DefaultMaxSize = jws.DefaultMaxSize

// Claims are the claims of a verified access token (api.md).
type Claims = jws.Claims

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// refusal turns a refusal of jws.Verify into this package's errors; errors
// of the key lookup are already this package's and pass unchanged.
func refusal(err error) error {
	var e *jws.Error
	if !errors.As(err, &e) {
		return err
	}
	if e.Expired {
		return fmt.Errorf("%w: %w: %s", ErrInvalid, ErrExpired, e.Reason)
	}
	return invalid("%s", e.Reason)
}
