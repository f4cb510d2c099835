package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/password"
	"github.com/sleutelbos/sleutelbos/internal/signup"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Self-registration, "Create an account" (internal/signup): the form, the code sent to the
// address, and — only when the username was taken meanwhile — another username. The
// registration in progress lives in the session (sessionData.Signup); the account is created
// in the transaction that rotates the session id and logs the citizen on at level low, who then
// lands in the activation wizard. A registration started from the chooser of an online
// service's logon carries its return path (registerURL, sessionData.After): when level low
// answers the online service the new citizen goes straight back to it, otherwise the wizard's
// last step links back to it, where the citizen logs on with the new key.

// registerPage is "Create an account".
type registerPage struct {
	BasePage
	// Username, Name and Email are shown back after an error; passwords never are.
	Username, Name, Email string
	Languages             []languageOption
	PasswordMin           int
	Notice                *Notice
	// Return is where the citizen goes once registered (a path on this site), or "".
	Return string
}

// registerCodePage asks for the code sent to the address (shown masked).
type registerCodePage struct {
	BasePage
	SentTo      string
	CodeMinutes int
	Notice      *Notice
}

// registerUsernamePage asks for another username once the code proved the address.
type registerUsernamePage struct {
	BasePage
	Taken string
}

// registerShow serves GET /register.
func (s *Server) registerShow(w http.ResponseWriter, r *http.Request) error {
	if !s.cfg.Registration {
		return errNotFound
	}
	if stateOf(r).sess.loggedOn() {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	var notice *Notice
	if s.takeFlash(w, r) == flashSignupExpired {
		notice = &Notice{Text: s.printer(r).T(signup.ErrExpired.Key), Warning: true}
	}
	return s.renderRegister(w, r, signup.Form{Language: s.lang(r)}, nil, notice)
}

// registerSubmit serves POST /register: a valid form sends the e-mail and goes to the code.
func (s *Server) registerSubmit(w http.ResponseWriter, r *http.Request) error {
	if !s.cfg.Registration {
		return errNotFound
	}
	st := stateOf(r)
	if st.sess.loggedOn() {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	f := signup.Form{
		Username: r.PostForm.Get("username"), Name: r.PostForm.Get("name"), Email: r.PostForm.Get("email"),
		Language: r.PostForm.Get("language"), Password: r.PostForm.Get("password"), Confirm: r.PostForm.Get("confirm"),
	}
	p, err := s.deps.Signup.Start(r.Context(), f, s.signupClient(r))
	if err != nil {
		var inv *signup.InvalidError
		if errors.As(err, &inv) {
			return s.renderRegister(w, r, f, s.formErrors(r, inv), nil)
		}
		if s.tooMany(w, r, err) {
			return nil
		}
		return err
	}
	if st.sess == nil {
		st.sess = s.sessions.New()
	}
	if old := st.sess.data.Signup; old != nil {
		// A new registration replaces the one this browser had going.
		if err := s.deps.Signup.Cancel(r.Context(), old); err != nil {
			s.log.Warn("cancel the registration replaced", "err", err)
		}
	}
	st.sess.data.Signup = p
	st.sess.data.After = registerReturn(r)
	if err := s.sessions.Save(r.Context(), w, st.sess); err != nil {
		return err
	}
	http.Redirect(w, r, "/register/code", http.StatusSeeOther)
	return nil
}

// tooMany answers a limit of Start with the 429 page saying how long to wait, and reports
// whether err was one.
func (s *Server) tooMany(w http.ResponseWriter, r *http.Request, err error) bool {
	p := s.printer(r)
	var msg string
	var wait time.Duration
	var throttled *attempts.ThrottledError
	var resend *keys.ResendLimitError
	var limit *signup.LimitError
	switch {
	case errors.As(err, &throttled):
		msg, wait = p.T("web.register.too_many", throttled.Minutes()), throttled.Wait
		if throttled.Minutes() == 1 {
			msg = p.T("web.register.too_many_minute")
		}
	case errors.As(err, &resend):
		msg, wait = p.Error(resend), resend.Wait
	case errors.As(err, &limit):
		msg, wait = p.Error(limit), limit.Wait
	default:
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
	s.renderError(w, r, http.StatusTooManyRequests, msg)
	return true
}

// formErrors turns the problems of the form into the page's form errors (the fields' ids are
// the signup.Field… names).
func (s *Server) formErrors(r *http.Request, inv *signup.InvalidError) FormErrors {
	p := s.printer(r)
	var errs FormErrors
	for _, f := range inv.Fields {
		errs = append(errs, FormError{Field: f.Field, Message: p.Error(f.Err)})
	}
	return errs
}

// renderRegister shows the form with f's values (never its passwords) and errs.
func (s *Server) renderRegister(w http.ResponseWriter, r *http.Request, f signup.Form, errs FormErrors, notice *Notice) error {
	p := &registerPage{BasePage: s.basePath(r, "/register", nil), Username: f.Username, Name: f.Name, Email: f.Email,
		PasswordMin: password.MinLength, Notice: notice, Return: registerReturn(r)}
	p.Errors = errs
	lang := f.Language
	if !i18n.Supported(lang) {
		lang = p.Lang
	}
	for _, code := range i18n.Languages() {
		p.Languages = append(p.Languages, languageOption{Code: code, Name: languageName(code), Selected: code == lang})
	}
	p.Title = p.T("web.register.title")
	return s.render(w, r, http.StatusOK, "register", p)
}

// signupClient describes the requester to the registration.
func (s *Server) signupClient(r *http.Request) signup.Client { return signup.Client{IP: s.clientIP(r)} }

// currentSignup returns the registration in progress, or redirects and returns nil: without
// one to the form (a logged-on citizen home; a request whose session was rotated meanwhile to
// the chooser, which says the registration was completed elsewhere), and for one that ended to
// the form, which says so.
func (s *Server) currentSignup(w http.ResponseWriter, r *http.Request) (*signup.Pending, error) {
	if !s.cfg.Registration {
		return nil, errNotFound
	}
	st := stateOf(r)
	if st.sess.loggedOn() {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil, nil
	}
	if st.sess == nil || st.sess.data.Signup == nil {
		if st.sessionGone {
			// The session was rotated meanwhile: another request (a second click, another
			// tab) completed the registration, or it was ended.
			s.setFlash(w, flashCompleted)
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return nil, nil
		}
		http.Redirect(w, r, "/register", http.StatusSeeOther)
		return nil, nil
	}
	p := st.sess.data.Signup
	if p.Ended(s.deps.Now()) {
		return nil, s.signupEnded(w, r)
	}
	return p, nil
}

// signupAt returns the registration in progress when it is at the step the page is for: the
// code (verified false) or another username (verified true). Otherwise it returns nil, having
// redirected: as currentSignup does, or to the step the registration is at.
func (s *Server) signupAt(w http.ResponseWriter, r *http.Request, verified bool) (*signup.Pending, error) {
	p, err := s.currentSignup(w, r)
	if p == nil || err != nil {
		return nil, err
	}
	if p.Verified() != verified {
		step := "/register/code"
		if p.Verified() {
			step = "/register/username"
		}
		http.Redirect(w, r, step, http.StatusSeeOther)
		return nil, nil
	}
	return p, nil
}

// signupEnded forgets the registration in progress and sends the citizen to the form, which
// says it ended.
func (s *Server) signupEnded(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	if p := st.sess.data.Signup; p != nil {
		if err := s.deps.Signup.Cancel(r.Context(), p); err != nil {
			s.log.Warn("cancel an ended registration", "err", err)
		}
	}
	st.sess.data.Signup = nil
	if err := s.sessions.Save(r.Context(), w, st.sess); err != nil {
		return err
	}
	s.redirectWithFlash(w, r, "/register", flashSignupExpired)
	return nil
}

// registerCodeShow serves GET /register/code.
func (s *Server) registerCodeShow(w http.ResponseWriter, r *http.Request) error {
	p, err := s.signupAt(w, r, false)
	if p == nil || err != nil {
		return err
	}
	var notice *Notice
	if s.takeFlash(w, r) == flashSignupResent {
		notice = &Notice{Text: s.printer(r).T("web.login.code.resent")}
	}
	return s.renderRegisterCode(w, r, p, nil, notice)
}

func (s *Server) renderRegisterCode(w http.ResponseWriter, r *http.Request, p *signup.Pending, errs FormErrors, notice *Notice) error {
	page := &registerCodePage{BasePage: s.basePath(r, "/register/code", nil), SentTo: mail.MaskAddress(p.Address()),
		CodeMinutes: s.deps.Signup.CodeMinutes(), Notice: notice}
	page.Errors = errs
	page.Title = page.T("web.register.code.title")
	return s.render(w, r, http.StatusOK, "register_code", page)
}

// registerCodeSubmit serves POST /register/code: the right code creates the account.
func (s *Server) registerCodeSubmit(w http.ResponseWriter, r *http.Request) error {
	p, err := s.signupAt(w, r, false)
	if p == nil || err != nil {
		return err
	}
	err = s.deps.Signup.CheckCode(r.Context(), p, r.PostForm.Get("code"), s.signupClient(r))
	switch {
	case err == nil:
	case errors.Is(err, signup.ErrExpired):
		return s.signupEnded(w, r)
	default:
		errs, ok := s.fieldErr(r, "code", err)
		if !ok {
			return err
		}
		return s.renderRegisterCode(w, r, p, errs, nil)
	}
	return s.completeSignup(w, r, p)
}

// completeSignup creates the account of the verified registration p in the transaction that
// rotates the session id and logs the citizen on with the password key (level low), then sends
// them to the activation wizard. Nothing is written when the account cannot be created: a
// taken username asks for another one.
func (s *Server) completeSignup(w http.ResponseWriter, r *http.Request, p *signup.Pending) error {
	st := stateOf(r)
	sess := st.sess
	before, beforeRow := sess.data, sess.row
	// Nothing of the anonymous session carries over (a logon it had started, the registration)
	// but where the citizen was going: straight there when level low is enough for it, else
	// after the wizard.
	target, after := "/keys/activate", before.After
	if after != "" && s.lowSuffices(r, after) {
		target, after = after, ""
	}
	sess.data = sessionData{Kind: keys.Password, After: after}
	sess.row.LoA, sess.row.AMR, sess.row.AuthTime = keys.LevelLow.String(), []string{"pwd"}, s.deps.Now()
	var acct store.Account
	err := s.sessions.Rotate(r.Context(), w, sess, func(tx rotateStore, row *store.Session) error {
		a, err := s.deps.Signup.Complete(r.Context(), tx, p, s.signupClient(r))
		if err != nil {
			return err
		}
		acct, row.AccountID = a, a.ID
		return nil
	})
	if err == nil {
		s.rememberDevice(w, r, acct.ID)
		http.Redirect(w, r, target, http.StatusSeeOther)
		return nil
	}
	sess.data, sess.row = before, beforeRow
	sess.data.Signup = p
	switch {
	case errors.Is(err, errSessionGone), errors.Is(err, signup.ErrDone):
		// Another request (a second click, another tab) completed it.
		s.setFlash(w, flashCompleted)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return nil
	case errors.Is(err, signup.ErrUsernameTaken):
		if err := s.sessions.Save(r.Context(), w, sess); err != nil {
			return err
		}
		return s.renderRegisterUsername(w, r, p, fieldError("username", s.printer(r).Error(signup.ErrUsernameTaken)))
	case errors.Is(err, signup.ErrAddressInUse):
		return s.signupRefused(w, r, signup.ErrAddressInUse)
	case errors.Is(err, signup.ErrExpired), errors.Is(err, signup.ErrOutOfOrder):
		return s.signupEnded(w, r)
	}
	return err
}

// signupRefused forgets the registration in progress, which cannot go on (cause), and shows an
// empty form saying why.
func (s *Server) signupRefused(w http.ResponseWriter, r *http.Request, cause *i18n.LocalizedError) error {
	st := stateOf(r)
	st.sess.data.Signup = nil
	if err := s.sessions.Save(r.Context(), w, st.sess); err != nil {
		return err
	}
	return s.renderRegister(w, r, signup.Form{Language: s.lang(r)}, fieldError("", s.printer(r).Error(cause)), nil)
}

// registerResend serves POST /register/resend.
func (s *Server) registerResend(w http.ResponseWriter, r *http.Request) error {
	p, err := s.signupAt(w, r, false)
	if p == nil || err != nil {
		return err
	}
	next, err := s.deps.Signup.Resend(r.Context(), p, s.signupClient(r))
	switch {
	case err == nil:
	case errors.Is(err, signup.ErrExpired):
		return s.signupEnded(w, r)
	default:
		// A limit: the page says how long to wait; the code sent before still works.
		errs, ok := s.fieldErr(r, "", err)
		if !ok {
			return err
		}
		return s.renderRegisterCode(w, r, p, errs, nil)
	}
	st := stateOf(r)
	st.sess.data.Signup = next
	if err := s.sessions.Save(r.Context(), w, st.sess); err != nil {
		return err
	}
	s.redirectWithFlash(w, r, "/register/code", flashSignupResent)
	return nil
}

// registerCancel serves POST /register/cancel: the registration stops, the form is empty again.
func (s *Server) registerCancel(w http.ResponseWriter, r *http.Request) error {
	if !s.cfg.Registration {
		return errNotFound
	}
	st := stateOf(r)
	if st.sess != nil && st.sess.data.Signup != nil {
		if err := s.deps.Signup.Cancel(r.Context(), st.sess.data.Signup); err != nil {
			return err
		}
		st.sess.data.Signup = nil
		if err := s.sessions.Save(r.Context(), w, st.sess); err != nil {
			return err
		}
	}
	http.Redirect(w, r, "/register", http.StatusSeeOther)
	return nil
}

// registerUsernameShow serves GET /register/username.
func (s *Server) registerUsernameShow(w http.ResponseWriter, r *http.Request) error {
	p, err := s.signupAt(w, r, true)
	if p == nil || err != nil {
		return err
	}
	return s.renderRegisterUsername(w, r, p, nil)
}

func (s *Server) renderRegisterUsername(w http.ResponseWriter, r *http.Request, p *signup.Pending, errs FormErrors) error {
	page := &registerUsernamePage{BasePage: s.basePath(r, "/register/username", nil), Taken: p.Username()}
	page.Errors = errs
	page.Title = page.T("web.register.username_step.title")
	return s.render(w, r, http.StatusOK, "register_username", page)
}

// registerUsernameSubmit serves POST /register/username: another username, then the account.
func (s *Server) registerUsernameSubmit(w http.ResponseWriter, r *http.Request) error {
	p, err := s.signupAt(w, r, true)
	if p == nil || err != nil {
		return err
	}
	err = s.deps.Signup.ChangeUsername(r.Context(), p, r.PostForm.Get("username"), s.signupClient(r))
	var inv *signup.InvalidError
	switch {
	case err == nil:
	case errors.As(err, &inv):
		return s.renderRegisterUsername(w, r, p, s.formErrors(r, inv))
	case errors.Is(err, signup.ErrTooManyUsernames):
		return s.signupRefused(w, r, signup.ErrTooManyUsernames)
	case errors.Is(err, signup.ErrExpired), errors.Is(err, signup.ErrOutOfOrder):
		return s.signupEnded(w, r)
	default:
		return err
	}
	return s.completeSignup(w, r, p)
}

// registerURL is "Create an account" from the chooser of tx: it carries tx's return path, so a
// newcomer sent by an online service comes back to it.
func registerURL(tx *login.Transaction) string {
	if tx == nil || tx.Return == "" || safeReturn(tx.Return) == "/" {
		return "/register"
	}
	return "/register?" + url.Values{"return": {tx.Return}}.Encode()
}

// registerReturn is the registration's return path from the request (the link's query, the
// form's hidden field): a path on this site, or "" for none.
func registerReturn(r *http.Request) string {
	if ret := safeReturn(r.FormValue("return")); ret != "/" {
		return ret
	}
	return ""
}

// lowSuffices reports whether a citizen just registered, logged on at level low, can go to
// path at once: anything but an online service's request that needs more (which the new
// citizen reaches with a key activated in the wizard first).
func (s *Server) lowSuffices(r *http.Request, path string) bool {
	u, err := url.Parse(path)
	if err != nil {
		return false
	}
	if u.Path != oidcContinuePath || s.deps.OIDC == nil {
		return true
	}
	req, err := s.deps.OIDC.Request(r.Context(), u.Query().Get("id"))
	return err == nil && keys.LevelLow.Meets(req.MinLevel)
}
