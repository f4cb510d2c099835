package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/portal"
)

// guard wraps the handler of pattern with what the route needs: nothing for a public route
// (publicRoutes), a logged-on session for every other one, for a key change (recentRoutes)
// also a recent logon of the right level, and for an operator page (under /operator) the
// operator role and a logon at level substantial (checkOperator). Deciding here, per pattern, keeps the
// rule in one place: a handler never checks for a logon itself.
func (s *Server) guard(pattern string, h http.Handler) http.Handler {
	if publicRoutes[pattern] {
		return h
	}
	recent := recentRoutes[pattern]
	operator := isOperatorRoute(pattern)
	helpdesk := isHelpdeskRoute(pattern)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateOf(r)
		if !st.sess.loggedOn() || st.account == nil {
			s.toLogon(w, r, keys.LevelNone)
			return
		}
		if operator && !s.checkOperator(w, r) {
			return
		}
		if helpdesk && !s.checkHelpdesk(w, r) {
			return
		}
		if recent && !s.finishedActivation(r, pattern) {
			fresh := s.deps.Portal.Fresh
			if wizardRoutes[pattern] {
				fresh = s.deps.Portal.FreshForWizard // a recovery code's right counts here
			}
			err := fresh(r.Context(), *st.account, s.auth(r))
			var stale *portal.StaleLogonError
			if errors.As(err, &stale) {
				s.toLogon(w, r, stale.Level)
				return
			}
			if err != nil {
				s.serveError(w, r, err)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// finishedActivation reports whether r only shows the confirmation of an activation this
// session finished, or ends the session from it ("End session"): neither changes a key, and a
// citizen whose first key of level substantial was just activated after a password logon
// (level low, as after creating an account) would otherwise be sent to log on at substantial
// before seeing that it worked.
func (s *Server) finishedActivation(r *http.Request, pattern string) bool {
	st := stateOf(r)
	wz := st.sess.data.Wizard
	if wz == nil || wz.AccountID() != st.account.ID || wz.Step() != portal.StepDone || wz.Expired(s.deps.Now()) {
		return false
	}
	switch pattern {
	case "GET /keys/activate":
		return r.URL.Query().Get("new") != "1"
	case "POST /keys/activate":
		return r.PostForm.Get("action") == "end"
	}
	return false
}

// toLogon sends the citizen to the logon (at least at level) and, for a page, back to it
// afterwards. A form posted without a (recent enough) logon changes nothing: the citizen logs
// on and comes back to the page the form belongs to.
func (s *Server) toLogon(w http.ResponseWriter, r *http.Request, level keys.Level) {
	ret := formPage(r.URL.Path)
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		// The page itself, without the language choice (the cookie keeps it).
		q := r.URL.Query()
		q.Del("lang")
		ret = r.URL.Path
		if len(q) > 0 {
			ret += "?" + q.Encode()
		}
	}
	if stateOf(r).sess.loggedOn() {
		// Logged on, but not recently enough or not at the level: the chooser says why.
		s.setFlash(w, flashStaleLogon)
	}
	http.Redirect(w, r, logonURL(level, ret, r.URL.Query().Get("lang")), http.StatusSeeOther)
}

// logonURL is the key chooser for level, returning to ret (a local path) afterwards.
func logonURL(level keys.Level, ret, lang string) string {
	v := url.Values{}
	if level > keys.LevelLow {
		v.Set("level", level.String())
	}
	if ret = safeReturn(ret); ret != "/" {
		v.Set("return", ret)
	}
	if i18n.Supported(lang) {
		v.Set("lang", lang)
	}
	if len(v) == 0 {
		return "/login"
	}
	return "/login?" + v.Encode()
}

// formPage is the page whose form posts to path: where a citizen who had to log on (again)
// goes back to.
func formPage(path string) string {
	switch {
	case strings.HasPrefix(path, "/keys/activate"):
		return "/keys/activate"
	case strings.HasSuffix(path, "/deactivate"), strings.HasSuffix(path, "/lost"):
		return path
	case strings.HasPrefix(path, "/keys"):
		return "/keys"
	case strings.HasPrefix(path, "/profile"):
		return "/profile"
	case strings.HasPrefix(path, helpdeskPrefix):
		return strings.TrimSuffix(path, "/actions")
	case strings.HasPrefix(path, operatorPrefix+"/campaigns/") && strings.HasSuffix(path, "/remind"):
		return strings.TrimSuffix(path, "/remind")
	}
	return "/"
}

// auth is how the request's citizen logged on.
func (s *Server) auth(r *http.Request) portal.Auth {
	st := stateOf(r)
	if !st.sess.loggedOn() {
		return portal.Auth{}
	}
	level, err := keys.ParseLevel(st.sess.row.LoA)
	if err != nil {
		level = keys.LevelNone
	}
	return portal.Auth{Level: level, Time: st.sess.row.AuthTime,
		Recovery: st.sess.data.Recovered.valid(st.sess.row.AccountID, s.deps.Now())}
}

// portalClient describes the requester to the portal.
func (s *Server) portalClient(r *http.Request) portal.Client {
	return portal.Client{IP: s.clientIP(r)}
}

// underPrefix reports whether the route pattern ("GET /operator/…") lies under the path prefix.
func underPrefix(pattern, prefix string) bool {
	_, path, _ := strings.Cut(pattern, " ")
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// checkRole lets the request through (true) when its citizen holds role — read from the store
// on every request, so a revocation acts at once — and logged on at level. Without the role
// the answer is the localised 403 forbiddenKey whatever the level; with it, a lower logon is
// sent to log on again at level and come back. enabled false (the service is not wired) is a
// 404. The operator pages and the helpdesk console share it.
func (s *Server) checkRole(w http.ResponseWriter, r *http.Request, role string, enabled bool, level keys.Level, forbiddenKey string) bool {
	if !enabled || s.deps.Roles == nil {
		s.serveError(w, r, errNotFound)
		return false
	}
	ok, err := s.deps.Roles.HasRole(r.Context(), stateOf(r).account.ID, role)
	if err != nil {
		s.serveError(w, r, fmt.Errorf("%s role: %w", role, err))
		return false
	}
	if !ok {
		s.serveError(w, r, httpStatus(http.StatusForbidden, i18n.NewError(forbiddenKey)))
		return false
	}
	if !s.auth(r).Level.Meets(level) {
		s.toLogon(w, r, level)
		return false
	}
	return true
}
