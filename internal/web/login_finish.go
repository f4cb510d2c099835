package web

import (
	"errors"
	"net/http"

	"github.com/sleutelbos/sleutelbos/internal/login"
)

// finish completes a done logon: the session gets a new id and the logon's account, level,
// methods and time, the transaction is forgotten, and the citizen goes where the logon was
// started for.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, tx *login.Transaction) error {
	st := stateOf(r)
	res, ok := s.deps.Login.Result(tx)
	if !ok {
		return errors.New("finish logon: transaction is not done")
	}
	sess := st.sess
	if sess.row.AccountID != 0 && sess.row.AccountID != res.AccountID {
		// Another citizen logs on in this browser: nothing of the previous one carries over.
		sess.data = sessionData{}
	}
	sess.row.AccountID = res.AccountID
	sess.row.LoA = res.Level.String()
	sess.row.AMR = res.AMR
	sess.row.AuthTime = res.AuthTime
	sess.data.Login = nil
	sess.data.Kind = res.Kind
	if err := s.sessions.Rotate(r.Context(), w, sess); err != nil {
		return err
	}
	http.Redirect(w, r, safeReturn(tx.Return), http.StatusSeeOther)
	return nil
}
