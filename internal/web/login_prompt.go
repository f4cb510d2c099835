package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/login"
)

// promptPage is the phase-out pop-up (SPEC §5): a dialog with its three ways. It is a page of
// its own, so it works without JavaScript; with it, static/focus.js makes the dialog modal
// (focus kept inside, Esc is the × button).
type promptPage struct {
	BasePage
	Heading string
	Intro   string
	// CloseHint says until when closing the pop-up lets the citizen go on with the old key.
	CloseHint string
}

// loginPromptShow serves GET /login/prompt.
func (s *Server) loginPromptShow(w http.ResponseWriter, r *http.Request) error {
	tx, err := s.currentTx(w, r)
	if tx == nil || err != nil {
		return err
	}
	if tx.Step != login.StepPrompt {
		http.Redirect(w, r, stepURL(tx), http.StatusSeeOther)
		return nil
	}
	return s.renderPrompt(w, r, tx, http.StatusOK, "")
}

// loginPromptSubmit serves POST /login/prompt: the answer (choice=activate|other_key|close).
// A choice the pop-up does not offer is answered 400 with the pop-up again and changes
// nothing.
func (s *Server) loginPromptSubmit(w http.ResponseWriter, r *http.Request) error {
	tx, err := s.currentTx(w, r)
	if tx == nil || err != nil {
		return err
	}
	err = s.deps.Login.Answer(r.Context(), tx, r.PostForm.Get("choice"), s.client(r))
	switch {
	case errors.Is(err, login.ErrUnknownChoice):
		return s.renderPrompt(w, r, tx, http.StatusBadRequest, s.printer(r).Error(err.(*i18n.LocalizedError)))
	case errors.Is(err, login.ErrOutOfOrder):
		// Answered already (the form sent twice, Back): go on where the logon stands.
		http.Redirect(w, r, stepURL(tx), http.StatusSeeOther)
		return nil
	}
	if err == nil && tx.Step == login.StepChoose {
		s.setFlash(w, flashOtherKey)
	}
	return s.afterStep(w, r, tx, err, "")
}

// renderPrompt shows tx's pop-up, with errMsg about the choice when set.
func (s *Server) renderPrompt(w http.ResponseWriter, r *http.Request, tx *login.Transaction, status int, errMsg string) error {
	p := &promptPage{BasePage: s.basePath(r, "/login/prompt", nil)}
	name := p.T("key." + tx.Kind + ".name")
	p.Heading = p.T("web.prompt.title", name)
	p.Title = p.Heading
	var disabled time.Time
	if s.deps.Policies != nil {
		if pol, ok := s.deps.Policies.Get(tx.Kind); ok {
			disabled = pol.DisabledFrom
		}
	}
	if disabled.IsZero() {
		// A prompt with no switch-off date (yet).
		p.Intro, p.CloseHint = p.T("web.prompt.intro_undated", name), p.T("web.prompt.close_hint_undated", name)
	} else {
		// "Until 30 January" when the kind is disabled from 31 January 00:00: its last day.
		p.Intro = p.T("web.prompt.intro", p.DayOf(disabled), name)
		p.CloseHint = p.T("web.prompt.close_hint", name, p.DayOf(disabled.Add(-time.Microsecond)))
	}
	p.ClosedNotes = s.closedNotes(p.BasePage, tx, tx.Kind)
	if errMsg != "" {
		p.Errors = fieldError("choice-activate", errMsg)
	}
	return s.render(w, r, status, "login_prompt", p)
}
