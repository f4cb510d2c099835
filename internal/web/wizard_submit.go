package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/portal"
)

// wizardSubmit serves POST /keys/activate (the button pressed is the form's action field): the one adapter of the activation wizard.
// It loads the wizard from the session, checks that the form belongs to this wizard and the
// step it stands at (a second click, Back then submit, or an old tab change nothing), calls one
// transition of the portal, saves the session once and redirects to the step the wizard is at
// now (POST → 303 → GET). A problem the citizen can fix is shown on the step's page.
func (s *Server) wizardSubmit(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	acct := *st.account
	action := r.PostForm.Get("action")
	if action == "end" {
		// "End session": the citizen logs on again with the new key.
		if err := s.sessions.Destroy(r.Context(), w, st.sess); err != nil {
			return err
		}
		st.sess, st.account = nil, nil
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return nil
	}
	wz := st.sess.data.Wizard
	if wz == nil || wz.AccountID() != acct.ID || r.PostForm.Get("wizard") != wz.ID() ||
		portal.Step(r.PostForm.Get("step")) != wz.Step() {
		// A replayed or reordered step (Back, a second click, an old tab): nothing changes,
		// the citizen sees where the activation stands and why.
		s.redirectWithFlash(w, r, "/keys/activate", flashOutOfOrder)
		return nil
	}
	ctx, auth, c := r.Context(), s.auth(r), s.portalClient(r)
	svc := s.deps.Portal
	from := wz.Step()
	var err error
	field := ""
	switch action {
	case "next":
		switch from {
		case portal.StepEmail:
			field = "email"
			if typed := strings.TrimSpace(r.PostForm.Get("email")); typed != "" && !strings.EqualFold(typed, acct.Email) {
				err = svc.ChangeEmail(ctx, wz, acct, auth, typed, c)
			} else {
				err = svc.ConfirmEmail(wz, acct)
			}
		case portal.StepEmailCode:
			field = "code"
			err = svc.ConfirmNewEmail(ctx, wz, acct, auth, r.PostForm.Get("code"), c)
		case portal.StepSelect:
			field = "kind"
			if kind := r.PostForm.Get("kind"); kind == "" {
				err = errSelectKind
			} else {
				err = svc.Select(ctx, wz, acct, auth, kind, c)
			}
		case portal.StepPrepare:
			err = svc.Prepared(ctx, wz, acct, auth, c)
		case portal.StepActivate:
			field = "code"
			err = svc.Activate(ctx, wz, acct, auth, r.PostForm.Get("code"), c)
		default:
			err = portal.ErrOutOfOrder
		}
	case "change":
		field = "email"
		err = svc.ChangeEmail(ctx, wz, acct, auth, r.PostForm.Get("email"), c)
	case "resend":
		if from == portal.StepEmailCode {
			err = svc.ResendEmailCode(ctx, wz, acct, auth, c)
		} else {
			err = svc.Resend(ctx, wz, acct, auth, c)
		}
	case "back":
		err = svc.Back(wz, acct)
	case "cancel":
		st.sess.data.Wizard = nil
		if err := s.sessions.Save(ctx, w, st.sess); err != nil {
			return err
		}
		http.Redirect(w, r, "/keys", http.StatusSeeOther)
		return nil
	default:
		return errNotFound
	}

	switch {
	case err == nil:
	case s.staleLogon(w, r, err):
		return nil // nothing changed; the wizard waits in the session
	case errors.Is(err, portal.ErrExpired):
		st.sess.data.Wizard = nil
		if err := s.sessions.Save(ctx, w, st.sess); err != nil {
			return err
		}
		s.redirectWithFlash(w, r, "/keys/activate", flashWizardExpired)
		return nil
	case errors.Is(err, portal.ErrOutOfOrder):
		if err := s.sessions.Save(ctx, w, st.sess); err != nil {
			return err
		}
		s.redirectWithFlash(w, r, "/keys/activate", flashOutOfOrder)
		return nil
	default:
		if wz.Step() != from {
			field = "" // the wizard moved (an activation ended): the message is for the page
		}
		errs, ok := s.fieldErr(r, field, err)
		if !ok {
			return err
		}
		if err := s.sessions.Save(ctx, w, st.sess); err != nil {
			return err
		}
		typed := ""
		if field == "email" {
			typed = r.PostForm.Get("email")
		}
		return s.renderWizard(w, r, wz, errs, nil, typed, r.PostForm.Get("kind"))
	}
	spendRecovery(st.sess, wz)
	if err := s.sessions.Save(ctx, w, st.sess); err != nil {
		return err
	}
	if action == "resend" {
		flash := flashCodeResent
		if from == portal.StepEmailCode {
			flash = flashEmailCodeResent
		}
		s.redirectWithFlash(w, r, "/keys/activate", flash)
		return nil
	}
	http.Redirect(w, r, "/keys/activate", http.StatusSeeOther)
	return nil
}

// spendRecovery drops the session's recovery right once its wizard activated a key: the right
// is for one key (the audit event of the activation says it was used).
func spendRecovery(sess *session, wz *portal.Wizard) {
	if wz != nil && wz.Step() == portal.StepDone {
		sess.data.Recovered = nil
	}
}

// errSelectKind: step 2 was submitted without a choice (a format error: nothing is recorded).
var errSelectKind = portalError("portal.error.select_kind")

// minutesLeft is d in whole minutes, rounded up, at least 1.
func minutesLeft(d time.Duration) int {
	return max(1, int((d+time.Minute-1)/time.Minute))
}
