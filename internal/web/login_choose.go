package web

import (
	"errors"
	"net/http"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/login"
)

// loginChoose serves POST /login/choose: it starts (or continues) the logon transaction with
// the chosen kind, keeps it in the session — creating an anonymous session if needed — and
// sends the citizen to the password step.
func (s *Server) loginChoose(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	level, err := parseLevel(r.PostForm.Get("level"))
	if err != nil {
		return err
	}
	ret := safeReturn(r.PostForm.Get("return"))
	if st.sess == nil {
		st.sess = s.sessions.New()
	}
	tx := st.sess.data.Login
	if tx == nil || s.deps.Login.Expired(tx) || tx.MinLevel != level || tx.Return != ret {
		tx = s.deps.Login.Start(level, ret)
	} else if tx.Step != login.StepChoose && tx.Step != login.StepPassword {
		// "Other key" from the code step: choose again without starting over.
		s.deps.Login.Back(tx)
	}
	st.sess.data.Login = tx
	if err := s.deps.Login.Choose(tx, r.PostForm.Get("kind")); err != nil {
		var le *i18n.LocalizedError
		if !errors.As(err, &le) {
			return err
		}
		return s.renderChooser(w, r, tx, nil, s.printer(r).Error(le))
	}
	if err := s.sessions.Save(r.Context(), w, st.sess); err != nil {
		return err
	}
	http.Redirect(w, r, "/login/password", http.StatusSeeOther)
	return nil
}
