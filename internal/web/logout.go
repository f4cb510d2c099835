package web

import "net/http"

// logout serves POST /logout: the session row is deleted, the cookie cleared, and the citizen
// sees the logon page again, which confirms they signed out.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	if err := s.sessions.Destroy(r.Context(), w, st.sess); err != nil {
		return err
	}
	st.sess, st.account = nil, nil
	s.setFlash(w, flashSignedOut)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}
