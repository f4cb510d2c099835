package portal

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"

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

// ConfirmEmail is step 1's Next: the address is right.
func (s *Service) ConfirmEmail(w *Wizard, acct store.Account) error {
	if err := own(w, acct); err != nil {
		return err
	}
	return w.ConfirmEmail(s.now())
}

// ChangeEmail is step 1's Change: a code goes to addr (see RequestEmailChange).
func (s *Service) ChangeEmail(ctx context.Context, w *Wizard, acct store.Account, auth Auth, addr string, c Client) error {
	if err := own(w, acct); err != nil {
		return err
	}
	if err := w.Expect(StepEmail, s.now()); err != nil {
		return err
	}
	ch, err := s.RequestEmailChange(ctx, acct, auth, addr, c)
	if err != nil {
		return err
	}
	return w.AwaitEmailCode(ch, s.now())
}

// ConfirmNewEmail checks the code sent to the new address; when right the address is changed
// and the wizard is back at step 1 showing it.
func (s *Service) ConfirmNewEmail(ctx context.Context, w *Wizard, acct store.Account, auth Auth, code string, c Client) error {
	if err := own(w, acct); err != nil {
		return err
	}
	if err := w.Expect(StepEmailCode, s.now()); err != nil {
		return err
	}
	if err := s.ConfirmEmailChange(ctx, acct, auth, w.change, code, c); err != nil {
		return err
	}
	return w.EmailConfirmed(s.now())
}

// Select is step 2: the citizen chooses kind. A kind that needs preparing moves to its
// preparation; any other begins at once (an e-mailed registration code is sent). A kind that is
// not offered is refused (ErrNotOffered) and, since the page never offers it, recorded as
// forged.
func (s *Service) Select(ctx context.Context, w *Wizard, acct store.Account, auth Auth, kind string, c Client) error {
	if err := own(w, acct); err != nil {
		return err
	}
	if err := w.Expect(StepSelect, s.now()); err != nil {
		return err
	}
	k, ok := s.enroller(kind)
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
	if err := own(w, acct); err != nil {
		return err
	}
	if err := w.Expect(StepPrepare, s.now()); err != nil {
		return err
	}
	k, ok := s.enroller(w.kind)
	if !ok {
		return ErrNotOffered // closed since it was chosen
	}
	if err := s.Fresh(ctx, acct, auth); err != nil {
		return err
	}
	return s.begin(ctx, w, acct, k, c)
}

// begin starts k's enrolment and the wizard's single-use token in one transaction.
func (s *Service) begin(ctx context.Context, w *Wizard, acct store.Account, k keys.Enroller, c Client) error {
	if err := s.reserveCodeRequest(ctx, store.AuditEvent{AccountID: acct.ID, KeyKind: k.Name(), IP: c.IP}); err != nil {
		return err
	}
	now := s.now()
	var (
		e     keys.Enrolment
		token store.Code
	)
	err := store.InTx(ctx, s.st, func(tx enrolStore) error {
		var err error
		if e, err = k.BeginEnrolment(ctx, tx, acct); err != nil {
			return err
		}
		// The token supersedes any earlier activation of this account: only the newest can
		// create a key.
		token = store.Code{AccountID: acct.ID, Purpose: store.CodeEnrolment, Target: k.Name(), CreatedAt: now, ExpiresAt: w.expiresAt}
		return tx.CreateCode(ctx, &token)
	})
	if err != nil {
		var le *i18n.LocalizedError
		if errors.As(err, &le) {
			return err // a resend limit
		}
		return fmt.Errorf("begin %s enrolment: %w", k.Name(), err)
	}
	return w.Begin(k.Name(), e, token.ID, now)
}

// Resend sends a new registration code (kinds that send one), within the kind's limits.
func (s *Service) Resend(ctx context.Context, w *Wizard, acct store.Account, auth Auth, c Client) error {
	if err := own(w, acct); err != nil {
		return err
	}
	if err := w.Expect(StepActivate, s.now()); err != nil {
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
func (s *Service) Activate(ctx context.Context, w *Wizard, acct store.Account, auth Auth, answer string, c Client) error {
	if err := own(w, acct); err != nil {
		return err
	}
	if err := w.Expect(StepActivate, s.now()); err != nil {
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
	key, err := k.CheckEnrolment(ctx, s.st, acct, *w.enrolment, norm)
	if err != nil {
		return s.activationFailed(ctx, w, acct, err, release, counts[1], c)
	}
	if err := errors.Join(s.ipLimiter.Release(ctx, ipScope), s.limiter.Succeed(ctx, scope)); err != nil {
		s.log.Warn("reset registration code attempts", "err", err)
	}
	err = store.InTx(ctx, s.st, func(tx keyStore) error { return s.createKey(ctx, tx, w, acct, &key, c) })
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

// activationFailed answers a wrong, expired or used-up registration code.
func (s *Service) activationFailed(ctx context.Context, w *Wizard, acct store.Account, err error, release func(), count store.Attempt, c Client) error {
	var le *i18n.LocalizedError
	if !errors.As(err, &le) {
		release()
		return fmt.Errorf("check %s registration code: %w", w.kind, err)
	}
	s.record(ctx, store.AuditEvent{Type: audit.EnrolmentFailure, AccountID: acct.ID, KeyKind: w.kind, Reason: failureReason(err), IP: c.IP})
	if errors.Is(err, keys.ErrCodeExpired) {
		release() // nothing was compared
		// A concurrent submission may have used the code to create the key.
		if done, ferr := s.finishedElsewhere(ctx, w, acct); done || ferr != nil {
			return ferr
		}
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
// replaced key deactivated, the audit events and the e-mails.
func (s *Service) createKey(ctx context.Context, tx keyStore, w *Wizard, acct store.Account, key *store.Key, c Client) error {
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
	detail := map[string]string{}
	if replaced != "" {
		detail["replaces"] = strconv.FormatInt(w.replace, 10)
	}
	if err := s.audit.Record(ctx, tx, store.AuditEvent{Type: audit.KeyActivated, AccountID: acct.ID, KeyKind: key.Kind,
		KeyID: key.ID, IP: c.IP, Detail: detail}); err != nil {
		return err
	}
	return s.mailer.Enqueue(ctx, tx, recipient(acct), mail.TemplateKeyActivated,
		map[string]any{"Kind": key.Kind, "Replaces": replaced, "Reactivated": false})
}

// finishedElsewhere reports whether the wizard's activation was finished by another request
// (its token used): the wizard then moves to the confirmation.
func (s *Service) finishedElsewhere(ctx context.Context, w *Wizard, acct store.Account) (bool, error) {
	tok, err := s.st.LatestCode(ctx, acct.ID, store.CodeEnrolment)
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
