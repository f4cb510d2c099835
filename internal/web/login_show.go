package web

import (
	"net/http"
	"net/url"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login"
)

// chooserPage is "Log on to online public services": one button per key kind offered.
type chooserPage struct {
	BasePage
	// Level and Return are sent back with the choice.
	Level   string
	Return  string
	Choices []choiceView
	// Notice reports what happened before (the logon expired, the citizen signed out). An
	// error of the last attempt (no such key) is in BasePage.Errors, about the first key, with
	// KeysLink the way to My digital keys, where that key is activated.
	Notice   *Notice
	KeysLink bool
	// Register offers "Create an account" (when registration is on), at RegisterURL: it
	// carries the logon's return path, so a newcomer an online service sent gets back to it.
	Register    bool
	RegisterURL string
}

// choiceView is one key kind on the chooser.
type choiceView struct {
	Kind        string
	Name        string
	Description string
}

// loginShow serves GET /login?level=…&return=…. A live transaction in the session (started
// earlier, or by an online service) is continued when the URL names neither.
func (s *Server) loginShow(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	level, err := parseLevel(q.Get("level"))
	if err != nil {
		return err
	}
	tx := s.deps.Login.Start(level, safeReturn(q.Get("return")))
	if st := stateOf(r); st.sess != nil && st.sess.data.Login != nil && !q.Has("level") && !q.Has("return") {
		if cur := st.sess.data.Login; !s.deps.Login.Expired(cur) {
			tx = cur
		}
	}
	var notice *Notice
	switch s.takeFlash(w, r) {
	case flashExpired:
		notice = &Notice{Text: s.printer(r).T("login.error.expired"), Warning: true}
	case flashSignedOut:
		notice = &Notice{Text: s.printer(r).T("web.logout.done")}
	case flashStaleLogon:
		notice = &Notice{Text: s.printer(r).T("portal.error.stale_logon"), Warning: true}
	case flashOtherKey:
		// Back from the phase-out pop-up: which keys are the way on.
		notice = &Notice{Text: s.printer(r).T("web.prompt.other_notice", i18n.Msg("key.emailcode.name"), i18n.Msg("key.totp.name"))}
	case flashPasswordReset:
		notice = &Notice{Text: s.printer(r).T("web.reset.done")}
	case flashCompleted:
		if s.holdsLevel(r, level) {
			// This browser holds the logon another request completed: go where it was for.
			http.Redirect(w, r, safeReturn(q.Get("return")), http.StatusSeeOther)
			return nil
		}
		notice = &Notice{Text: s.printer(r).T("login.error.completed_elsewhere"), Warning: true}
	}
	return s.renderChooser(w, r, tx, notice, "")
}

// holdsLevel reports whether the request's session is logged on at level or above.
func (s *Server) holdsLevel(r *http.Request, level keys.Level) bool {
	st := stateOf(r)
	if !st.sess.loggedOn() || st.account == nil {
		return false
	}
	got, err := keys.ParseLevel(st.sess.row.LoA)
	return err == nil && got >= level
}

// renderChooser shows the kinds offered for tx.
func (s *Server) renderChooser(w http.ResponseWriter, r *http.Request, tx *login.Transaction, notice *Notice, errMsg string) error {
	return s.renderChooserLink(w, r, tx, notice, errMsg, false)
}

// renderChooserLink is renderChooser with, when keysLink is set, a link to My digital keys
// under the error ("activate this digital key in My digital keys").
func (s *Server) renderChooserLink(w http.ResponseWriter, r *http.Request, tx *login.Transaction, notice *Notice, errMsg string, keysLink bool) error {
	q := url.Values{}
	if tx.MinLevel > keys.LevelLow {
		q.Set("level", tx.MinLevel.String())
	}
	if tx.Return != "/" && tx.Return != "" {
		q.Set("return", tx.Return)
	}
	p := &chooserPage{
		BasePage:    s.basePath(r, "/login", q),
		Level:       tx.MinLevel.String(),
		Return:      tx.Return,
		Notice:      notice,
		KeysLink:    keysLink,
		Register:    s.cfg.Registration && !stateOf(r).sess.loggedOn(), // a citizen has one account
		RegisterURL: registerURL(tx),
	}
	p.Title = p.T("web.login.title")
	p.ClosedNotes = s.closedNotes(p.BasePage, tx, "")
	for _, c := range s.deps.Login.Choices(tx) {
		p.Choices = append(p.Choices, choiceView{
			Kind:        c.Kind,
			Name:        kindName(p.BasePage, c.Kind),
			Description: p.T("key." + c.Kind + ".description"),
		})
	}
	if errMsg != "" {
		// The way on is another key: the summary leads to the first one offered.
		field := "kinds"
		if len(p.Choices) > 0 {
			field = "kind-" + p.Choices[0].Kind
		}
		p.Errors = fieldError(field, errMsg)
	}
	return s.render(w, r, http.StatusOK, "login", p)
}
