package portal

import (
	"crypto/sha256"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/keys"
)

// Step is where an activation wizard stands.
type Step string

// The steps of the activation wizard. The progress bar shows four: Confirm e-mail address
// (StepEmail, StepEmailCode), Select your digital key (StepSelect), Activate your digital key
// (StepPrepare, StepActivate) and Confirmation (StepDone).
const (
	StepEmail     Step = "email"      // check the e-mail address, or change it
	StepEmailCode Step = "email-code" // enter the code sent to the new address
	StepSelect    Step = "select"     // choose a kind whose activation is open
	StepPrepare   Step = "prepare"    // the kind's preparation (install an authenticator app)
	StepActivate  Step = "activate"   // enter the registration code
	StepDone      Step = "done"       // the key is active
)

// Number is the step's place in the four-step progress bar.
func (s Step) Number() int {
	switch s {
	case StepEmail, StepEmailCode:
		return 1
	case StepSelect:
		return 2
	case StepPrepare, StepActivate:
		return 3
	case StepDone:
		return 4
	}
	return 0
}

func (s Step) valid() bool { return s.Number() != 0 }

// Wizard is one activation of a new key in progress. It owns its state: the fields are
// unexported and change only through the transitions below, each of which checks that the
// wizard is at the step it leaves and has not expired, and returns ErrOutOfOrder or ErrExpired
// otherwise. The Service performs what a transition needs (sending a code, creating the key)
// and then applies it; the wizard itself touches nothing outside.
type Wizard struct {
	id        string
	accountID int64
	step      Step
	startedAt time.Time
	expiresAt time.Time
	// change is the e-mail address change awaiting its code (StepEmailCode); emailChanged says
	// the address was just changed (a notice on StepEmail).
	change       *EmailChange
	emailChanged bool
	// kind is the chosen kind (StepPrepare on); enrolment and token the enrolment in progress
	// and its single-use token (StepActivate).
	kind      string
	enrolment *keys.Enrolment
	token     int64
	// keyID is the key created (StepDone; 0 when a concurrent submission created it).
	keyID int64
	// replace is a key to deactivate when the new one is active (the phase-out's migration).
	replace int64
	// skip is the newest code (an enrolment token, an e-mail change code) that the wizard
	// dropped (Previous, an ended activation): parallel submissions of a step take up a code
	// another of them made (Service.begin), never one of these.
	skip int64
}

// NewWizard returns a wizard for accountID at StepEmail, expiring lifetime after now. id names
// it in URLs (the QR code image) and must be unguessable.
func NewWizard(id string, accountID int64, now time.Time, lifetime time.Duration) *Wizard {
	return &Wizard{id: id, accountID: accountID, step: StepEmail, startedAt: now, expiresAt: now.Add(lifetime)}
}

// ID returns the wizard's id.
func (w *Wizard) ID() string { return w.id }

// AccountID returns the citizen whose wizard it is.
func (w *Wizard) AccountID() int64 { return w.accountID }

// Step returns where the wizard stands.
func (w *Wizard) Step() Step { return w.step }

// Kind returns the chosen kind, or "" before StepSelect is left.
func (w *Wizard) Kind() string { return w.kind }

// KeyID returns the created key at StepDone.
func (w *Wizard) KeyID() int64 { return w.keyID }

// Replacing returns the key the new one replaces, or 0.
func (w *Wizard) Replacing() int64 { return w.replace }

// ExpiresAt returns when the wizard expires.
func (w *Wizard) ExpiresAt() time.Time { return w.expiresAt }

// PendingEmail returns the e-mail address change awaiting its code, or nil.
func (w *Wizard) PendingEmail() *EmailChange { return w.change }

// EmailChanged reports whether the address was changed in this wizard.
func (w *Wizard) EmailChanged() bool { return w.emailChanged }

// Enrolment returns the enrolment in progress at StepActivate.
func (w *Wizard) Enrolment() (keys.Enrolment, bool) {
	if w.enrolment == nil {
		return keys.Enrolment{}, false
	}
	return *w.enrolment, true
}

// Expired reports whether the wizard has expired at now. A finished wizard does not expire:
// its confirmation stays visible.
func (w *Wizard) Expired(now time.Time) bool {
	return w.step != StepDone && !now.Before(w.expiresAt)
}

// Expect returns nil when the wizard is at step s and not expired at now.
func (w *Wizard) Expect(s Step, now time.Time) error {
	if w.Expired(now) {
		return ErrExpired
	}
	if w.step != s {
		return ErrOutOfOrder
	}
	return nil
}

// ConfirmEmail: the citizen confirms the address (StepEmail → StepSelect).
func (w *Wizard) ConfirmEmail(now time.Time) error {
	if err := w.Expect(StepEmail, now); err != nil {
		return err
	}
	w.step, w.emailChanged = StepSelect, false
	return nil
}

// AwaitEmailCode: a code was sent to a new address (StepEmail → StepEmailCode).
func (w *Wizard) AwaitEmailCode(c *EmailChange, now time.Time) error {
	if err := w.Expect(StepEmail, now); err != nil {
		return err
	}
	w.step, w.change, w.emailChanged = StepEmailCode, c, false
	return nil
}

// EmailCodeResent: a new code went to the new address, superseding the earlier one
// (StepEmailCode stays).
func (w *Wizard) EmailCodeResent(c *EmailChange, now time.Time) error {
	if err := w.Expect(StepEmailCode, now); err != nil {
		return err
	}
	if c == nil || c.address != w.change.address {
		return ErrOutOfOrder
	}
	w.change = c
	return nil
}

// EmailConfirmed: the new address is confirmed and in use (StepEmailCode → StepEmail, where
// the citizen sees it and goes on).
func (w *Wizard) EmailConfirmed(now time.Time) error {
	if err := w.Expect(StepEmailCode, now); err != nil {
		return err
	}
	w.step, w.change, w.emailChanged = StepEmail, nil, true
	return nil
}

// Prepare: the citizen chose kind, which needs preparing first (StepSelect → StepPrepare).
func (w *Wizard) Prepare(kind string, now time.Time) error {
	if err := w.Expect(StepSelect, now); err != nil {
		return err
	}
	w.step, w.kind = StepPrepare, kind
	return nil
}

// Begin: the enrolment e of kind started, with its single-use token (StepSelect, or
// StepPrepare for the same kind → StepActivate).
func (w *Wizard) Begin(kind string, e keys.Enrolment, token int64, now time.Time) error {
	if w.Expired(now) {
		return ErrExpired
	}
	if w.step != StepSelect && (w.step != StepPrepare || w.kind != kind) {
		return ErrOutOfOrder
	}
	w.step, w.kind, w.enrolment, w.token = StepActivate, kind, &e, token
	return nil
}

// Resent: a new registration code replaced the enrolment's (StepActivate stays).
func (w *Wizard) Resent(e keys.Enrolment, now time.Time) error {
	if err := w.Expect(StepActivate, now); err != nil {
		return err
	}
	if e.Kind != w.kind {
		return ErrOutOfOrder
	}
	w.enrolment = &e
	return nil
}

// Finish: the key keyID is active (StepActivate → StepDone). keyID is 0 when a concurrent
// submission of the same activation created it.
func (w *Wizard) Finish(keyID int64, now time.Time) error {
	if err := w.Expect(StepActivate, now); err != nil {
		return err
	}
	w.step, w.keyID, w.enrolment = StepDone, keyID, nil
	return nil
}

// Abandon ends the enrolment in progress without a key (too many wrong codes, or another
// activation replaced it): StepActivate → StepSelect, to choose again.
func (w *Wizard) Abandon(now time.Time) error {
	if err := w.Expect(StepActivate, now); err != nil {
		return err
	}
	w.skip = max(w.skip, w.token)
	w.step, w.kind, w.enrolment, w.token = StepSelect, "", nil, 0
	return nil
}

// binding is what ties an enrolment token to this wizard (its Hash): a digest of the id, which
// stays secret in the session.
func (w *Wizard) binding() []byte {
	sum := sha256.Sum256([]byte("sleutelbos wizard " + w.id))
	return sum[:]
}

// Back is the Previous button: StepEmailCode → StepEmail (the address stays unchanged),
// StepSelect → StepEmail, StepPrepare → StepSelect, StepActivate → StepSelect (the enrolment is
// dropped; its code can no longer create a key). From StepEmail and StepDone there is no way
// back (ErrOutOfOrder): a finished activation is never re-entered.
func (w *Wizard) Back(now time.Time) error {
	if w.Expired(now) {
		return ErrExpired
	}
	switch w.step {
	case StepEmailCode:
		w.skip = max(w.skip, w.change.codeID)
		w.step, w.change = StepEmail, nil
	case StepSelect:
		w.step = StepEmail
	case StepPrepare:
		w.step, w.kind = StepSelect, ""
	case StepActivate:
		w.skip = max(w.skip, w.token)
		w.step, w.kind, w.enrolment, w.token = StepSelect, "", nil, 0
	default:
		return ErrOutOfOrder
	}
	return nil
}
