package web

import "net/http"

// homePage welcomes a logged-on citizen and says how they logged on.
type homePage struct {
	BasePage
	Name      string
	KeyName   string
	LevelName string
	// Notice is what a stale form from another window left (staleForm): one-time, by flash.
	Notice *Notice
}

// home serves GET /: the welcome page, with the way to My digital keys. Logged off, the route
// guard sends the citizen to the logon page.
func (s *Server) home(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	p := &homePage{BasePage: s.base(r), Name: st.account.Name}
	p.Title = p.T("web.home.title")
	if k := st.sess.data.Kind; k != "" {
		p.KeyName = kindName(p.BasePage, k)
	}
	p.LevelName = p.T("web.level." + st.sess.row.LoA)
	switch s.takeFlash(w, r) {
	case flashCompletedHere:
		p.Notice = &Notice{Text: p.T("login.notice.completed_here")}
	case flashStaleForm:
		p.Notice = &Notice{Text: p.T("login.notice.stale_form"), Warning: true}
	}
	return s.render(w, r, http.StatusOK, "home", p)
}
