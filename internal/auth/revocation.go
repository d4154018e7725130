package auth

import "time"

// UserCutoff is a user-wide cut-off as the revocation feed (package
// revfeed) reads it: either the user's TokensValidAfter (set by force
// logout, role change, disable, password reset or change) or the user's
// deletion. Which events revoke is Revokes.
type UserCutoff struct {
	UserID string
	// At is the cut-off (TokensValidAfter) or the time of the deletion.
	At time.Time
	// Deleted reports a deleted account: every token it ever had is void.
	Deleted bool
}
