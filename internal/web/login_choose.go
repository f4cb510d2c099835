package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/login"
)

// loginChoose serves POST /login/choose: it starts (or continues) the logon transaction with
// the chosen kind, keeps it in the session — creating an anonymous session if needed, within
// the address's quota of logon starts — and sends the citizen to the password step.
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
		// A logged-on citizen's new logon is bound to them, whatever level and return the
		// form names (a page of another tab, a forged return): a step-up is never answered
		// for someone else.
		if st.sess.loggedOn() {
			tx = s.deps.Login.StartFor(level, ret, st.sess.row.AccountID)
		} else {
			tx = s.deps.Login.Start(level, ret)
		}
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
		// A kind switched off gets the "no such key" message with its way to My digital keys.
		return s.renderChooserLink(w, r, tx, nil, s.printer(r).Error(le), le.Key == "login.error.no_key")
	}
	if !st.sess.stored {
		// A new session row: only so many per address (a browser that has one reuses it).
		if refused, err := s.takeStart(w, r); refused || err != nil {
			return err
		}
	}
	// The phase-out pop-up is recorded when the choice leads to it, not on each showing.
	s.deps.Login.PromptShown(r.Context(), tx, s.client(r))
	if err := s.sessions.Save(r.Context(), w, st.sess); err != nil {
		return err
	}
	http.Redirect(w, r, stepURL(tx), http.StatusSeeOther)
	return nil
}

// takeStart counts one logon started from the request's address. When the address has started
// its share it answers 429 with how long to wait, and reports refused.
func (s *Server) takeStart(w http.ResponseWriter, r *http.Request) (refused bool, err error) {
	scope, at := attempts.IPScope("prelogon", s.clientIP(r)), s.deps.Now()
	err = s.deps.StartQuota.Take(r.Context(), scope)
	var te *attempts.ThrottledError
	if !errors.As(err, &te) {
		if err == nil {
			stateOf(r).sess.data.Start = &takenStart{Scope: scope, At: at}
		}
		return false, err
	}
	key, args := "web.login.too_many_starts", []any{te.Minutes()}
	if te.Minutes() == 1 {
		key, args = "web.login.too_many_starts_minute", nil
	}
	w.Header().Set("Retry-After", strconv.Itoa(int((te.Wait+time.Second-1)/time.Second)))
	s.renderError(w, r, http.StatusTooManyRequests, s.printer(r).T(key, args...))
	return true, nil
}
