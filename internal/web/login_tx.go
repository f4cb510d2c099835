package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login"
)

// This file holds what the logon pages share: the transaction in the session, the query
// parameters of the chooser, and the page each step lives on.

// safeReturn returns p when it is a path on this site, else "/". Only "/x…" is accepted:
// "//host" and "/\host" are other sites to a browser, and a scheme or host is never allowed.
func safeReturn(p string) string {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\x00\r\n\t") {
		return "/"
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return p
}

// parseLevel reads the level parameter: empty means low.
func parseLevel(v string) (keys.Level, error) {
	if v == "" {
		return keys.LevelLow, nil
	}
	l, err := keys.ParseLevel(v)
	if err != nil {
		return keys.LevelNone, httpStatus(http.StatusBadRequest, err)
	}
	return l, nil
}

// chooserURL is the key chooser of tx (keeping its level and return path), with an optional
// notice ("expired").
func chooserURL(tx *login.Transaction, notice string) string {
	v := url.Values{}
	if tx != nil {
		if tx.MinLevel > keys.LevelLow {
			v.Set("level", tx.MinLevel.String())
		}
		if tx.Return != "" && tx.Return != "/" {
			v.Set("return", tx.Return)
		}
	}
	if notice != "" {
		v.Set("notice", notice)
	}
	if len(v) == 0 {
		return "/login"
	}
	return "/login?" + v.Encode()
}

// stepURL is the page where tx continues.
func stepURL(tx *login.Transaction) string {
	switch tx.Step {
	case login.StepPassword:
		return "/login/password"
	case login.StepCode:
		return "/login/code"
	}
	return chooserURL(tx, "")
}

// rememberDevice gives the browser of a completed logon a new device cookie for the citizen's
// username, so that its later password attempts keep their own failure budget.
func (s *Server) rememberDevice(w http.ResponseWriter, r *http.Request, tx *login.Transaction) error {
	res, ok := s.deps.Login.Result(tx)
	if !ok {
		return errors.New("remember device: the logon is not done")
	}
	acct, err := s.deps.Store.GetAccount(r.Context(), res.AccountID)
	if err != nil {
		return fmt.Errorf("remember device: %w", err)
	}
	if err := s.devices.issue(w, acct.Username); err != nil {
		return fmt.Errorf("remember device: %w", err)
	}
	return nil
}

// kindName is the display name of a key kind ("Security code via token").
func kindName(b BasePage, kind string) string { return b.T("key." + kind + ".name") }

// currentTx returns the session's live logon transaction. When there is none, or it expired,
// it forgets it, redirects to the chooser with the "expired" notice and returns nil.
func (s *Server) currentTx(w http.ResponseWriter, r *http.Request) (*login.Transaction, error) {
	st := stateOf(r)
	if st.sess == nil || st.sess.data.Login == nil {
		http.Redirect(w, r, chooserURL(nil, "expired"), http.StatusSeeOther)
		return nil, nil
	}
	tx := st.sess.data.Login
	if s.deps.Login.Expired(tx) {
		return nil, s.restart(w, r, tx)
	}
	return tx, nil
}

// restart forgets the expired transaction tx and sends the citizen back to the chooser.
func (s *Server) restart(w http.ResponseWriter, r *http.Request, tx *login.Transaction) error {
	st := stateOf(r)
	st.sess.data.Login = nil
	if err := s.sessions.Save(r.Context(), w, st.sess); err != nil {
		return err
	}
	http.Redirect(w, r, chooserURL(tx, "expired"), http.StatusSeeOther)
	return nil
}

// afterStep answers a submitted step: on success it continues where tx now stands (finishing
// the logon when done); a LocalizedError is shown on the page of tx's step; anything else is
// an internal error. The session is saved either way, since the service may have moved tx.
func (s *Server) afterStep(w http.ResponseWriter, r *http.Request, tx *login.Transaction, stepErr error, username string) error {
	st := stateOf(r)
	var le *i18n.LocalizedError
	switch {
	case stepErr == nil:
	case errors.Is(stepErr, login.ErrExpired):
		return s.restart(w, r, tx)
	case errors.As(stepErr, &le):
	default:
		return stepErr
	}
	if stepErr == nil && tx.Step == login.StepDone {
		if err := s.rememberDevice(w, r, tx); err != nil {
			return err
		}
		return s.finish(w, r, tx)
	}
	if err := s.sessions.Save(r.Context(), w, st.sess); err != nil {
		return err
	}
	if stepErr == nil {
		http.Redirect(w, r, stepURL(tx), http.StatusSeeOther)
		return nil
	}
	msg := s.printer(r).Error(le)
	switch tx.Step {
	case login.StepPassword:
		return s.renderPassword(w, r, tx, username, msg)
	case login.StepCode:
		return s.renderCode(w, r, tx, msg, "")
	default:
		return s.renderChooser(w, r, tx, "", msg)
	}
}
