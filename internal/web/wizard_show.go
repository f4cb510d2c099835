package web

import (
	"net/http"
	"strings"

	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/portal"
)

// wizardPage is one step of the activation wizard (SPEC §4): the progress bar, the step's
// content, Previous/Cancel/Next.
type wizardPage struct {
	portalPage
	// WizardID and Step go back with every form: a form of an older wizard or step (Back,
	// a second click) changes nothing.
	WizardID string
	Step     string
	Progress []progressStep
	// After is the online service a newly registered citizen was on their way to: the last
	// step links back to it, where they log on with the new key.
	After string
	// Step 1: the address and the value typed in the field (after an error); the e-mail code
	// step: the new address and the code's validity.
	Email       string
	EmailValue  string
	NewEmail    string
	CodeMinutes int
	// Step 2: the kinds offered and the recommendation. MailboxOnly (also on step 1, where the
	// address cannot be changed then) explains why only the e-mail key is offered after this
	// logon (portal.Service.MailboxOnly).
	Offers         []offerView
	Recommendation string
	MailboxOnly    string
	// LostKeyWait says from when the e-mail key can be activated after a key reported lost
	// from a logon below substantial (portal.Offers.LostKeyWaitUntil); nothing is offered
	// before.
	LostKeyWait string
	// Step 3: the kind, its preparation, where its code went or its QR code and secret.
	KindName      string
	Preparation   string
	SentTo        string
	CanResend     bool
	QRURL         string
	Secret        string
	WindowSeconds int
}

// progressStep is one step of the progress bar.
type progressStep struct {
	Number  int
	Name    string
	Current bool
	Done    bool
}

// offerView is one kind on step 2.
type offerView struct {
	Kind        string
	Name        string
	Description string
	Checked     bool
	// Replaces says the new key replaces the citizen's active key of this kind.
	Replaces string
}

// wizardShow serves GET /keys/activate: the wizard's current step. Without a live wizard
// (never started, or expired) a new one starts at step 1. A finished wizard keeps showing its
// confirmation (the browser's Back lands there) until "Activate a new digital key" asks for a
// new one (?new=1); an activation in progress is continued rather than lost.
func (s *Server) wizardShow(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	acct := *st.account
	wz := st.sess.data.Wizard
	if r.URL.Query().Get("new") == "1" && wz != nil && wz.Step() == portal.StepDone {
		wz = nil
	}
	expired := false
	if wz == nil || wz.AccountID() != acct.ID || wz.Expired(s.deps.Now()) {
		expired = wz != nil && wz.AccountID() == acct.ID
		var err error
		if wz, err = s.deps.Portal.StartWizard(acct); err != nil {
			return err
		}
		st.sess.data.Wizard = wz
		if err := s.sessions.Save(r.Context(), w, st.sess); err != nil {
			return err
		}
	} else {
		step := wz.Step()
		if err := s.deps.Portal.Refresh(r.Context(), wz, acct); err != nil {
			return err
		}
		if wz.Step() != step {
			spendRecovery(st.sess, wz) // the activation finished in another request
			if err := s.sessions.Save(r.Context(), w, st.sess); err != nil {
				return err
			}
		}
	}
	var notice *Notice
	if expired {
		notice = &Notice{Text: s.printer(r).T("portal.error.expired"), Warning: true}
	}
	return s.renderWizard(w, r, wz, nil, notice, "", "")
}

// renderWizard shows the step wz stands at, with the form's problems, a notice (else the one
// a flash carries), and what the citizen typed (an address, a chosen kind) kept after an
// error. A code is never echoed.
func (s *Server) renderWizard(w http.ResponseWriter, r *http.Request, wz *portal.Wizard, errs FormErrors, notice *Notice, emailValue, kind string) error {
	st := stateOf(r)
	acct := *st.account
	p := &wizardPage{portalPage: s.newPortalPage(w, r, sectionKeys, "/keys/activate"), WizardID: wz.ID(), Step: string(wz.Step())}
	p.Errors = errs
	if notice != nil {
		p.Notice = notice
	}
	for n := 1; n <= 4; n++ {
		p.Progress = append(p.Progress, progressStep{Number: n, Name: p.T("portal.wizard.step." + string(rune('0'+n))),
			Current: n == wz.Step().Number(), Done: n < wz.Step().Number()})
	}
	var title string
	var offers portal.Offers
	if wz.Step() == portal.StepEmail || wz.Step() == portal.StepSelect {
		var err error
		if offers, err = s.deps.Portal.OffersFor(r.Context(), acct, s.auth(r)); err != nil {
			return err
		}
		switch {
		case !offers.LostKeyWaitUntil.IsZero():
			p.LostKeyWait = p.T("portal.lost.wait", p.Instant(offers.LostKeyWaitUntil))
		case offers.MailboxOnly:
			p.MailboxOnly = p.T("portal.select.mailbox_only", p.T("portal.select.quoted", kindName(p.BasePage, keys.EmailCode)))
		}
	}
	switch wz.Step() {
	case portal.StepEmail:
		p.Email, p.EmailValue = acct.Email, acct.Email
		if emailValue != "" {
			p.EmailValue = emailValue
		}
		if wz.EmailChanged() && p.Notice == nil {
			p.Notice = &Notice{Text: p.T("portal.email.changed")}
		}
		title = p.T("portal.wizard.step.1")
	case portal.StepEmailCode:
		ch := wz.PendingEmail()
		p.NewEmail = ch.Address()
		p.CodeMinutes = minutesLeft(ch.ExpiresAt().Sub(s.deps.Now()))
		title = p.T("portal.email_code.title")
	case portal.StepSelect:
		var names []string
		for _, o := range offers.List {
			name := kindName(p.BasePage, o.Kind)
			v := offerView{Kind: o.Kind, Name: name, Description: p.T("key." + o.Kind + ".description"), Checked: o.Kind == kind}
			if o.Replaces {
				v.Replaces = p.T("portal.select.replaces", name)
			}
			p.Offers = append(p.Offers, v)
			if o.Level.Meets(keys.LevelSubstantial) {
				names = append(names, p.T("portal.select.quoted", name))
			}
		}
		if len(names) > 0 && !offers.MailboxOnly {
			p.Recommendation = p.T("portal.select.recommend", joinOr(p.BasePage, names))
		}
		title = p.T("portal.wizard.step.2")
	case portal.StepPrepare:
		p.KindName = kindName(p.BasePage, wz.Kind())
		if k, ok := s.deps.Keys.Get(wz.Kind()); ok {
			if pr, ok := k.(keys.Preparer); ok {
				p.Preparation = p.T(pr.Preparation())
			}
		}
		title = p.T("portal.wizard.step.3")
	case portal.StepActivate:
		p.KindName = kindName(p.BasePage, wz.Kind())
		v, err := s.deps.Portal.View(wz, acct)
		if err != nil {
			return err
		}
		p.SentTo, p.CodeMinutes = mail.MaskAddress(v.Address), v.CodeMinutes
		if v.Address == "" {
			p.SentTo = ""
		}
		if v.URI != "" {
			p.QRURL, p.Secret, p.WindowSeconds = "/keys/activate/qr?w="+wz.ID(), v.Secret, v.WindowSeconds
		}
		if k, ok := s.deps.Keys.Get(wz.Kind()); ok {
			_, p.CanResend = k.(keys.EnrolmentResender)
		}
		title = p.T("portal.wizard.step.3")
	case portal.StepDone:
		title = p.T("portal.wizard.step.4")
		p.After = st.sess.data.After
	}
	p.Title = title
	return s.render(w, r, http.StatusOK, "wizard_"+strings.ReplaceAll(string(wz.Step()), "-", "_"), p)
}

// joinOr joins names with the page language's "or" ("A", "B" or "C").
func joinOr(b BasePage, names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " " + b.T("portal.select.or") + " " + names[len(names)-1]
}
