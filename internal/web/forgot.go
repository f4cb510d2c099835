package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/recovery"
)

// "Forgot your username and/or password?" (internal/recovery): two forms that answer the same
// whether or not an account matches — the same redirect, the same page — and the pages of
// the reset link (reset.go). A 404 when Deps.Recovery is nil.

// forgotPage is the forgotten-username or forgotten-password form.
type forgotPage struct {
	BasePage
	// Value is what was typed, shown back after an error.
	Value string
}

// forgotSentPage says an e-mail went out if an account matched.
type forgotSentPage struct {
	BasePage
	Heading, Text string
}

// forgotUsernameShow serves GET /forgot/username.
func (s *Server) forgotUsernameShow(w http.ResponseWriter, r *http.Request) error {
	if s.deps.Recovery == nil {
		return errNotFound
	}
	return s.renderForgot(w, r, "forgot_username", "web.forgot.username.title", "", nil)
}

// forgotUsernameSubmit serves POST /forgot/username.
func (s *Server) forgotUsernameSubmit(w http.ResponseWriter, r *http.Request) error {
	if s.deps.Recovery == nil {
		return errNotFound
	}
	email := r.PostForm.Get("email")
	err := s.deps.Recovery.ForgotUsername(r.Context(), email, s.recoveryClient(r))
	if err != nil {
		return s.forgotError(w, r, "forgot_username", "web.forgot.username.title", email, err)
	}
	http.Redirect(w, r, "/forgot/username/sent", http.StatusSeeOther)
	return nil
}

// forgotPasswordShow serves GET /forgot/password.
func (s *Server) forgotPasswordShow(w http.ResponseWriter, r *http.Request) error {
	if s.deps.Recovery == nil {
		return errNotFound
	}
	return s.renderForgot(w, r, "forgot_password", "web.forgot.password.title", "", nil)
}

// forgotPasswordSubmit serves POST /forgot/password.
func (s *Server) forgotPasswordSubmit(w http.ResponseWriter, r *http.Request) error {
	if s.deps.Recovery == nil {
		return errNotFound
	}
	id := r.PostForm.Get("identifier")
	err := s.deps.Recovery.ForgotPassword(r.Context(), id, s.recoveryClient(r))
	if err != nil {
		return s.forgotError(w, r, "forgot_password", "web.forgot.password.title", id, err)
	}
	http.Redirect(w, r, "/forgot/password/sent", http.StatusSeeOther)
	return nil
}

// forgotSent serves GET /forgot/username/sent and /forgot/password/sent: the one answer,
// whether or not an account matched.
func (s *Server) forgotSent(what string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if s.deps.Recovery == nil {
			return errNotFound
		}
		p := &forgotSentPage{BasePage: s.base(r)}
		p.Heading = p.T("web.forgot." + what + ".sent_title")
		p.Text = p.T("web.forgot."+what+".sent", s.deps.Recovery.ResetMinutes())
		p.Title = p.Heading
		return s.render(w, r, http.StatusOK, "forgot_sent", p)
	}
}

// forgotError shows the form again with a form error, or the 429 page of a limit.
func (s *Server) forgotError(w http.ResponseWriter, r *http.Request, page, titleKey, value string, err error) error {
	var inv *recovery.InvalidError
	if errors.As(err, &inv) {
		pr := s.printer(r)
		var errs FormErrors
		for _, f := range inv.Fields {
			errs = append(errs, FormError{Field: f.Field, Message: pr.Error(f.Err)})
		}
		return s.renderForgot(w, r, page, titleKey, value, errs)
	}
	var throttled *attempts.ThrottledError
	if errors.As(err, &throttled) {
		return s.tooManyRecoveries(w, r, throttled)
	}
	return err
}

// tooManyRecoveries answers a spent limit with the 429 page saying how long to wait.
func (s *Server) tooManyRecoveries(w http.ResponseWriter, r *http.Request, t *attempts.ThrottledError) error {
	p := s.printer(r)
	msg := p.T("web.forgot.too_many", t.Minutes())
	if t.Minutes() == 1 {
		msg = p.T("web.forgot.too_many_minute")
	}
	w.Header().Set("Retry-After", strconv.Itoa(int((t.Wait+time.Second-1)/time.Second)))
	s.renderError(w, r, http.StatusTooManyRequests, msg)
	return nil
}

func (s *Server) renderForgot(w http.ResponseWriter, r *http.Request, page, titleKey, value string, errs FormErrors) error {
	p := &forgotPage{BasePage: s.basePath(r, "/"+pathOfForgot(page), nil), Value: value}
	p.Title = p.T(titleKey)
	p.Errors = errs
	return s.render(w, r, http.StatusOK, page, p)
}

// pathOfForgot is the address of a forgotten-… page.
func pathOfForgot(page string) string {
	if page == "forgot_username" {
		return "forgot/username"
	}
	return "forgot/password"
}

// recoveryClient describes the requester to recovery.
func (s *Server) recoveryClient(r *http.Request) recovery.Client {
	return recovery.Client{IP: s.clientIP(r), UserAgent: r.UserAgent()}
}

// recoverPage is where a citizen types the recovery code a helpdesk agent gave them.
type recoverPage struct {
	BasePage
	Username string
}

// recoverShow serves GET /recover.
func (s *Server) recoverShow(w http.ResponseWriter, r *http.Request) error {
	if s.deps.Recovery == nil {
		return errNotFound
	}
	return s.renderRecover(w, r, "", nil)
}

// recoverSubmit serves POST /recover: the right username and code open a reset that goes
// straight to the new password.
func (s *Server) recoverSubmit(w http.ResponseWriter, r *http.Request) error {
	if s.deps.Recovery == nil {
		return errNotFound
	}
	username := r.PostForm.Get("username")
	rs, err := s.deps.Recovery.RedeemCode(r.Context(), username, r.PostForm.Get("code"), s.recoveryClient(r))
	var inv *recovery.InvalidError
	var throttled *attempts.ThrottledError
	switch {
	case errors.As(err, &inv):
		pr := s.printer(r)
		var errs FormErrors
		for _, f := range inv.Fields {
			errs = append(errs, FormError{Field: f.Field, Message: pr.Error(f.Err)})
		}
		return s.renderRecover(w, r, username, errs)
	case errors.As(err, &throttled):
		return s.tooManyRecoveries(w, r, throttled)
	case errors.Is(err, recovery.ErrRecoveryCode):
		return s.renderRecover(w, r, username, fieldError("code", s.printer(r).Error(recovery.ErrRecoveryCode)))
	case err != nil:
		return err
	}
	st := stateOf(r)
	if st.sess.loggedOn() {
		if err := s.sessions.Destroy(r.Context(), w, st.sess); err != nil {
			return err
		}
		st.sess, st.account = nil, nil
	}
	if st.sess == nil {
		st.sess = s.sessions.New()
	}
	st.sess.data.Reset = rs
	if err := s.sessions.Save(r.Context(), w, st.sess); err != nil {
		return err
	}
	http.Redirect(w, r, resetStepURL(rs), http.StatusSeeOther)
	return nil
}

func (s *Server) renderRecover(w http.ResponseWriter, r *http.Request, username string, errs FormErrors) error {
	p := &recoverPage{BasePage: s.basePath(r, "/recover", nil), Username: username}
	p.Title = p.T("web.recover.title")
	p.Errors = errs
	return s.render(w, r, http.StatusOK, "recover", p)
}
