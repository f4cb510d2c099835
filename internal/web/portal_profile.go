package web

import (
	"net/http"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
)

// profilePage is My profile: name, username, e-mail address (changed with a code sent to the
// new one) and preferred language.
type profilePage struct {
	portalPage
	Name, Username, Email string
	Languages             []languageOption
	// EmailValue is the new address typed (after an error); NewEmail the address awaiting its
	// code and CodeMinutes how long the code stays valid.
	EmailValue  string
	NewEmail    string
	CodeMinutes int
}

// languageOption is one choice of preferred language.
type languageOption struct {
	Code, Name string
	Selected   bool
}

// profileShow serves GET /profile.
func (s *Server) profileShow(w http.ResponseWriter, r *http.Request) error {
	return s.renderProfile(w, r, nil, "")
}

func (s *Server) renderProfile(w http.ResponseWriter, r *http.Request, errs FormErrors, emailValue string) error {
	st := stateOf(r)
	acct := st.account
	p := &profilePage{portalPage: s.newPortalPage(w, r, sectionProfile, "/profile"), Name: acct.Name, Username: acct.Username,
		Email: acct.Email, EmailValue: emailValue}
	p.Errors = errs
	for _, code := range i18n.Languages() {
		p.Languages = append(p.Languages, languageOption{Code: code, Name: languageName(code), Selected: code == acct.Language})
	}
	if ch := st.sess.data.EmailChange; ch != nil && ch.AccountID() == acct.ID {
		p.NewEmail = ch.Address()
		p.CodeMinutes = minutesLeft(ch.ExpiresAt().Sub(s.deps.Now()))
	}
	p.Title = p.T("portal.profile.title")
	return s.render(w, r, http.StatusOK, "profile", p)
}

// profileLanguage serves POST /profile/language. The pages follow the new language too.
func (s *Server) profileLanguage(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	lang := r.PostForm.Get("language")
	if err := s.deps.Portal.SetLanguage(r.Context(), *st.account, lang); err != nil {
		errs, ok := s.fieldErr(r, "language", err)
		if !ok {
			return err
		}
		return s.renderProfile(w, r, errs, "")
	}
	http.SetCookie(w, s.cookie(s.cookies.lang, lang, 365*24*3600))
	s.redirectWithFlash(w, r, "/profile", flashLanguage)
	return nil
}

// profileEmail serves POST /profile/email: a code goes to the new address.
func (s *Server) profileEmail(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	addr := r.PostForm.Get("email")
	ch, err := s.deps.Portal.RequestEmailChange(r.Context(), *st.account, s.auth(r), addr, s.portalClient(r))
	if err != nil {
		if s.staleLogon(w, r, err) {
			return nil
		}
		errs, ok := s.fieldErr(r, "email", err)
		if !ok {
			return err
		}
		return s.renderProfile(w, r, errs, addr)
	}
	st.sess.data.EmailChange = ch
	if err := s.sessions.Save(r.Context(), w, st.sess); err != nil {
		return err
	}
	http.Redirect(w, r, "/profile#code", http.StatusSeeOther)
	return nil
}

// profileEmailCode serves POST /profile/email/code: the code of the new address.
func (s *Server) profileEmailCode(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	ch := st.sess.data.EmailChange
	if ch == nil || ch.AccountID() != st.account.ID {
		http.Redirect(w, r, "/profile", http.StatusSeeOther)
		return nil
	}
	err := s.deps.Portal.ConfirmEmailChange(r.Context(), *st.account, s.auth(r), ch, r.PostForm.Get("code"), s.portalClient(r))
	if err != nil {
		if s.staleLogon(w, r, err) {
			return nil
		}
		errs, ok := s.fieldErr(r, "code", err)
		if !ok {
			return err
		}
		return s.renderProfile(w, r, errs, "")
	}
	st.sess.data.EmailChange = nil
	if err := s.sessions.Save(r.Context(), w, st.sess); err != nil {
		return err
	}
	s.redirectWithFlash(w, r, "/profile", flashEmail)
	return nil
}

// profileEmailCancel serves POST /profile/email/cancel: the address stays as it was.
func (s *Server) profileEmailCancel(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	if st.sess.data.EmailChange != nil {
		st.sess.data.EmailChange = nil
		if err := s.sessions.Save(r.Context(), w, st.sess); err != nil {
			return err
		}
	}
	http.Redirect(w, r, "/profile", http.StatusSeeOther)
	return nil
}
