package web

import "net/http"

// helpPage is a static help or information text.
type helpPage struct {
	BasePage
}

// helpForgot serves GET /help/forgot. It looks nothing up: whether a username exists is never
// revealed, so the page points to the helpdesk.
func (s *Server) helpForgot(w http.ResponseWriter, r *http.Request) error {
	return s.infoPage(w, r, "help_forgot", "web.help.forgot.title")
}

// privacy serves GET /privacy: the built-in privacy notice (the default of --privacy-url).
func (s *Server) privacy(w http.ResponseWriter, r *http.Request) error {
	return s.infoPage(w, r, "privacy", "web.footer.privacy")
}

// accessibility serves GET /accessibility: the built-in accessibility statement (the default
// of --accessibility-url).
func (s *Server) accessibility(w http.ResponseWriter, r *http.Request) error {
	return s.infoPage(w, r, "accessibility", "web.footer.accessibility")
}

func (s *Server) infoPage(w http.ResponseWriter, r *http.Request, name, titleKey string) error {
	p := &helpPage{BasePage: s.base(r)}
	p.Title = p.T(titleKey)
	return s.render(w, r, http.StatusOK, name, p)
}
