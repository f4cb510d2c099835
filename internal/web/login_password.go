package web

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// passwordPage is step 3 of SPEC §3: "1 Enter your username and password", "2 Click Next".
type passwordPage struct {
	BasePage
	// Heading is "Logging in with <kind>" (withHeading).
	Heading string
	// Username is shown back after a failed attempt (from the form, never from storage) and
	// offered after "other key" once a password was right; the password never is.
	Username    string
	OtherKeyURL string
}

// loginPasswordShow serves GET /login/password.
func (s *Server) loginPasswordShow(w http.ResponseWriter, r *http.Request) error {
	tx, err := s.currentTx(w, r)
	if tx == nil || err != nil {
		return err
	}
	if tx.Step != login.StepPassword {
		http.Redirect(w, r, stepURL(tx), http.StatusSeeOther)
		return nil
	}
	username, err := s.knownUsername(r, tx)
	if err != nil {
		return err
	}
	return s.renderPassword(w, r, tx, username, "")
}

// knownUsername is the username the password form offers: that of the account whose password
// was accepted earlier in tx (before "other key"), else none. What was typed is never kept.
func (s *Server) knownUsername(r *http.Request, tx *login.Transaction) (string, error) {
	if tx.KnownAccountID == 0 {
		return "", nil
	}
	acct, err := s.deps.Store.GetAccount(r.Context(), tx.KnownAccountID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("password step: %w", err)
	}
	return acct.Username, nil
}

// loginPasswordSubmit serves POST /login/password.
func (s *Server) loginPasswordSubmit(w http.ResponseWriter, r *http.Request) error {
	tx, err := s.currentTx(w, r)
	if tx == nil || err != nil {
		return err
	}
	username := r.PostForm.Get("username")
	err = s.deps.Login.SubmitPassword(r.Context(), tx, username, r.PostForm.Get("password"), s.client(r))
	return s.afterStep(w, r, tx, err, username)
}

// renderPassword shows the username and password form for tx.
func (s *Server) renderPassword(w http.ResponseWriter, r *http.Request, tx *login.Transaction, username, errMsg string) error {
	p := &passwordPage{
		BasePage:    s.basePath(r, "/login/password", nil),
		Username:    username,
		OtherKeyURL: chooserURL(tx),
	}
	if errMsg != "" {
		// Wrong credentials name no field in particular (which one is wrong is not told): the
		// summary leads to the first.
		p.Errors = fieldError("username", errMsg)
	}
	p.Heading = withHeading(p.BasePage, tx.Kind)
	p.Title = p.Heading
	p.ClosedNotes = s.closedNotes(p.BasePage, tx, tx.Kind)
	return s.render(w, r, http.StatusOK, "login_password", p)
}

// client describes the requester to the logon service, with the device its valid device
// cookie names.
func (s *Server) client(r *http.Request) login.Client {
	return login.Client{IP: s.clientIP(r), UserAgent: r.UserAgent(), Device: s.devices.device(r)}
}
