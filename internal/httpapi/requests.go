package httpapi

// Request bodies of the JSON API. Fields a client may not set are simply
// not declared: unknown fields are ignored.

type signupRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// RedirectTo (optional) rides in the mailed links (pages.go).
	RedirectTo string `json:"redirect_to"`
}

func (q signupRequest) check() error { return required("email", q.Email, "password", q.Password) }

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (q loginRequest) check() error { return required("email", q.Email, "password", q.Password) }

type tokenRequest struct {
	Token string `json:"token"`
}

func (q tokenRequest) check() error { return required("token", q.Token) }

type emailRequest struct {
	Email string `json:"email"`
	// RedirectTo (optional) rides in the mailed links (pages.go).
	RedirectTo string `json:"redirect_to"`
}

func (q emailRequest) check() error { return required("email", q.Email) }

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (q refreshRequest) check() error { return required("refresh_token", q.RefreshToken) }

// logoutRequest's refresh_token is optional.
type logoutRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// emptyRequest is the body of endpoints that take none: empty or an object.
type emptyRequest struct{}

type resetRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

func (q resetRequest) check() error { return required("token", q.Token, "password", q.Password) }

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
	Code            string `json:"code"` // second factor, when the account has one
}

func (q changePasswordRequest) check() error {
	return required("current_password", q.CurrentPassword, "new_password", q.NewPassword)
}

type changeEmailRequest struct {
	NewEmail string `json:"new_email"`
	Password string `json:"password"`
	Code     string `json:"code"` // second factor, when the account has one
}

func (q changeEmailRequest) check() error {
	return required("new_email", q.NewEmail, "password", q.Password)
}

type passwordRequest struct {
	Password string `json:"password"`
	Code     string `json:"code"` // second factor, when the account has one
}

func (q passwordRequest) check() error { return required("password", q.Password) }
