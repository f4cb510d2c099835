package web

import (
	"errors"
	"net/http"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/password"
	"github.com/sleutelbos/sleutelbos/internal/recovery"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// The reset link of "Forgot your password?" (internal/recovery): GET /reset?t=… checks the
// link, keeps the reset in the session (sessionData.Reset) and leaves the link's address at
// once; then a key the mailbox does not prove (/reset/key: a token card's code, an app's code,
// through the logon's own code step) when the citizen has one, and the new password
// (/reset/password). Setting it ends every session of the citizen, this one included, and
// the citizen logs on again.

// resetKeyPage asks for a key: which one (Kinds, when no code step is going), or its code.
type resetKeyPage struct {
	BasePage
	// Kinds are the keys the citizen may prove, when none is being asked yet.
	Kinds []kindOption
	// Heading, Intro, Prompt and Hint are the code step's, as on the logon's code page.
	Heading, Intro, Prompt, Hint string
	Asking                       bool
}

// kindOption is one key kind offered as a button.
type kindOption struct {
	Kind, Name string
}

// resetPasswordPage asks for the new password.
type resetPasswordPage struct {
	BasePage
	PasswordMin int
}

// resetInvalidPage says the link (or the reset) does not work any more.
type resetInvalidPage struct {
	BasePage
	Message string
}

// resetOpen serves GET /reset?t=…, the link of the e-mail.
func (s *Server) resetOpen(w http.ResponseWriter, r *http.Request) error {
	if s.deps.Recovery == nil {
		return errNotFound
	}
	rs, err := s.deps.Recovery.OpenReset(r.Context(), r.URL.Query().Get("t"), s.recoveryClient(r))
	var le *i18n.LocalizedError
	if errors.As(err, &le) {
		return s.renderResetInvalid(w, r, le)
	}
	if err != nil {
		return err
	}
	st := stateOf(r)
	if st.sess.loggedOn() {
		// Whoever follows a reset link starts over: the logon of this browser ends here.
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

// resetStepURL is the page of the step rs is at.
func resetStepURL(rs *recovery.Reset) string {
	if rs.NeedsFactor() {
		return "/reset/key"
	}
	return "/reset/password"
}

// currentReset returns the session's reset, or answers the request and returns nil: without
// one, to the forgotten-password form; for one that outlived its link, the page saying so.
func (s *Server) currentReset(w http.ResponseWriter, r *http.Request) (*recovery.Reset, error) {
	if s.deps.Recovery == nil {
		return nil, errNotFound
	}
	st := stateOf(r)
	if st.sess == nil || st.sess.data.Reset == nil {
		http.Redirect(w, r, "/forgot/password", http.StatusSeeOther)
		return nil, nil
	}
	rs := st.sess.data.Reset
	if rs.Expired(s.deps.Now()) {
		return nil, s.endReset(w, r, recovery.ErrExpired)
	}
	return rs, nil
}

// endReset forgets the session's reset and shows why it ended.
func (s *Server) endReset(w http.ResponseWriter, r *http.Request, le *i18n.LocalizedError) error {
	st := stateOf(r)
	st.sess.data.Reset = nil
	if err := s.sessions.Save(r.Context(), w, st.sess); err != nil {
		return err
	}
	return s.renderResetInvalid(w, r, le)
}

// resetKeyShow serves GET /reset/key.
func (s *Server) resetKeyShow(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.currentReset(w, r)
	if rs == nil || err != nil {
		return err
	}
	if !rs.NeedsFactor() {
		http.Redirect(w, r, "/reset/password", http.StatusSeeOther)
		return nil
	}
	return s.renderResetKey(w, r, rs, nil)
}

// resetKeyChoose serves POST /reset/key: the kind whose code is asked.
func (s *Server) resetKeyChoose(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.currentReset(w, r)
	if rs == nil || err != nil {
		return err
	}
	err = s.deps.Recovery.ChooseFactor(r.Context(), rs, r.PostForm.Get("kind"), s.recoveryClient(r))
	return s.afterResetStep(w, r, rs, err, "/reset/key")
}

// resetCode serves POST /reset/code: the key's code.
func (s *Server) resetCode(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.currentReset(w, r)
	if rs == nil || err != nil {
		return err
	}
	err = s.deps.Recovery.SubmitFactor(r.Context(), rs, r.PostForm.Get("code"), s.recoveryClient(r))
	return s.afterResetStep(w, r, rs, err, "/reset/password")
}

// afterResetStep saves the reset a key step moved (its counters and lockout are the logon's,
// kept in the store, but the code step's state is the session's) and goes on to next, or
// shows the key page with the step's error.
func (s *Server) afterResetStep(w http.ResponseWriter, r *http.Request, rs *recovery.Reset, err error, next string) error {
	st := stateOf(r)
	if saveErr := s.sessions.Save(r.Context(), w, st.sess); saveErr != nil {
		return saveErr
	}
	var le *i18n.LocalizedError
	switch {
	case err == nil:
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	case errors.Is(err, recovery.ErrExpired):
		return s.endReset(w, r, recovery.ErrExpired)
	case errors.Is(err, recovery.ErrOutOfOrder):
		http.Redirect(w, r, resetStepURL(rs), http.StatusSeeOther)
		return nil
	case errors.As(err, &le):
		return s.renderResetKey(w, r, rs, le)
	}
	return err
}

// renderResetKey shows the key step of rs, with the error of its last answer.
func (s *Server) renderResetKey(w http.ResponseWriter, r *http.Request, rs *recovery.Reset, le *i18n.LocalizedError) error {
	p := &resetKeyPage{BasePage: s.basePath(r, "/reset/key", nil)}
	tx := rs.Logon
	p.Asking = tx != nil && tx.Step == login.StepCode && tx.Challenge != nil
	if le != nil {
		field := ""
		if p.Asking {
			field = "code"
		}
		p.Errors = fieldError(field, p.printer.Error(le))
	}
	p.Heading = p.T("web.reset.key.title")
	if p.Asking {
		p.Heading = withHeading(p.BasePage, tx.Kind)
		if intro := "login." + tx.Kind + ".step1"; s.deps.Bundle.Has(p.Lang, intro) {
			p.Intro = p.T(intro)
		}
		if hint := "login." + tx.Kind + ".hint"; s.deps.Bundle.Has(p.Lang, hint) {
			p.Hint = p.T(hint)
		}
		args := make([]any, len(tx.Challenge.Args))
		for i, a := range tx.Challenge.Args {
			args[i] = a
		}
		p.Prompt = p.T(tx.Challenge.Prompt, args...)
	} else {
		for _, k := range rs.Factors {
			p.Kinds = append(p.Kinds, kindOption{Kind: k, Name: p.T("key." + k + ".name")})
		}
	}
	p.Title = p.Heading
	return s.render(w, r, http.StatusOK, "reset_key", p)
}

// resetPasswordShow serves GET /reset/password.
func (s *Server) resetPasswordShow(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.currentReset(w, r)
	if rs == nil || err != nil {
		return err
	}
	if rs.NeedsFactor() {
		http.Redirect(w, r, "/reset/key", http.StatusSeeOther)
		return nil
	}
	return s.renderResetPassword(w, r, nil)
}

// resetPasswordSubmit serves POST /reset/password: the new password, then the logon page.
func (s *Server) resetPasswordSubmit(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.currentReset(w, r)
	if rs == nil || err != nil {
		return err
	}
	err = s.deps.Recovery.SetPassword(r.Context(), rs, r.PostForm.Get("password"), r.PostForm.Get("confirm"), s.recoveryClient(r))
	var inv *recovery.InvalidError
	var le *i18n.LocalizedError
	switch {
	case err == nil:
		st := stateOf(r)
		if err := s.sessions.Destroy(r.Context(), w, st.sess); err != nil {
			return err
		}
		st.sess, st.account = nil, nil
		target := "/login"
		if rs.Purpose == store.CodeRecovery {
			// A recovery code's citizen has no working key: next, a new one. A new session
			// (no logon yet) carries the right to activate it through the logon with the new
			// password, which reaches only level low.
			st.sess = s.sessions.New()
			st.sess.data.Recovered = &recoveryRight{AccountID: rs.AccountID,
				ExpiresAt: s.deps.Now().Add(s.deps.Recovery.Config().ResetValidity)}
			if err := s.sessions.Save(r.Context(), w, st.sess); err != nil {
				return err
			}
			target = "/login?return=%2Fkeys%2Factivate"
		}
		s.redirectWithFlash(w, r, target, flashPasswordReset)
		return nil
	case errors.As(err, &inv):
		pr := s.printer(r)
		var errs FormErrors
		for _, f := range inv.Fields {
			errs = append(errs, FormError{Field: f.Field, Message: pr.Error(f.Err)})
		}
		return s.renderResetPassword(w, r, errs)
	case errors.Is(err, recovery.ErrOutOfOrder):
		// A key was activated since the link was opened: it is asked for first.
		if err := s.sessions.Save(r.Context(), w, stateOf(r).sess); err != nil {
			return err
		}
		http.Redirect(w, r, resetStepURL(rs), http.StatusSeeOther)
		return nil
	case errors.As(err, &le):
		return s.endReset(w, r, le)
	}
	return err
}

func (s *Server) renderResetPassword(w http.ResponseWriter, r *http.Request, errs FormErrors) error {
	p := &resetPasswordPage{BasePage: s.basePath(r, "/reset/password", nil), PasswordMin: password.MinLength}
	p.Title = p.T("web.reset.password.title")
	p.Errors = errs
	return s.render(w, r, http.StatusOK, "reset_password", p)
}

// renderResetInvalid says the link does not work (used, expired, superseded), and offers a
// new one. The page's language switch never carries the link's secret.
func (s *Server) renderResetInvalid(w http.ResponseWriter, r *http.Request, le *i18n.LocalizedError) error {
	p := &resetInvalidPage{BasePage: s.basePath(r, "/forgot/password", nil)}
	p.Title = p.T("web.reset.invalid.title")
	p.Message = p.printer.Error(le)
	return s.render(w, r, http.StatusBadRequest, "reset_invalid", p)
}
