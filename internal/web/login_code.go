package web

import (
	"errors"
	"net/http"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login"
)

// codePage is step 4 of SPEC §3: the kind's security code. For a token card:
// "1 Take your personal paper card (token) in hand / 2 Enter the security code number 18 of
// your card / 3 Click Next".
type codePage struct {
	BasePage
	Heading string
	// Intro is the kind's optional first step ("login.<kind>.step1"); Prompt is the
	// challenge's instruction.
	Intro  string
	Prompt string
	// Hint is the kind's optional advice under the prompt ("login.<kind>.hint": check the junk
	// e-mail folder).
	Hint string
	// Waiting: no code was sent yet (the kind's resend limit); the page offers only "send a
	// new code" and another key.
	Waiting     bool
	CanResend   bool
	Notice      *Notice
	OtherKeyURL string
}

// loginCodeShow serves GET /login/code (?sent=1 after a new code was sent).
func (s *Server) loginCodeShow(w http.ResponseWriter, r *http.Request) error {
	tx, err := s.currentTx(w, r)
	if tx == nil || err != nil {
		return err
	}
	if tx.Step != login.StepCode {
		http.Redirect(w, r, stepURL(tx), http.StatusSeeOther)
		return nil
	}
	var notice *Notice
	switch {
	case tx.Waiting():
		notice = s.waitNotice(r, tx)
	case r.URL.Query().Get("sent") == "1":
		notice = &Notice{Text: s.printer(r).T("web.login.code.resent")}
	}
	return s.renderCode(w, r, tx, "", notice)
}

// loginCodeSubmit serves POST /login/code.
func (s *Server) loginCodeSubmit(w http.ResponseWriter, r *http.Request) error {
	tx, err := s.currentTx(w, r)
	if tx == nil || err != nil {
		return err
	}
	err = s.deps.Login.SubmitCode(r.Context(), tx, r.PostForm.Get("code"), s.client(r))
	return s.afterStep(w, r, tx, err, "")
}

// loginResend serves POST /login/resend: a new code, then back to the code page.
func (s *Server) loginResend(w http.ResponseWriter, r *http.Request) error {
	tx, err := s.currentTx(w, r)
	if tx == nil || err != nil {
		return err
	}
	err = s.deps.Login.Resend(r.Context(), tx, s.client(r))
	var le *i18n.LocalizedError
	if err != nil && !errors.Is(err, login.ErrExpired) && errors.As(err, &le) && tx.Step == login.StepCode {
		if err := s.sessions.Save(r.Context(), w, stateOf(r).sess); err != nil {
			return err
		}
		return s.renderCode(w, r, tx, s.printer(r).Error(le), nil)
	}
	if err != nil {
		return s.afterStep(w, r, tx, err, "")
	}
	if err := s.sessions.Save(r.Context(), w, stateOf(r).sess); err != nil {
		return err
	}
	http.Redirect(w, r, "/login/code?sent=1", http.StatusSeeOther)
	return nil
}

// waitNotice says how long until a waiting code step (tx.Waiting) may ask for a new code.
func (s *Server) waitNotice(r *http.Request, tx *login.Transaction) *Notice {
	p := s.printer(r)
	wait := tx.ResendAt.Sub(s.deps.Now())
	if wait <= 0 {
		return &Notice{Text: p.T("web.login.code.resend_now")}
	}
	return &Notice{Text: p.Error(keys.NewResendLimitError(wait)), Warning: true}
}

// renderCode shows the code step of tx.
func (s *Server) renderCode(w http.ResponseWriter, r *http.Request, tx *login.Transaction, errMsg string, notice *Notice) error {
	p := &codePage{
		BasePage:    s.basePath(r, "/login/code", nil),
		Notice:      notice,
		OtherKeyURL: chooserURL(tx),
	}
	p.Waiting = tx.Waiting()
	switch {
	case errMsg == "":
	case p.Waiting:
		// No code field while waiting: the error is about the whole step.
		p.Errors = fieldError("", errMsg)
	default:
		p.Errors = fieldError("code", errMsg)
	}
	p.Heading = withHeading(p.BasePage, tx.Kind)
	p.Title = p.Heading
	p.ClosedNotes = s.closedNotes(p.BasePage, tx, tx.Kind)
	if intro := "login." + tx.Kind + ".step1"; s.deps.Bundle.Has(p.Lang, intro) {
		p.Intro = p.T(intro)
	}
	if hint := "login." + tx.Kind + ".hint"; !p.Waiting && s.deps.Bundle.Has(p.Lang, hint) {
		p.Hint = p.T(hint)
	}
	if ch := tx.Challenge; ch != nil && ch.Prompt != "" {
		args := make([]any, len(ch.Args))
		for i, a := range ch.Args {
			args[i] = a
		}
		p.Prompt = p.T(ch.Prompt, args...)
	}
	for _, c := range s.deps.Login.Choices(tx) {
		if c.Kind == tx.Kind {
			p.CanResend = c.CanResend
		}
	}
	return s.render(w, r, http.StatusOK, "login_code", p)
}
