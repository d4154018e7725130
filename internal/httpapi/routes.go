package httpapi

import "net/http"

// addRoutes is the map of the API: every route latch's JSON API answers.
func addRoutes(mux *http.ServeMux, s *server) {
	// Accounts.
	mux.Handle("POST /v1/signup", s.handleSignup())
	mux.Handle("POST /v1/confirm", s.handleConfirm())
	mux.Handle("POST /v1/confirm/resend", s.handleResend())
	mux.Handle("GET /v1/me", s.authed(s.handleMe()))
	mux.Handle("DELETE /v1/me", s.authed(s.handleDeleteMe()))
	mux.Handle("POST /v1/email/change", s.authed(s.handleChangeEmail()))

	// Sessions and tokens.
	mux.Handle("POST /v1/login", s.handleLogin())
	mux.Handle("POST /v1/token/refresh", s.handleRefresh())
	mux.Handle("POST /v1/logout", s.authed(s.handleLogout()))
	mux.Handle("POST /v1/logout/all", s.authed(s.handleLogoutAll()))
	mux.Handle("GET /v1/sessions", s.authed(s.handleSessions()))
	mux.Handle("DELETE /v1/sessions/{id}", s.authed(s.handleEndSession()))

	// Passwords.
	mux.Handle("POST /v1/password/forgot", s.handleForgot())
	mux.Handle("POST /v1/password/reset", s.handleReset())
	mux.Handle("POST /v1/password/change", s.authed(s.handleChangePassword()))

	// Keys and operations.
	mux.Handle("GET /.well-known/jwks.json", s.handleJWKS())
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", s.handleReadyz())
}
