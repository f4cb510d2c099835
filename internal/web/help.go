package web

import "net/http"

// helpPage is a static help text.
type helpPage struct {
	BasePage
}

// helpForgot serves GET /help/forgot. It looks nothing up: whether a username exists is never
// revealed, so the page points to the helpdesk.
func (s *Server) helpForgot(w http.ResponseWriter, r *http.Request) error {
	p := &helpPage{BasePage: s.base(r)}
	p.Title = p.T("web.help.forgot.title")
	return s.render(w, r, http.StatusOK, "help_forgot", p)
}
