package portal

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Offer is a kind the citizen may activate now.
type Offer struct {
	Kind  string
	Level keys.Level
	// Prepare: the kind asks the citizen to prepare first (install an app).
	Prepare bool
	// Replaces: the citizen has an active key of this kind, which the new one replaces (it is
	// deactivated when the new one is active: a citizen has one active key per kind).
	Replaces bool
}

// Offers is what step 2 offers a citizen.
type Offers struct {
	List []Offer
	// MailboxOnly: only the e-mail key is offered, because of how the citizen logged on
	// (Service.MailboxOnly); the page says why and points to the helpdesk.
	MailboxOnly bool
	// LostKeyWaitUntil: with MailboxOnly, nothing is offered before this instant (a substantial
	// key reported lost from a logon below substantial, Service.LostKeyWaitUntil); zero when
	// no wait runs.
	LostKeyWaitUntil time.Time
}

// OffersFor lists the kinds acct may activate after the logon auth: Offered, narrowed to the
// e-mail key when MailboxOnly, each marked when it replaces an active key of the citizen.
func (s *Service) OffersFor(ctx context.Context, acct store.Account, auth Auth) (Offers, error) {
	auth = auth.inWizard()
	ks, err := s.st.ListKeys(ctx, acct.ID)
	if err != nil {
		return Offers{}, fmt.Errorf("offers: %w", err)
	}
	now := s.now()
	out := Offers{MailboxOnly: s.MailboxOnly(ks, auth)}
	if out.MailboxOnly {
		if out.LostKeyWaitUntil, err = s.LostKeyWaitUntil(ctx, acct, ks); err != nil {
			return Offers{}, fmt.Errorf("offers: %w", err)
		}
		if !out.LostKeyWaitUntil.IsZero() {
			return out, nil
		}
	}
	for _, o := range s.Offered() {
		if out.MailboxOnly && o.Kind != keys.EmailCode {
			continue
		}
		for _, k := range ks {
			if k.Kind == o.Kind && StatusOf(k, s.policy, now) == StatusActive {
				o.Replaces = true
			}
		}
		out.List = append(out.List, o)
	}
	return out, nil
}

// Offered lists the kinds whose activation is open now: enabled, an Enroller (token cards and
// passwords never are) and allowed by the policy, in registration order.
func (s *Service) Offered() []Offer {
	now := s.now()
	var out []Offer
	for _, k := range s.kinds.All() {
		if _, ok := k.(keys.Enroller); !ok || !s.policy.ActivationOpen(k.Name(), now) {
			continue
		}
		_, prep := k.(keys.Preparer)
		out = append(out, Offer{Kind: k.Name(), Level: k.Level(), Prepare: prep})
	}
	return out
}

// enroller returns the offered Enroller called kind.
func (s *Service) enroller(kind string) (keys.Enroller, bool) {
	for _, o := range s.Offered() {
		if o.Kind == kind {
			k, _ := s.kinds.Get(kind)
			return k.(keys.Enroller), true
		}
	}
	return nil, false
}

// enrollerFor returns the Enroller called kind when OffersFor offers it to acct after auth.
func (s *Service) enrollerFor(ctx context.Context, acct store.Account, auth Auth, kind string) (keys.Enroller, bool, error) {
	offers, err := s.OffersFor(ctx, acct, auth)
	if err != nil {
		return nil, false, err
	}
	for _, o := range offers.List {
		if o.Kind == kind {
			k, ok := s.enroller(kind)
			return k, ok, nil
		}
	}
	return nil, false, nil
}

// WizardOption changes how StartWizard starts.
type WizardOption func(*Wizard)

// Replacing makes the wizard deactivate keyID (cause migration) in the transaction that
// activates the new key: the phase-out's "activate a new digital key now".
func Replacing(keyID int64) WizardOption { return func(w *Wizard) { w.replace = keyID } }

// StartWizard begins an activation for acct at step 1.
func (s *Service) StartWizard(acct store.Account, opts ...WizardOption) (*Wizard, error) {
	var b [16]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return nil, fmt.Errorf("start wizard: %w", err)
	}
	w := NewWizard(base64.RawURLEncoding.EncodeToString(b[:]), acct.ID, s.now(), s.cfg.WizardLifetime)
	for _, o := range opts {
		o(w)
	}
	return w, nil
}

// own refuses a wizard of another account (a session shared by two citizens never keeps one,
// but the check costs nothing).
func own(w *Wizard, acct store.Account) error {
	if w == nil || w.accountID != acct.ID {
		return ErrOutOfOrder
	}
	return nil
}

// at refuses a wizard of another account (own) or not at step (Wizard.Expect): what every step
// checks first.
func (s *Service) at(w *Wizard, acct store.Account, step Step) error {
	if err := own(w, acct); err != nil {
		return err
	}
	return w.Expect(step, s.now())
}

// ConfirmEmail is step 1's Next: the address is right.
func (s *Service) ConfirmEmail(w *Wizard, acct store.Account) error {
	if err := own(w, acct); err != nil {
		return err
	}
	return w.ConfirmEmail(s.now())
}

// ChangeEmail is step 1's Change: a code goes to addr (see RequestEmailChange).
func (s *Service) ChangeEmail(ctx context.Context, w *Wizard, acct store.Account, auth Auth, addr string, c Client) error {
	auth = auth.inWizard()
	if err := s.at(w, acct, StepEmail); err != nil {
		return err
	}
	// Parallel submissions of this step (a double click) each work on their own copy of the
	// wizard: the first sends the code, the others find it and take it, so one e-mail goes
	// out and every copy waits for the same code. A code the wizard dropped (Previous) is
	// never taken up again.
	reuse := func(prev store.Code) bool {
		return prev.ID > w.skip && !prev.CreatedAt.Before(w.startedAt) && prev.UsedAt.IsZero() &&
			s.now().Before(prev.ExpiresAt) && strings.EqualFold(prev.Target, strings.TrimSpace(addr))
	}
	ch, err := s.requestEmailChange(ctx, acct, auth, addr, c, reuse)
	if err != nil {
		return err
	}
	return w.AwaitEmailCode(ch, s.now())
}

// ConfirmNewEmail checks the code sent to the new address; when right the address is changed
// and the wizard is back at step 1 showing it.
func (s *Service) ConfirmNewEmail(ctx context.Context, w *Wizard, acct store.Account, auth Auth, code string, c Client) error {
	auth = auth.inWizard()
	if err := s.at(w, acct, StepEmailCode); err != nil {
		return err
	}
	if err := s.ConfirmEmailChange(ctx, acct, auth, w.change, code, c); err != nil {
		return err
	}
	return w.EmailConfirmed(s.now())
}

// ResendEmailCode is the e-mail code step's "Request a new code": a new code to the same new
// address, within the limits of RequestEmailChange; it supersedes the earlier one.
func (s *Service) ResendEmailCode(ctx context.Context, w *Wizard, acct store.Account, auth Auth, c Client) error {
	auth = auth.inWizard()
	if err := s.at(w, acct, StepEmailCode); err != nil {
		return err
	}
	ch, err := s.requestEmailChange(ctx, acct, auth, w.change.address, c, nil)
	if err != nil {
		return err
	}
	return w.EmailCodeResent(ch, s.now())
}

// Select is step 2: the citizen chooses kind. A kind that needs preparing moves to its
// preparation; any other begins at once (an e-mailed registration code is sent). A kind that is
// not offered is refused (ErrNotOffered) and, since the page never offers it, recorded as
// forged.
func (s *Service) Select(ctx context.Context, w *Wizard, acct store.Account, auth Auth, kind string, c Client) error {
	auth = auth.inWizard()
	if err := s.at(w, acct, StepSelect); err != nil {
		return err
	}
	k, ok, err := s.enrollerFor(ctx, acct, auth, kind)
	if err != nil {
		return err
	}
	if !ok {
		s.forged(ctx, acct, c, "kind", kind)
		return ErrNotOffered
	}
	if err := s.Fresh(ctx, acct, auth); err != nil {
		return err
	}
	if _, ok := k.(keys.Preparer); ok {
		return w.Prepare(kind, s.now())
	}
	return s.begin(ctx, w, acct, k, c)
}

// Prepared is the preparation step's Next: the enrolment begins.
func (s *Service) Prepared(ctx context.Context, w *Wizard, acct store.Account, auth Auth, c Client) error {
	auth = auth.inWizard()
	if err := s.at(w, acct, StepPrepare); err != nil {
		return err
	}
	k, ok, err := s.enrollerFor(ctx, acct, auth, w.kind)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotOffered // closed since it was chosen
	}
	if err := s.Fresh(ctx, acct, auth); err != nil {
		return err
	}
	return s.begin(ctx, w, acct, k, c)
}

// begin starts k's enrolment and the wizard's single-use token in one transaction, under the
// account's lock. The token records the enrolment and the wizard it belongs to, which makes
// the step idempotent: parallel submissions of it (a double click) each work on their own copy
// of the wizard, and all but the first find the token the first one made and take its
// enrolment instead of beginning another — one registration code is sent, and every copy
// lands on the same step with the same enrolment, whichever copy the session keeps.
func (s *Service) begin(ctx context.Context, w *Wizard, acct store.Account, k keys.Enroller, c Client) error {
	release, _, err := s.reserve(ctx, store.AuditEvent{AccountID: acct.ID, KeyKind: k.Name(), IP: c.IP},
		reservation{s.ipLimiter, attempts.IPScope("code-request", c.IP)})
	if err != nil {
		return err
	}
	now := s.now()
	var (
		e      keys.Enrolment
		token  store.Code
		reused bool
	)
	err = store.InTx(ctx, s.st, func(tx enrolStore) error {
		if err := tx.LockAccount(ctx, acct.ID); err != nil {
			return err
		}
		prev, err := tx.LatestCode(ctx, acct.ID, store.CodeEnrolment)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil && s.begunBy(w, prev, k.Name(), now, &e) {
			token, reused = prev, true
			return nil
		}
		if e, err = k.BeginEnrolment(ctx, tx, acct); err != nil {
			return err
		}
		state, err := json.Marshal(e)
		if err != nil {
			return err
		}
		// The token supersedes any earlier activation of this account: only the newest can
		// create a key.
		token = store.Code{AccountID: acct.ID, Purpose: store.CodeEnrolment, Hash: w.binding(), Target: string(state),
			CreatedAt: now, ExpiresAt: w.expiresAt}
		return tx.CreateCode(ctx, &token)
	})
	if err != nil {
		var le *i18n.LocalizedError
		if errors.As(err, &le) {
			return err // a resend limit
		}
		return fmt.Errorf("begin %s enrolment: %w", k.Name(), err)
	}
	if reused {
		release() // nothing was sent for this request
	}
	return w.Begin(k.Name(), e, token.ID, now)
}

// begunBy reports whether tok is a live token that a parallel submission of w's current step
// made for kind, and if so puts its enrolment in e.
func (s *Service) begunBy(w *Wizard, tok store.Code, kind string, now time.Time, e *keys.Enrolment) bool {
	if tok.ID <= w.skip || !tok.UsedAt.IsZero() || !now.Before(tok.ExpiresAt) ||
		subtle.ConstantTimeCompare(tok.Hash, w.binding()) != 1 {
		return false
	}
	var got keys.Enrolment
	if err := json.Unmarshal([]byte(tok.Target), &got); err != nil || got.Kind != kind {
		return false
	}
	*e = got
	return true
}

// Resend sends a new registration code (kinds that send one), within the kind's limits.
func (s *Service) Resend(ctx context.Context, w *Wizard, acct store.Account, auth Auth, c Client) error {
	auth = auth.inWizard()
	if err := s.at(w, acct, StepActivate); err != nil {
		return err
	}
	k, ok := s.enroller(w.kind)
	if !ok {
		return ErrNotOffered
	}
	r, ok := k.(keys.EnrolmentResender)
	if !ok {
		return ErrCannotResend
	}
	if err := s.Fresh(ctx, acct, auth); err != nil {
		return err
	}
	if err := s.reserveCodeRequest(ctx, store.AuditEvent{AccountID: acct.ID, KeyKind: w.kind, IP: c.IP}); err != nil {
		return err
	}
	// The kind writes the code and its e-mail in a transaction of its own.
	e, err := r.ResendEnrolment(ctx, s.st, acct, *w.enrolment)
	if err != nil {
		var le *i18n.LocalizedError
		if errors.As(err, &le) {
			return err
		}
		return fmt.Errorf("resend %s registration code: %w", w.kind, err)
	}
	return w.Resent(e, s.now())
}

// View returns what the activation step shows of the enrolment in progress.
func (s *Service) View(w *Wizard, acct store.Account) (keys.EnrolmentView, error) {
	if err := own(w, acct); err != nil {
		return keys.EnrolmentView{}, err
	}
	e, ok := w.Enrolment()
	if !ok {
		return keys.EnrolmentView{}, ErrOutOfOrder
	}
	k, ok := s.kinds.Get(e.Kind)
	en, isEnroller := k.(keys.Enroller)
	if !ok || !isEnroller {
		return keys.EnrolmentView{}, fmt.Errorf("view enrolment: kind %q is not an enroller", e.Kind)
	}
	return en.ViewEnrolment(acct, e)
}

// errTokenSpent: the activation's token was used or superseded before this request's
// transaction could use it.
var errTokenSpent = errors.New("enrolment token spent")

// Activate is step 3's Next: it checks the registration code and creates the key. The answer
// is normalised first (a malformed one is a format error, keys.IsFormatError, and counts nothing), then counted
// in the attempts store, then compared by the kind. A right answer creates the key — with the
// replaced key deactivated, both e-mails and the audit events — in the transaction that uses
// the activation's single-use token, so parallel or repeated submissions create one key; the
// others find the activation finished and show the confirmation too.
//
// The code errors of the kinds speak of the logon's "security code"; the step asks for a
// "registration code", and its errors say so (they still match keys.ErrWrongCode and the
// others with errors.Is).
func (s *Service) Activate(ctx context.Context, w *Wizard, acct store.Account, auth Auth, answer string, c Client) error {
	return registrationError(s.activate(ctx, w, acct, auth, answer, c))
}

// registrationCodeErrors names the activation step's own message for each code error.
var registrationCodeErrors = map[string]string{
	keys.ErrWrongCode.Key:   "portal.error.registration.wrong",
	keys.ErrCodeExpired.Key: "portal.error.registration.expired",
	keys.ErrCodeTries.Key:   "portal.error.registration.tries",
	keys.ErrCodeUsed.Key:    "portal.error.registration.used",
	keys.ErrCodeFormat.Key:  "portal.error.registration.format",
	keys.ErrCodeEmpty.Key:   "portal.error.registration.empty",
}

// registrationError rewords a kind's code error for the registration code step.
func registrationError(err error) error {
	var le *i18n.LocalizedError
	if !errors.As(err, &le) {
		return err
	}
	if key, ok := registrationCodeErrors[le.Key]; ok {
		return &i18n.LocalizedError{Key: key, Args: le.Args, Err: err}
	}
	return err
}

func (s *Service) activate(ctx context.Context, w *Wizard, acct store.Account, auth Auth, answer string, c Client) error {
	recovered := auth.viaRecovery()
	auth = auth.inWizard()
	if err := s.at(w, acct, StepActivate); err != nil {
		return err
	}
	if done, err := s.finishedElsewhere(ctx, w, acct); done || err != nil {
		return err
	}
	k, ok := s.enroller(w.kind)
	if !ok {
		return ErrNotOffered
	}
	if err := s.Fresh(ctx, acct, auth); err != nil {
		return err
	}
	if err := s.provesMailbox(ctx, w, acct, auth); err != nil {
		return err
	}
	norm, err := k.NormalizeAnswer(answer)
	if err != nil {
		return err
	}
	ipScope, scope := attempts.IPScope("code", c.IP), attempts.EnrolmentScope(acct.ID)
	release, counts, err := s.reserve(ctx, store.AuditEvent{AccountID: acct.ID, KeyKind: w.kind, IP: c.IP},
		reservation{s.ipLimiter, ipScope}, reservation{s.limiter, scope})
	if err != nil {
		return err // throttled (recorded once per throttle period) or a database error
	}
	// The code is checked and the key created in one transaction under the account's lock, so
	// that a parallel copy of this activation (a double click), which the used code fails,
	// finds the activation finished (activationFailed) rather than the code used and no key
	// yet. A wrong code's counting commits (the function returns nil for it).
	var key store.Key
	var checkErr error
	err = store.InTx(ctx, s.st, func(tx activationStore) error {
		if err := tx.LockAccount(ctx, acct.ID); err != nil {
			return err
		}
		if key, checkErr = k.CheckEnrolment(ctx, tx, acct, *w.enrolment, norm); checkErr != nil {
			return nil
		}
		return s.createKey(ctx, tx, w, acct, &key, recovered, c)
	})
	if err == nil && checkErr != nil {
		return s.activationFailed(ctx, w, acct, checkErr, release, counts[1], c)
	}
	if rerr := errors.Join(s.ipLimiter.Release(ctx, ipScope), s.limiter.Succeed(ctx, scope)); rerr != nil {
		s.log.Warn("reset registration code attempts", "err", rerr)
	}
	if errors.Is(err, errTokenSpent) {
		if done, err := s.finishedElsewhere(ctx, w, acct); done || err != nil {
			return err
		}
		if err := w.Abandon(s.now()); err != nil {
			return err
		}
		return ErrSuperseded
	}
	if err != nil {
		return fmt.Errorf("activate %s key: %w", w.kind, err)
	}
	return w.Finish(key.ID, s.now())
}

// provesMailbox refuses an activation that a MailboxOnly logon may not finish: any kind but
// the e-mail key, or a registration code that went to an address other than the current one
// (the address changed since it was sent). The activation ends; the citizen chooses again.
func (s *Service) provesMailbox(ctx context.Context, w *Wizard, acct store.Account, auth Auth) error {
	ks, err := s.st.ListKeys(ctx, acct.ID)
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	if !s.MailboxOnly(ks, auth) {
		return nil
	}
	// A key reported lost since the activation began may have started a wait.
	wait, err := s.LostKeyWaitUntil(ctx, acct, ks)
	if err != nil {
		return err
	}
	if w.kind == keys.EmailCode && wait.IsZero() {
		v, err := s.View(w, acct)
		if err != nil {
			return err
		}
		if strings.EqualFold(v.Address, acct.Email) {
			return nil
		}
	}
	if err := w.Abandon(s.now()); err != nil {
		return err
	}
	return ErrNotOffered
}

// activationFailed answers a wrong, expired or used-up registration code.
func (s *Service) activationFailed(ctx context.Context, w *Wizard, acct store.Account, err error, release func(), count store.Attempt, c Client) error {
	var le *i18n.LocalizedError
	if !errors.As(err, &le) {
		release()
		return fmt.Errorf("check %s registration code: %w", w.kind, err)
	}
	// A parallel submission of the same activation (a double click) may have used the code,
	// or its tries, to create the key: then this one did not fail, and nothing is recorded or
	// counted for it. The check waits for the account's lock, which the creating transaction
	// holds until the key exists.
	if done, ferr := s.finishedElsewhereLocked(ctx, w, acct); done || ferr != nil {
		release()
		return ferr
	}
	if errors.Is(err, keys.ErrCodeExpired) {
		release() // nothing was compared
	}
	s.record(ctx, store.AuditEvent{Type: audit.EnrolmentFailure, AccountID: acct.ID, KeyKind: w.kind, Reason: failureReason(err), IP: c.IP})
	if errors.Is(err, keys.ErrCodeExpired) {
		return err
	}
	if count.Failures >= s.cfg.LockAfter {
		if aerr := w.Abandon(s.now()); aerr != nil {
			return aerr
		}
		return ErrEnrolmentLocked
	}
	return err
}

// createKey creates key with everything that goes with it, in tx: the token used, the
// replaced key deactivated, the audit events and the e-mails. recovered: only a helpdesk
// recovery code (Auth.Recovery) let the logon activate it, which the audit event says (via).
func (s *Service) createKey(ctx context.Context, tx keyStore, w *Wizard, acct store.Account, key *store.Key, recovered bool, c Client) error {
	now := s.now()
	if err := tx.LockAccount(ctx, acct.ID); err != nil {
		return err
	}
	tok, err := tx.LatestCode(ctx, acct.ID, store.CodeEnrolment)
	if errors.Is(err, store.ErrNotFound) {
		return errTokenSpent
	}
	if err != nil {
		return err
	}
	if tok.ID != w.token || !tok.UsedAt.IsZero() || !now.Before(tok.ExpiresAt) {
		return errTokenSpent
	}
	used, err := tx.UseCode(ctx, w.token, now)
	if err != nil {
		return err
	}
	if !used {
		return errTokenSpent
	}
	if err := tx.CreateKey(ctx, key); err != nil {
		return err
	}
	replaced := ""
	if w.replace != 0 {
		old, err := tx.GetKey(ctx, w.replace)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil && old.AccountID == acct.ID {
			moved, err := tx.TransitionKey(ctx, old.ID, store.KeyActive, store.KeyDeactivated, keys.CauseMigration, now)
			if err != nil {
				return err
			}
			if moved {
				replaced = old.Kind
				if err := s.deactivated(ctx, tx, acct, old, keys.CauseMigration, key.Kind, c); err != nil {
					return err
				}
			}
		}
	}
	same, err := s.replaceSameKind(ctx, tx, w, acct, *key, c)
	if err != nil {
		return err
	}
	detail := map[string]string{}
	if replaced != "" {
		detail["replaces"] = strconv.FormatInt(w.replace, 10)
	}
	if recovered {
		// Only a helpdesk recovery code let this logon activate the key (Auth.Recovery).
		detail["via"] = "recovery_code"
	}
	if same != 0 {
		detail["replaces_same_kind"] = strconv.FormatInt(same, 10)
		if replaced == "" {
			replaced = key.Kind // the e-mail says the new key replaces the earlier one
		}
	}
	if err := s.audit.Record(ctx, tx, store.AuditEvent{Type: audit.KeyActivated, AccountID: acct.ID, KeyKind: key.Kind,
		KeyID: key.ID, IP: c.IP, Detail: detail}); err != nil {
		return err
	}
	return s.mailer.Enqueue(ctx, tx, recipient(acct), mail.TemplateKeyActivated,
		map[string]any{"Kind": key.Kind, "Replaces": replaced, "Reactivated": false})
}

// replaceSameKind deactivates, in tx, the citizen's other active keys of key's kind (cause
// citizen, recorded with replaced_by, the new kind, as the phase-out's migration records it):
// a citizen has one active key per kind, since the logon asks for "the" key of the kind
// chosen. The activation e-mail says so; there is no e-mail of its own. It returns the id of
// a key it deactivated, or 0.
func (s *Service) replaceSameKind(ctx context.Context, tx keyStore, w *Wizard, acct store.Account, key store.Key, c Client) (int64, error) {
	ks, err := tx.ListKeys(ctx, acct.ID)
	if err != nil {
		return 0, err
	}
	now, found := s.now(), int64(0)
	for _, o := range ks {
		if o.ID == key.ID || o.ID == w.replace || o.Kind != key.Kind || o.Status != store.KeyActive {
			continue
		}
		moved, err := tx.TransitionKey(ctx, o.ID, store.KeyActive, store.KeyDeactivated, keys.CauseCitizen, now)
		if err != nil {
			return 0, err
		}
		if !moved {
			continue
		}
		found = o.ID
		if err := s.audit.Record(ctx, tx, store.AuditEvent{Type: audit.KeyDeactivated, AccountID: acct.ID, KeyKind: o.Kind,
			KeyID: o.ID, Reason: keys.CauseCitizen, IP: c.IP, Detail: map[string]string{"cause": keys.CauseCitizen, "kind": o.Kind,
				"replaced_by": key.Kind}}); err != nil {
			return 0, err
		}
	}
	return found, nil
}

// finishedElsewhere reports whether the wizard's activation was finished by another request
// (its token used): the wizard then moves to the confirmation.
func (s *Service) finishedElsewhere(ctx context.Context, w *Wizard, acct store.Account) (bool, error) {
	tok, err := s.st.LatestCode(ctx, acct.ID, store.CodeEnrolment)
	return s.finishedWith(w, tok, err)
}

// finishedElsewhereLocked is finishedElsewhere under the account's lock: a transaction
// creating the key (createKey) has committed or not begun.
func (s *Service) finishedElsewhereLocked(ctx context.Context, w *Wizard, acct store.Account) (bool, error) {
	var tok store.Code
	err := store.InTx(ctx, s.st, func(tx keyStore) error {
		if err := tx.LockAccount(ctx, acct.ID); err != nil {
			return err
		}
		var err error
		tok, err = tx.LatestCode(ctx, acct.ID, store.CodeEnrolment)
		return err
	})
	return s.finishedWith(w, tok, err)
}

// finishedWith is the answer of finishedElsewhere from the account's latest enrolment token
// (tok, or the error of reading it): finished when it is the wizard's token and used.
func (s *Service) finishedWith(w *Wizard, tok store.Code, err error) (bool, error) {
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("enrolment token: %w", err)
	}
	if tok.ID != w.token || tok.UsedAt.IsZero() {
		return false, nil
	}
	return true, w.Finish(0, s.now())
}

// Refresh brings a wizard shown again (GET) up to date: an activation another request of the
// same wizard finished moves to the confirmation. It changes nothing else.
func (s *Service) Refresh(ctx context.Context, w *Wizard, acct store.Account) error {
	if err := own(w, acct); err != nil {
		return err
	}
	if w.step != StepActivate || w.Expired(s.now()) {
		return nil
	}
	_, err := s.finishedElsewhere(ctx, w, acct)
	return err
}

// Back is the Previous button.
func (s *Service) Back(w *Wizard, acct store.Account) error {
	if err := own(w, acct); err != nil {
		return err
	}
	return w.Back(s.now())
}
