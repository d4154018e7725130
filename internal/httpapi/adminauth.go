package httpapi

import "net/http"

// adminAttempt runs check, the credential check of the admin surface (the
// admin routes, token introspection, a keyed revocation feed), under the
// per-IP limit of failed admin authentications: a client past it gets 429
// rate_limited whatever it presents, before check runs, so that guessing
// the admin key (or a client secret) gets nowhere; a refused credential
// (401 or 403) counts against it. Right credentials count nothing, so
// admin tools are never limited.
func (s *server) adminAttempt(r *http.Request, check func() error) error {
	ctx := r.Context()
	if err := s.svc.AdminAuthAllowed(ctx); err != nil {
		return err
	}
	err := check()
	if err != nil && refusedCredential(err) {
		if lerr := s.svc.AdminAuthFailed(ctx); lerr != nil {
			return lerr
		}
	}
	return err
}

// refusedCredential reports whether err answers 401 or 403 (and not, say,
// 503 because the database is down).
func refusedCredential(err error) bool {
	st := toAPIError(err).status
	return st == http.StatusUnauthorized || st == http.StatusForbidden
}
