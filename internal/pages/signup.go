package pages

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchauth/latch/internal/auth"
)

// signupForm is a posted signup form, read.
type signupForm struct {
	Email, Password string
	// RedirectTo is a listed redirect_to, or "".
	RedirectTo string
	// BadRedirect: the form had a redirect_to the list does not admit.
	BadRedirect bool
	// Problem is a mistake to show with the form ("" for none), and Field
	// the input it is about ("email" or "password").
	Problem, Field string
}

// readSignup reads a signup form's fields: email (trimmed), password and
// password_confirm (as typed: a password's spaces are its own), and
// redirect_to, checked against allowed (auth.Config.RedirectAllowed). The rules of addresses and
// passwords are the service's; this catches what needs no service.
func readSignup(form url.Values, allowed auth.Config) signupForm {
	f := signupForm{
		Email:    strings.TrimSpace(form.Get("email")),
		Password: form.Get("password"),
	}
	if rt := form.Get("redirect_to"); rt != "" {
		if allowed.RedirectAllowed(rt) {
			f.RedirectTo = rt
		} else {
			f.BadRedirect = true
		}
	}
	switch {
	case f.Email == "":
		f.Problem, f.Field = "Enter your email address.", "email"
	case f.Password == "":
		f.Problem, f.Field = "Choose a password.", "password"
	case f.Password != form.Get("password_confirm"):
		f.Problem, f.Field = "The two passwords do not match. Type the same password twice.", "password"
	}
	return f
}

func (h *handler) signupView(w http.ResponseWriter, r *http.Request, redirectTo string) view {
	return view{Title: "Create your account", CSRF: h.csrfToken(w, r), RedirectTo: redirectTo,
		Link: withRedirect(h.base+PathForgot, redirectTo)}
}

func (h *handler) signupForm(w http.ResponseWriter, r *http.Request) {
	rt := r.URL.Query().Get("redirect_to")
	if rt != "" && !h.redirectOK(rt) {
		h.badRedirect(w, r)
		return
	}
	h.render(w, http.StatusOK, "signup", h.signupView(w, r, rt))
}

// signup creates the account. Its answer is the same "check your inbox"
// page whether or not the address already has an account (the owner of
// one gets a mail saying so instead), as the JSON API's is the same 202.
func (h *handler) signup(w http.ResponseWriter, r *http.Request) {
	if !h.readForm(w, r, view{Link: h.base + PathSignup, LinkText: "Open the form again"}) {
		return
	}
	in := readSignup(r.PostForm, h.allow)
	if in.BadRedirect {
		h.badRedirect(w, r)
		return
	}
	form := h.signupView(w, r, in.RedirectTo)
	form.Email = in.Email
	if in.Problem != "" {
		form.Error, form.Invalid = in.Problem, in.Field
		h.render(w, http.StatusUnprocessableEntity, "signup", form)
		return
	}
	res, err := h.svc.Signup(h.redirectContext(r, in.RedirectTo), in.Email, in.Password)
	switch code(err) {
	case "":
	case auth.CodeInvalidEmail, auth.CodeWeakPassword:
		var ae *auth.Error
		errors.As(err, &ae)
		form.Error, form.Invalid = sentence(ae.Message), "password"
		if ae.Code == auth.CodeInvalidEmail {
			form.Invalid = "email"
		}
		h.render(w, http.StatusUnprocessableEntity, "signup", form)
		return
	case auth.CodeEmailTaken: // only when confirmation is off: the API says so too
		form.Error, form.Invalid = "An account with this email address already exists. Sign in, or reset its password if you forgot it.", "email"
		h.render(w, http.StatusConflict, "signup", form)
		return
	default:
		h.failure(w, r, "signup", err)
		return
	}
	if res.Tokens != nil {
		// Confirmation is off, so the account is ready and Signup started a
		// session, as the JSON API answers one. The page has no use for it:
		// the user signs in in their app, so it ends here.
		if err := h.svc.RevokeToken(r.Context(), auth.OAuthClient{}, res.Tokens.RefreshToken); err != nil {
			h.log.WarnContext(r.Context(), "pages: ending the signup's session failed", "err", err)
		}
		if h.redirectDone(w, r, in.RedirectTo) {
			return
		}
		h.message(w, r, http.StatusOK, view{Title: "Account created",
			Lines: []string{"Your account " + in.Email + " is ready.", "You can now sign in to " + h.product + " with it. You may close this page."}})
		return
	}
	h.message(w, r, http.StatusOK, view{Title: "Check your inbox",
		Lines: []string{
			"We sent a message to " + in.Email + ". Open the link in it to confirm your address and finish creating your account.",
			"It may take a few minutes to arrive. If nothing comes, check your spam folder, or sign up again for a new link.",
		}})
}
