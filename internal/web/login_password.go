package web

import (
	"net/http"

	"github.com/sleutelbos/sleutelbos/internal/login"
)

// passwordPage is step 3 of SPEC §3: "1 Enter your username and password", "2 Click Next".
type passwordPage struct {
	BasePage
	// Heading is "Logging in with <kind>".
	Heading string
	// Username is kept after a failed attempt; the password never is.
	Username    string
	Error       string
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
	return s.renderPassword(w, r, tx, tx.Username, "")
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
		Error:       errMsg,
		OtherKeyURL: chooserURL(tx, ""),
	}
	p.Heading = p.T("web.login.with", kindName(p.BasePage, tx.Kind))
	p.Title = p.Heading
	return s.render(w, r, http.StatusOK, "login_password", p)
}

// client describes the requester to the logon service, with the device its valid device
// cookie names.
func (s *Server) client(r *http.Request) login.Client {
	return login.Client{IP: s.clientIP(r), UserAgent: r.UserAgent(), Device: s.devices.device(r)}
}
