package auth

// BrowserPrincipal is the principal of a signed-in browser session (the
// hosted account pages): the factor methods (EnrolTOTP, ConfirmTOTP,
// BeginPasskeyRegistration...) then apply the same rules as for a Bearer
// caller, step-up included. The browser session's ID stands in for the
// token session's: it binds a passkey registration's challenge to this
// browser session, and the audit events name it.
func BrowserPrincipal(b *BrowserSession, u *User) *Principal {
	return &Principal{User: u, SessionID: b.ID, IssuedAt: b.AuthTime}
}
