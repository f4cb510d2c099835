package web

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/portal"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// finish completes a done logon: the session gets a new id and the logon's account, level,
// methods and time, the transaction is forgotten, the logon is recorded, the browser gets a
// device cookie, and the citizen goes where the logon was started for. Only one request
// completes a transaction: one that finds the pre-logon session already rotated goes to the
// chooser, which says so (or, when this browser holds the completed logon, sends it on to
// where the logon was for).
func (s *Server) finish(w http.ResponseWriter, r *http.Request, tx *login.Transaction) error {
	st := stateOf(r)
	res, ok := s.deps.Login.Result(tx)
	if !ok {
		return errors.New("finish logon: transaction is not done")
	}
	sess := st.sess
	start := sess.data.Start
	sess.data.Start = nil
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
	if !sess.data.Recovered.valid(res.AccountID, s.deps.Now()) {
		// A recovery code's right is its citizen's, taken through this logon only.
		sess.data.Recovered = nil
	}
	next := safeReturn(tx.Return)
	if res.Migrate {
		// "Activate a new digital key now": straight into step 1 of the wizard, which
		// deactivates the key just used once the new one is active. Until then the old key
		// stays active: a migration left half-way can be started again.
		acct, err := s.deps.Store.GetAccount(r.Context(), res.AccountID)
		if err != nil {
			return fmt.Errorf("finish logon: %w", err)
		}
		wz, err := s.deps.Portal.StartWizard(acct, portal.Replacing(res.KeyID))
		if err != nil {
			return fmt.Errorf("finish logon: %w", err)
		}
		sess.data.Wizard, next = wz, "/keys/activate"
	}
	err := s.sessions.Rotate(r.Context(), w, sess, func(st rotateStore, _ *store.Session) error {
		return s.deps.Login.Complete(r.Context(), st, tx, s.client(r))
	})
	if errors.Is(err, errSessionGone) {
		// Another request completed this logon first (the code sent twice, a second tab).
		s.setFlash(w, flashCompleted)
		http.Redirect(w, r, chooserURL(tx), http.StatusSeeOther)
		return nil
	}
	if err != nil {
		return err
	}
	if start != nil {
		// The pre-logon session this start was for is a logged-on one now: its place in the
		// address's quota is free again. A failure only leaves the start counted.
		if err := s.deps.StartQuota.Return(r.Context(), start.Scope, start.At); err != nil {
			s.log.Warn("return logon start", "err", err)
		}
	}
	s.rememberDevice(w, r, res.AccountID)
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// rememberDevice gives the browser of a completed logon — the request that completed it, not
// one that lost the race — a new device cookie for the citizen's username, so that its later
// password attempts keep their own failure budget. The logon has taken effect by then: a
// failure only costs the cookie, and is logged.
func (s *Server) rememberDevice(w http.ResponseWriter, r *http.Request, accountID int64) {
	acct, err := s.deps.Store.GetAccount(r.Context(), accountID)
	if err == nil {
		err = s.devices.issue(w, acct.Username)
	}
	if err != nil {
		s.log.Warn("remember device", "account_id", accountID, "err", err)
	}
}
