package web

import (
	"net/http"
	"net/url"

	"github.com/sleutelbos/sleutelbos/internal/oidcop"
)

// oidcLogoutPage asks the citizen to confirm a logout an online service asked for without
// proving which session it meant (no id_token_hint of this session): a link on any site could
// otherwise sign a citizen out (OpenID Connect RP-Initiated Logout 1.0 §2).
type oidcLogoutPage struct {
	BasePage
	ClientName string
	// Params are the logout request's parameters, sent again with the confirmation.
	Params []oidcParam
}

type oidcParam struct{ Name, Value string }

// oidcLogoutParams are the parameters of a logout request that the confirmation carries.
var oidcLogoutParams = []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state"}

// oidcEndSession serves GET /oidc/end_session.
func (s *Server) oidcEndSession(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	l, err := s.deps.OIDC.EndSession(r.Context(), q)
	if err != nil {
		return oidcPageError(err)
	}
	st := stateOf(r)
	if !st.sess.loggedOn() {
		// Nobody is logged on here: nothing to end.
		return s.afterOIDCLogout(w, r, l, false)
	}
	if l.SessionID != "" && l.SessionID == st.sess.data.SID {
		return s.endOIDCSession(w, r, l, false)
	}
	p := &oidcLogoutPage{BasePage: s.base(r), ClientName: l.ClientName}
	p.Title = p.T("oidc.logout.title")
	for _, name := range oidcLogoutParams {
		if v := q.Get(name); v != "" {
			p.Params = append(p.Params, oidcParam{Name: name, Value: v})
		}
	}
	return s.render(w, r, http.StatusOK, "oidc_logout", p)
}

// oidcLogout serves POST /oidc/logout: the citizen confirmed.
func (s *Server) oidcLogout(w http.ResponseWriter, r *http.Request) error {
	params := url.Values{}
	for _, name := range oidcLogoutParams {
		if vs, ok := r.PostForm[name]; ok {
			params[name] = vs
		}
	}
	l, err := s.deps.OIDC.EndSession(r.Context(), params)
	if err != nil {
		return oidcPageError(err)
	}
	if !stateOf(r).sess.loggedOn() {
		return s.afterOIDCLogout(w, r, l, true)
	}
	return s.endOIDCSession(w, r, l, true)
}

// endOIDCSession ends the Sleutelbos session in this browser, audits it, and moves on.
func (s *Server) endOIDCSession(w http.ResponseWriter, r *http.Request, l oidcop.Logout, interstitial bool) error {
	st := stateOf(r)
	accountID, issued := st.sess.row.AccountID, st.sess.data.Issued
	if err := s.sessions.Destroy(r.Context(), w, st.sess); err != nil {
		return err
	}
	st.sess, st.account = nil, nil
	// The access tokens issued for the session end with it: an online service that logs the
	// citizen out cannot go on reading their data, nor can one that holds a token.
	if err := s.deps.OIDC.RevokeRequests(r.Context(), issued); err != nil {
		return err
	}
	if err := s.deps.OIDC.RecordLogout(r.Context(), l, accountID, s.clientIP(r)); err != nil {
		s.log.ErrorContext(r.Context(), "record logout", "err", err)
	}
	return s.afterOIDCLogout(w, r, l, interstitial)
}

// afterOIDCLogout sends the citizen to the online service's registered address, or to the
// logon page when it named none. After a form (interstitial), leaving the site takes a page.
func (s *Server) afterOIDCLogout(w http.ResponseWriter, r *http.Request, l oidcop.Logout, interstitial bool) error {
	switch {
	case l.RedirectURI == "":
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return nil
	case interstitial:
		return s.renderContinue(w, r, l.ClientName, l.RedirectURI)
	}
	http.Redirect(w, r, l.RedirectURI, http.StatusFound)
	return nil
}
