package web

import (
	"net/http"
	"net/url"

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
	// Notice is informational (the previous logon expired); Error is an error of the last
	// attempt (no such key).
	Notice string
	Error  string
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
	if q.Get("notice") == noticeCompleted && s.holdsLevel(r, level) {
		// This browser holds the logon another request completed: go where it was for.
		http.Redirect(w, r, safeReturn(q.Get("return")), http.StatusSeeOther)
		return nil
	}
	notice := ""
	if key, ok := noticeKeys[q.Get("notice")]; ok {
		notice = s.printer(r).T(key)
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
func (s *Server) renderChooser(w http.ResponseWriter, r *http.Request, tx *login.Transaction, notice, errMsg string) error {
	q := url.Values{}
	if tx.MinLevel > keys.LevelLow {
		q.Set("level", tx.MinLevel.String())
	}
	if tx.Return != "/" && tx.Return != "" {
		q.Set("return", tx.Return)
	}
	p := &chooserPage{
		BasePage: s.basePath(r, "/login", q),
		Level:    tx.MinLevel.String(),
		Return:   tx.Return,
		Notice:   notice,
		Error:    errMsg,
	}
	p.Title = p.T("web.login.title")
	for _, c := range s.deps.Login.Choices(tx) {
		p.Choices = append(p.Choices, choiceView{
			Kind:        c.Kind,
			Name:        kindName(p.BasePage, c.Kind),
			Description: p.T("key." + c.Kind + ".description"),
		})
	}
	return s.render(w, r, http.StatusOK, "login", p)
}
