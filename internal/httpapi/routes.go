package httpapi

import "net/http"

// addRoutes is the map of the API: every route latch's JSON API answers.
func addRoutes(mux *http.ServeMux, s *server) {
	// Accounts.
	mux.Handle("POST /v1/signup", s.handleSignup())
	mux.Handle("POST /v1/confirm", s.handleConfirm())
	mux.Handle("POST /v1/confirm/resend", s.handleResend())
	mux.Handle("GET /v1/me", s.authed(s.handleMe()))
	mux.Handle("PATCH /v1/me", s.authed(s.handleUpdateMe())) // metadata.go
	mux.Handle("DELETE /v1/me", s.authed(s.handleDeleteMe()))
	mux.Handle("POST /v1/email/change", s.authed(s.handleChangeEmail()))

	// Sessions and tokens.
	mux.Handle("POST /v1/login", s.handleLogin())
	mux.Handle("POST /v1/token/refresh", s.handleRefresh())
	mux.Handle("POST /v1/logout", s.authed(s.handleLogout()))
	mux.Handle("POST /v1/logout/all", s.authed(s.handleLogoutAll()))
	mux.Handle("GET /v1/sessions", s.authed(s.handleSessions()))
	mux.Handle("DELETE /v1/sessions/{id}", s.authed(s.handleEndSession()))

	// Second factors (mfa.go).
	mux.Handle("POST /v1/login/mfa", s.handleLoginMFA())
	mux.Handle("GET /v1/mfa", s.authed(s.handleMFAStatus()))
	mux.Handle("POST /v1/mfa/totp", s.authed(s.handleEnrolTOTP()))
	mux.Handle("POST /v1/mfa/totp/confirm", s.authed(s.handleConfirmTOTP()))
	mux.Handle("DELETE /v1/mfa/totp", s.authed(s.handleDisableTOTP()))
	mux.Handle("POST /v1/mfa/recovery-codes", s.authed(s.handleRecoveryCodes()))

	// Passkeys (passkeys.go).
	mux.Handle("POST /v1/passkeys/register/begin", s.authed(s.handlePasskeyRegisterBegin()))
	mux.Handle("POST /v1/passkeys/register/finish", s.authed(s.handlePasskeyRegisterFinish()))
	mux.Handle("PATCH /v1/passkeys/{id}", s.authed(s.handlePasskeyRename()))
	mux.Handle("DELETE /v1/passkeys/{id}", s.authed(s.handlePasskeyDelete()))
	mux.Handle("POST /v1/passkeys/login/begin", s.handlePasskeyLoginBegin())
	mux.Handle("POST /v1/passkeys/login/finish", s.handlePasskeyLoginFinish())
	mux.Handle("POST /v1/passkeys/step-up/begin", s.authed(s.handlePasskeyStepUpBegin()))
	mux.Handle("POST /v1/passkeys/step-up/finish", s.authed(s.handlePasskeyStepUpFinish()))

	// Passwords.
	mux.Handle("POST /v1/password/forgot", s.handleForgot())
	mux.Handle("POST /v1/password/reset", s.handleReset())
	mux.Handle("POST /v1/password/change", s.authed(s.handleChangePassword()))

	// Admin API: the admin key or an admin's access token.
	mux.Handle("GET /admin/v1/users", s.admin(s.handleAdminListUsers()))
	mux.Handle("POST /admin/v1/users", s.admin(s.handleAdminCreateUser()))
	mux.Handle("GET /admin/v1/users/{id}", s.admin(s.handleAdminGetUser()))
	mux.Handle("PATCH /admin/v1/users/{id}", s.admin(s.handleAdminPatchUser()))
	mux.Handle("DELETE /admin/v1/users/{id}", s.admin(s.handleAdminDeleteUser()))
	mux.Handle("GET /admin/v1/users/{id}/sessions", s.admin(s.handleAdminSessions()))
	mux.Handle("POST /admin/v1/users/{id}/logout", s.admin(s.handleAdminLogout()))
	mux.Handle("POST /admin/v1/users/{id}/reset", s.admin(s.handleAdminSendReset()))
	mux.Handle("POST /admin/v1/users/{id}/confirmation", s.admin(s.handleAdminResendConfirmation()))
	mux.Handle("GET /admin/v1/users/{id}/mfa", s.admin(s.handleAdminMFA()))
	mux.Handle("DELETE /admin/v1/users/{id}/mfa", s.admin(s.handleAdminResetMFA()))
	mux.Handle("GET /admin/v1/audit", s.admin(s.handleAdminAudit()))

	// Registered OAuth clients (admin_clients.go).
	mux.Handle("GET /admin/v1/clients", s.admin(s.handleAdminListClients()))
	mux.Handle("POST /admin/v1/clients", s.admin(s.handleAdminCreateClient()))
	mux.Handle("GET /admin/v1/clients/{id}", s.admin(s.handleAdminGetClient()))
	mux.Handle("PATCH /admin/v1/clients/{id}", s.admin(s.handleAdminPatchClient()))
	mux.Handle("DELETE /admin/v1/clients/{id}", s.admin(s.handleAdminDeleteClient()))
	mux.Handle("POST /admin/v1/clients/{id}/secret", s.admin(s.handleAdminRotateClientSecret()))
	// Webhooks (webhooks.go).
	mux.Handle("POST /admin/v1/webhooks", s.admin(s.handleCreateWebhook()))
	mux.Handle("GET /admin/v1/webhooks", s.admin(s.handleListWebhooks()))
	mux.Handle("GET /admin/v1/webhooks/{id}", s.admin(s.handleGetWebhook()))
	mux.Handle("PATCH /admin/v1/webhooks/{id}", s.admin(s.handlePatchWebhook()))
	mux.Handle("DELETE /admin/v1/webhooks/{id}", s.admin(s.handleDeleteWebhook()))
	mux.Handle("GET /admin/v1/webhooks/{id}/deliveries", s.admin(s.handleWebhookDeliveries()))
	mux.Handle("POST /admin/v1/webhooks/{id}/deliveries/{delivery_id}/retry", s.admin(s.handleRetryDelivery()))

	// OAuth 2.0 and discovery.
	mux.Handle("POST /oauth/token", s.handleOAuthToken())
	mux.Handle("POST /oauth/revoke", s.handleOAuthRevoke())
	mux.Handle("POST /oauth/introspect", s.handleOAuthIntrospect())
	mux.Handle("GET /.well-known/openid-configuration", s.handleDiscovery())
	mux.Handle("GET /.well-known/oauth-authorization-server", s.handleDiscovery())

	// OpenID Provider: UserInfo (oidc.go); the browser side is pages'.
	mux.Handle("GET /oauth/userinfo", s.handleUserInfo())
	mux.Handle("POST /oauth/userinfo", s.handleUserInfo())

	// Revocation feed (package verify follows it) and API description.
	mux.Handle("GET /v1/revocations", s.handleRevocations())
	mux.Handle("GET /openapi.json", handleOpenAPI())

	// Browser pages: server-rendered HTML, on their own handler
	// with CSRF checks and their own CSP (internal/pages).
	pg := s.pages()
	mux.Handle("GET /signup", pg)
	mux.Handle("POST /signup", pg)
	mux.Handle("GET /confirm", pg)
	mux.Handle("POST /confirm", pg)
	mux.Handle("POST /confirm/resend", pg)
	mux.Handle("GET /reset-password", pg)
	mux.Handle("POST /reset-password", pg)
	mux.Handle("GET /forgot-password", pg)
	mux.Handle("POST /forgot-password", pg)
	mux.Handle("GET /static/latch.css", pg)
	// OpenID Provider: authorization endpoint, hosted login, logout
	// (internal/pages/login.go).
	mux.Handle("GET /oauth/authorize", pg)
	mux.Handle("POST /oauth/authorize", pg)
	mux.Handle("GET /login", pg)
	mux.Handle("POST /login", pg)
	mux.Handle("POST /login/mfa", pg)
	mux.Handle("GET /oauth/logout", pg)
	mux.Handle("POST /oauth/logout", pg)
	// The account's security page and passkey sign-in
	// (internal/pages/account.go, login_passkey.go).
	mux.Handle("GET /account/security", pg)
	mux.Handle("POST /account/security/", pg)
	mux.Handle("POST /login/passkey/begin", pg)
	mux.Handle("POST /login/passkey/finish", pg)

	// Keys and operations.
	mux.Handle("GET /.well-known/jwks.json", s.handleJWKS())
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", s.handleReadyz())
	// No GET /metrics: metrics have a listener of their own
	// (LATCH_METRICS_ADDR), never the public one.
}
