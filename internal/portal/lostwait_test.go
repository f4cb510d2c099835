package portal_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/portal"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// activateEmailKey runs the wizard for the e-mail key after the logon auth and returns the
// first error.
func (f *fixture) activateEmailKey(auth portal.Auth) error {
	f.t.Helper()
	w := f.wizardAtSelect()
	if err := f.svc.Select(f.ctx(), w, f.acct, auth, keys.EmailCode, f.c); err != nil {
		return err
	}
	return f.svc.Activate(f.ctx(), w, f.acct, auth, f.code(mail.TemplateRegistrationCode, "anna@example.org"), f.c)
}

// hasEmailKey reports whether the citizen has an active e-mail key.
func (f *fixture) hasEmailKey() bool {
	for _, k := range f.keys() {
		if k.Kind == keys.EmailCode && k.Status == store.KeyActive {
			return true
		}
	}
	return false
}

// TestLostKeyWait: with the password (and the mailbox) an attacker logs on at level low,
// reports the citizen's only substantial key lost — which works at once — and tries to
// activate an e-mail key (level substantial) with the mailbox alone: refused, and nothing is
// offered, until Config.LostKeyWait after the report; then it works. A helpdesk recovery code
// and a logon at substantial are not held back.
func TestLostKeyWait(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard}, nil)
		card := f.keyOf(keys.TokenCard)
		reported := f.w.Clock.Now()
		f.must("report lost at level low", f.svc.ReportLost(f.ctx(), f.acct, f.auth(keys.LevelLow), card.ID, f.c))
		if k := f.keyOf(keys.TokenCard); k.Status != store.KeyDeactivated || k.DeactivationCause != keys.CauseLost {
			t.Fatalf("the card after the report: %+v", k)
		}
		if es := f.events(audit.KeyDeactivated); len(es) != 1 || es[0].Detail[portal.DetailLogonLevel] != keys.LevelLow.String() {
			t.Errorf("audit of the report: %+v", es)
		}
		if n := len(f.mails(mail.TemplateKeyDeactivated, "anna@example.org")); n != 1 {
			t.Errorf("%d deactivation e-mails, want 1", n)
		}
		until := reported.Add(portal.DefaultConfig().LostKeyWait)

		f.later(time.Hour)
		low := f.auth(keys.LevelLow)
		offers, err := f.svc.OffersFor(f.ctx(), f.acct, low)
		f.must("offers", err)
		if !offers.MailboxOnly || len(offers.List) != 0 || !offers.LostKeyWaitUntil.Equal(until) {
			t.Errorf("offers during the wait: %+v, want nothing until %s", offers, until)
		}
		if err := f.activateEmailKey(low); !errors.Is(err, portal.ErrNotOffered) {
			t.Errorf("e-mail key during the wait: %v, want %v", err, portal.ErrNotOffered)
		}
		if f.hasEmailKey() {
			t.Fatal("an e-mail key was activated during the wait")
		}
		if n := len(f.mails(mail.TemplateRegistrationCode, "anna@example.org")); n != 0 {
			t.Errorf("%d registration codes sent during the wait", n)
		}

		// A logon at substantial (say with a key of another kind) and a helpdesk recovery code
		// are not held back.
		if o, err := f.svc.OffersFor(f.ctx(), f.acct, f.auth(keys.LevelSubstantial)); err != nil || o.MailboxOnly || !o.LostKeyWaitUntil.IsZero() || len(o.List) < 2 {
			t.Errorf("offers at substantial during the wait: %+v %v", o, err)
		}
		recovered := f.auth(keys.LevelLow)
		recovered.Recovery = true
		if o, err := f.svc.OffersFor(f.ctx(), f.acct, recovered); err != nil || o.MailboxOnly || !o.LostKeyWaitUntil.IsZero() || len(o.List) < 2 {
			t.Errorf("offers with the recovery right during the wait: %+v %v", o, err)
		}

		// Just before the end, still refused; at the end, the mailbox is enough again.
		f.later(until.Sub(f.w.Clock.Now()) - time.Second)
		if o, err := f.svc.OffersFor(f.ctx(), f.acct, f.auth(keys.LevelLow)); err != nil || len(o.List) != 0 {
			t.Errorf("offers a second before the end: %+v %v", o, err)
		}
		f.later(time.Second)
		f.must("e-mail key after the wait", f.activateEmailKey(f.auth(keys.LevelLow)))
		if !f.hasEmailKey() {
			t.Error("no e-mail key after the wait")
		}
	})
}

// TestLostKeyWaitSparesTheRecoveryCode: during the wait, the helpdesk's recovery right
// activates the e-mail key.
func TestLostKeyWaitSparesTheRecoveryCode(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard}, nil)
		f.must("report lost at level low", f.svc.ReportLost(f.ctx(), f.acct, f.auth(keys.LevelLow), f.keyOf(keys.TokenCard).ID, f.c))
		recovered := f.auth(keys.LevelLow)
		recovered.Recovery = true
		f.must("e-mail key with the recovery right", f.activateEmailKey(recovered))
		if !f.hasEmailKey() {
			t.Error("no e-mail key with the recovery right")
		}
	})
}

// TestLostAtSubstantialStartsNoWait: a key reported lost from a logon at substantial (the
// citizen still had it, or another key) leaves the mailbox-only activation as it was.
func TestLostAtSubstantialStartsNoWait(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard}, nil)
		f.must("report lost at substantial", f.svc.ReportLost(f.ctx(), f.acct, f.auth(keys.LevelSubstantial), f.keyOf(keys.TokenCard).ID, f.c))
		low := f.auth(keys.LevelLow)
		offers, err := f.svc.OffersFor(f.ctx(), f.acct, low)
		f.must("offers", err)
		if !offers.MailboxOnly || !offers.LostKeyWaitUntil.IsZero() || len(offers.List) != 1 || offers.List[0].Kind != keys.EmailCode {
			t.Errorf("offers after a report at substantial: %+v, want the e-mail key at once", offers)
		}
		f.must("e-mail key at once", f.activateEmailKey(low))
	})
}
