package auth

import (
	"context"
	"slices"
	"time"
)

// AdminAuthFailuresPerIP is how many failed authentications on the admin
// surface (admin routes, token introspection, the revocation feed) a
// client may make; past it every attempt of that client, right or wrong,
// answers 429 until the budget refills (one per 6 s).
var AdminAuthFailuresPerIP = Rate{N: 10, Per: time.Minute}

// AdminAuthAllowed answers a rate_limited error when the caller of ctx is past
// AdminAuthFailuresPerIP. It is asked before the credential is checked and
// counts nothing: only failures count (AdminAuthFailed), so admin tools
// are not limited, yet past the limit a right guess answers like a wrong
// one and guessing the admin key gets nowhere.
func (s *Service) AdminAuthAllowed(ctx context.Context) error {
	ip := ClientFromContext(ctx).IP
	if !s.cfg.RateLimits || ip == "" {
		return nil
	}
	ok, wait, err := s.deps.Limiter.Peek(ctx, ipLimitKey("admin_auth", ip), AdminAuthFailuresPerIP)
	if err != nil {
		s.log.Warn("rate limiter unavailable; allowing", "err", err)
		return nil
	}
	if !ok {
		return &Error{Code: CodeRateLimited, Message: "too many failed admin authentications; try again later", RetryAfter: wait}
	}
	return nil
}

// AdminAuthFailed counts a failed authentication of the caller of ctx on
// the admin surface.
// It answers a rate_limited error when that failure was one too many.
func (s *Service) AdminAuthFailed(ctx context.Context) error {
	return s.limitIP(ctx, "admin_auth", AdminAuthFailuresPerIP)
}

// AuthenticateAdmin checks a credential of the admin API and answers who
// acts: ActorAdminKey for the admin key, else the user id of the access
// token's owner. A token must be of a live session, and RoleAdmin must be
// both in the token and on the account now, so that taking the role away
// takes effect before the token expires. A bad credential answers
// CodeInvalidBearer (or CodeTokenExpired); a good token without the role,
// CodeForbidden.
func (s *Service) AuthenticateAdmin(ctx context.Context, credential string, adminKey Secret) (string, error) {
	if adminKey.Matches(credential) {
		return ActorAdminKey, nil
	}
	p, err := s.Authenticate(ctx, credential)
	if err != nil {
		return "", err
	}
	if !p.HasRole(RoleAdmin) || !slices.Contains(p.User.Roles, RoleAdmin) {
		return "", Errorf(CodeForbidden, "this route needs the admin role")
	}
	return p.User.ID, nil
}
