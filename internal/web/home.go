package web

import (
	"net/http"
	"net/url"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
)

// homePage welcomes a logged-on citizen and says how they logged on.
type homePage struct {
	BasePage
	Name      string
	KeyName   string
	LevelName string
}

// home serves GET /: the welcome page, or a redirect to the logon page (keeping ?lang).
func (s *Server) home(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	if !st.sess.loggedOn() || st.account == nil {
		target := "/login"
		if l := r.URL.Query().Get("lang"); i18n.Supported(l) {
			target += "?" + url.Values{"lang": {l}}.Encode()
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return nil
	}
	p := &homePage{BasePage: s.base(r), Name: st.account.Name}
	p.Title = p.T("web.home.title")
	if k := st.sess.data.Kind; k != "" {
		p.KeyName = kindName(p.BasePage, k)
	}
	p.LevelName = p.T("web.level." + st.sess.row.LoA)
	return s.render(w, r, http.StatusOK, "home", p)
}
