package web

import (
	"errors"
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
// Control characters are refused too: browsers drop tabs and newlines from URLs, so "/\t/host"
// would become "//host".
func safeReturn(p string) string {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsRune(p, '\\') ||
		strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
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

// chooserURL is the key chooser of tx, keeping its level and return path.
func chooserURL(tx *login.Transaction) string {
	v := url.Values{}
	if tx != nil {
		if tx.MinLevel > keys.LevelLow {
			v.Set("level", tx.MinLevel.String())
		}
		if tx.Return != "" && tx.Return != "/" {
			v.Set("return", tx.Return)
		}
	}
	if len(v) == 0 {
		return "/login"
	}
	return "/login?" + v.Encode()
}

// stepURL is the page where tx continues.
func stepURL(tx *login.Transaction) string {
	switch tx.Step {
	case login.StepPrompt:
		return "/login/prompt"
	case login.StepPassword:
		return "/login/password"
	case login.StepCode:
		return "/login/code"
	}
	return chooserURL(tx)
}

// kindName is the display name of a key kind ("Security code via token").
func kindName(b BasePage, kind string) string { return b.T("key." + kind + ".name") }

// withHeading is the heading of the logon steps, as on CSAM: "Logging in with security code
// via token" (the kind's short name, no quotes).
func withHeading(b BasePage, kind string) string {
	return b.T("web.login.with", b.T("key."+kind+".short"))
}

// currentTx returns the session's live logon transaction, or redirects and returns nil:
//   - a transaction that expired (or whose session expired with it) is forgotten, and the
//     chooser says so — the only case that gets the "expired" notice;
//   - a request that named a session that is gone (another request completed the logon, or
//     ended it) goes to the chooser, which says so (flashCompleted);
//   - with no logon in progress, a logged-on citizen goes to their page (the Back button after
//     a logon lands here) and anyone else to the chooser, without a notice.
func (s *Server) currentTx(w http.ResponseWriter, r *http.Request) (*login.Transaction, error) {
	st := stateOf(r)
	if st.sess == nil || st.sess.data.Login == nil {
		switch {
		case st.sess.loggedOn():
			http.Redirect(w, r, "/", http.StatusSeeOther)
		case st.expiredLogon != nil:
			s.setFlash(w, flashExpired)
			http.Redirect(w, r, chooserURL(st.expiredLogon), http.StatusSeeOther)
		case st.sessionGone:
			s.setFlash(w, flashCompleted)
			http.Redirect(w, r, "/login", http.StatusSeeOther)
		default:
			http.Redirect(w, r, "/login", http.StatusSeeOther)
		}
		return nil, nil
	}
	tx := st.sess.data.Login
	if s.deps.Login.Expired(tx) {
		return nil, s.restart(w, r, tx)
	}
	return tx, nil
}

// restart forgets the expired transaction tx and sends the citizen back to the chooser, which
// says the logon expired.
func (s *Server) restart(w http.ResponseWriter, r *http.Request, tx *login.Transaction) error {
	st := stateOf(r)
	st.sess.data.Login = nil
	if err := s.sessions.Save(r.Context(), w, st.sess); err != nil {
		return err
	}
	s.setFlash(w, flashExpired)
	http.Redirect(w, r, chooserURL(tx), http.StatusSeeOther)
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
		return s.renderCode(w, r, tx, msg, nil)
	default:
		// No such key, or it is locked: My digital keys is where one is activated.
		keysLink := le.Key == "login.error.no_key" || le.Key == "login.error.key_locked"
		return s.renderChooserLink(w, r, tx, nil, msg, keysLink)
	}
}

// closedNotes are the side notes of the kinds on tx's chooser whose activation is closed — only
// kind's when it is set (the password and code steps of that kind).
func (s *Server) closedNotes(b BasePage, tx *login.Transaction, kind string) []string {
	var out []string
	for _, k := range s.deps.Login.ActivationClosed(tx) {
		if kind == "" || k == kind {
			out = append(out, b.T("web.login.closed_note", i18n.Msg("key."+k+".noun")))
		}
	}
	return out
}
