package portal_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/portal"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// TestPasswordLogonAfterASubstantialKey: a citizen whose substantial key is no longer active
// (locked by an attacker's wrong codes, deactivated, expired) and who logged on with only the
// password may activate the e-mail key alone, its code sent to the registered address, and
// may not change that address first. A citizen who never had such a key may activate any.
func TestPasswordLogonAfterASubstantialKey(t *testing.T) {
	t.Parallel()
	for _, to := range []store.KeyStatus{store.KeyLocked, store.KeyDeactivated, store.KeyExpired} {
		t.Run(string(to), func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, db *sqlstore.DB) {
				f := newFixture(t, db, []string{keys.TOTP}, nil)
				app := f.keyOf(keys.TOTP)
				if ok, err := db.TransitionKey(f.ctx(), app.ID, store.KeyActive, to, keys.CauseLockout, f.w.Clock.Now()); err != nil || !ok {
					t.Fatalf("transition the app key to %s: %v %v", to, ok, err)
				}
				low := f.auth(keys.LevelLow)
				f.must("a fresh password logon may change keys", f.svc.Fresh(f.ctx(), f.acct, low))
				offers, err := f.svc.OffersFor(f.ctx(), f.acct, low)
				f.must("offers", err)
				if !offers.MailboxOnly || len(offers.List) != 1 || offers.List[0].Kind != keys.EmailCode {
					t.Fatalf("offers after a password logon: %+v, want the e-mail key alone", offers)
				}
				// With a substantial logon, everything is offered.
				if o, err := f.svc.OffersFor(f.ctx(), f.acct, f.auth(keys.LevelSubstantial)); err != nil || o.MailboxOnly || len(o.List) < 2 {
					t.Errorf("offers after a substantial logon: %+v %v", o, err)
				}

				// The address cannot be changed, neither in the wizard nor on the profile page.
				w, err := f.svc.StartWizard(f.acct)
				f.must("start", err)
				if err := f.svc.ChangeEmail(f.ctx(), w, f.acct, low, "attacker@example.net", f.c); !errors.Is(err, portal.ErrEmailChangeRestricted) {
					t.Errorf("wizard change of address: %v, want %v", err, portal.ErrEmailChangeRestricted)
				}
				if _, err := f.svc.RequestEmailChange(f.ctx(), f.acct, low, "attacker@example.net", f.c); !errors.Is(err, portal.ErrEmailChangeRestricted) {
					t.Errorf("profile change of address: %v, want %v", err, portal.ErrEmailChangeRestricted)
				}
				if n := len(f.mails(mail.TemplateEmailChange, "attacker@example.net")); n != 0 || w.Step() != portal.StepEmail {
					t.Errorf("%d codes to the new address, wizard at %s", n, w.Step())
				}

				// An app key is refused (the page never offers it: recorded as forged).
				f.must("confirm", f.svc.ConfirmEmail(w, f.acct))
				if err := f.svc.Select(f.ctx(), w, f.acct, low, keys.TOTP, f.c); !errors.Is(err, portal.ErrNotOffered) {
					t.Errorf("select an app key: %v, want %v", err, portal.ErrNotOffered)
				}
				if es := f.events(audit.PortalForged); len(es) != 1 || es[0].Detail["value"] != keys.TOTP {
					t.Errorf("forged events %+v", es)
				}

				// The e-mail key, with its code sent to the registered address, is activated.
				f.must("select the e-mail key", f.svc.Select(f.ctx(), w, f.acct, low, keys.EmailCode, f.c))
				f.must("activate", f.svc.Activate(f.ctx(), w, f.acct, low, f.code(mail.TemplateRegistrationCode, "anna@example.org"), f.c))
				if w.Step() != portal.StepDone || f.keyOf(keys.EmailCode).Status != store.KeyActive {
					t.Errorf("after the right code: at %s, key %+v", w.Step(), f.keyOf(keys.EmailCode))
				}
			})
		})
	}
}

// TestMailboxOnlyRefusesAMovedAddress: a registration code that went to an address that is no
// longer the registered one (changed meanwhile) proves nothing after a password logon.
func TestMailboxOnlyRefusesAMovedAddress(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard}, nil)
		card := f.keyOf(keys.TokenCard)
		if _, err := db.TransitionKey(f.ctx(), card.ID, store.KeyActive, store.KeyLocked, keys.CauseLockout, f.w.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		low := f.auth(keys.LevelLow)
		w := f.wizardAtSelect()
		f.must("select", f.svc.Select(f.ctx(), w, f.acct, low, keys.EmailCode, f.c))
		code := f.code(mail.TemplateRegistrationCode, "anna@example.org")
		f.must("move the address", db.UpdateProfile(f.ctx(), f.acct.ID, f.acct.Name, "elsewhere@example.net", f.acct.Language, f.w.Clock.Now()))
		moved := f.account()
		if err := f.svc.Activate(f.ctx(), w, moved, low, code, f.c); !errors.Is(err, portal.ErrNotOffered) {
			t.Errorf("activate with a code to the old address: %v, want %v", err, portal.ErrNotOffered)
		}
		for _, k := range f.keys() {
			if k.Kind == keys.EmailCode {
				t.Errorf("a key was created: %+v", k)
			}
		}
		if w.Step() != portal.StepSelect {
			t.Errorf("wizard at %s, want select", w.Step())
		}
	})
}

// TestNeverHadASubstantialKey: the first substantial key is activated after a password logon,
// any kind, and the address may be changed (issue 8).
func TestNeverHadASubstantialKey(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{}, nil)
		low := f.auth(keys.LevelLow)
		offers, err := f.svc.OffersFor(f.ctx(), f.acct, low)
		f.must("offers", err)
		if offers.MailboxOnly || len(offers.List) != 2 {
			t.Errorf("offers %+v, want both kinds", offers)
		}
		if _, err := f.svc.RequestEmailChange(f.ctx(), f.acct, low, "new@example.org", f.c); err != nil {
			t.Errorf("change of address: %v", err)
		}
		w := f.wizardAtSelect()
		f.must("select an app key", f.svc.Select(f.ctx(), w, f.acct, low, keys.TOTP, f.c))
	})
}

// TestActivatingAKindAgainReplacesIt: a second key of a kind the citizen has active replaces
// the first, in the same transaction (cause citizen, replaced_by), with one e-mail saying so.
func TestActivatingAKindAgainReplacesIt(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard, keys.TOTP}, nil)
		old := f.keyOf(keys.TOTP)
		auth := f.auth(keys.LevelSubstantial)
		offers, err := f.svc.OffersFor(f.ctx(), f.acct, auth)
		f.must("offers", err)
		for _, o := range offers.List {
			if o.Replaces != (o.Kind == keys.TOTP) {
				t.Errorf("offer %+v: Replaces should be set for the app key alone", o)
			}
		}
		w := f.wizardAtSelect()
		f.must("select", f.svc.Select(f.ctx(), w, f.acct, auth, keys.TOTP, f.c))
		f.must("prepared", f.svc.Prepared(f.ctx(), w, f.acct, auth, f.c))
		f.must("activate", f.svc.Activate(f.ctx(), w, f.acct, auth, f.appCode(w, f.w.Clock.Now()), f.c))
		var active []store.Key
		for _, k := range f.keys() {
			if k.Kind == keys.TOTP && k.Status == store.KeyActive {
				active = append(active, k)
			}
			if k.ID == old.ID && (k.Status != store.KeyDeactivated || k.DeactivationCause != keys.CauseCitizen) {
				t.Errorf("the old app key %+v, want deactivated by the citizen", k)
			}
		}
		if len(active) != 1 || active[0].ID != w.KeyID() {
			t.Errorf("active app keys %+v, want the new one (%d) alone", active, w.KeyID())
		}
		es := f.events(audit.KeyDeactivated)
		if len(es) != 1 || es[0].KeyID != old.ID || es[0].Reason != keys.CauseCitizen || es[0].Detail["replaced_by"] != keys.TOTP {
			t.Errorf("deactivation events %+v", es)
		}
		if n := len(f.mails(mail.TemplateKeyDeactivated, "anna@example.org")); n != 0 {
			t.Errorf("%d deactivation e-mails, want none (the activation e-mail says it)", n)
		}
		act := f.mails(mail.TemplateKeyActivated, "anna@example.org")
		if len(act) != 1 || !strings.Contains(strings.Join(strings.Fields(act[0].TextBody), " "),
			"Elle remplace votre ancienne clé numérique « Code de sécurité via application mobile »") {
			t.Errorf("activation e-mails %+v", act)
		}
	})
}

// TestParallelStepsSendOneCode: parallel submissions of step 2 (and of step 1's Change, and of
// the app's preparation) of the same wizard — each on its own copy, as each request loads the
// session — send one code and all land on the same next step with the same enrolment.
func TestParallelStepsSendOneCode(t *testing.T) {
	t.Parallel()
	const n = 6
	copies := func(t *testing.T, w *portal.Wizard) []*portal.Wizard {
		t.Helper()
		raw, err := json.Marshal(w)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]*portal.Wizard, n)
		for i := range out {
			out[i] = new(portal.Wizard)
			if err := json.Unmarshal(raw, out[i]); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	parallel := func(t *testing.T, ws []*portal.Wizard, do func(w *portal.Wizard) error) {
		t.Helper()
		errs := make([]error, len(ws))
		var wg sync.WaitGroup
		for i, w := range ws {
			wg.Go(func() { errs[i] = do(w) })
		}
		wg.Wait()
		first, _ := json.Marshal(ws[0])
		for i, w := range ws {
			if errs[i] != nil {
				t.Errorf("copy %d: %v", i, errs[i])
			}
			if raw, _ := json.Marshal(w); string(raw) != string(first) {
				t.Errorf("copy %d differs:\n%s\nfrom\n%s", i, raw, first)
			}
		}
	}
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard}, nil)
		auth := f.auth(keys.LevelSubstantial)

		w, err := f.svc.StartWizard(f.acct)
		f.must("start", err)
		ws := copies(t, w)
		parallel(t, ws, func(w *portal.Wizard) error {
			return f.svc.ChangeEmail(t.Context(), w, f.acct, auth, "new@example.org", f.c)
		})
		if got := len(f.mails(mail.TemplateEmailChange, "new@example.org")); got != 1 || ws[0].Step() != portal.StepEmailCode {
			t.Fatalf("%d e-mail change codes, wizard at %s; want 1 at email-code", got, ws[0].Step())
		}
		// Previous, then Change again: the dropped code is not taken up, a new one is sent.
		w = ws[0]
		f.must("back", f.svc.Back(w, f.acct))
		f.must("change again", f.svc.ChangeEmail(f.ctx(), w, f.acct, auth, "new@example.org", f.c))
		if got := len(f.mails(mail.TemplateEmailChange, "new@example.org")); got != 2 {
			t.Errorf("%d e-mail change codes after Previous and Change, want 2", got)
		}
		f.must("back", f.svc.Back(w, f.acct))
		f.must("confirm", f.svc.ConfirmEmail(w, f.acct))

		ws = copies(t, w)
		parallel(t, ws, func(w *portal.Wizard) error {
			return f.svc.Select(t.Context(), w, f.acct, auth, keys.EmailCode, f.c)
		})
		if got := len(f.mails(mail.TemplateRegistrationCode, "anna@example.org")); got != 1 || ws[0].Step() != portal.StepActivate {
			t.Fatalf("%d registration codes, wizard at %s; want 1 at activate", got, ws[0].Step())
		}
		// Whichever copy the session keeps, the code works.
		w = ws[n-1]
		f.must("activate the e-mail key", f.svc.Activate(f.ctx(), w, f.acct, auth, f.code(mail.TemplateRegistrationCode, "anna@example.org"), f.c))

		// The app key: parallel submissions of its preparation draw one secret.
		w = f.wizardAtSelect()
		f.must("select the app key", f.svc.Select(f.ctx(), w, f.acct, auth, keys.TOTP, f.c))
		ws = copies(t, w)
		parallel(t, ws, func(w *portal.Wizard) error { return f.svc.Prepared(t.Context(), w, f.acct, auth, f.c) })
		w = ws[n/2]
		f.must("activate the app key", f.svc.Activate(f.ctx(), w, f.acct, auth, f.appCode(w, f.w.Clock.Now()), f.c))
		if w.Step() != portal.StepDone {
			t.Errorf("after the app's code: at %s", w.Step())
		}

		// Previous from the code step, then the same kind again: a new activation, new code.
		w = f.wizardAtSelect()
		f.must("select", f.svc.Select(f.ctx(), w, f.acct, auth, keys.EmailCode, f.c))
		f.must("back", f.svc.Back(w, f.acct))
		f.must("select again", f.svc.Select(f.ctx(), w, f.acct, auth, keys.EmailCode, f.c))
		if got := len(f.mails(mail.TemplateRegistrationCode, "anna@example.org")); got != 3 {
			t.Errorf("%d registration codes after Previous and the same kind again, want 3", got)
		}
	})
}

// TestParallelRightCodesRecordNoFailure: of parallel submissions of the right registration
// code, one creates the key; the others finish with it and leave no enrolment failure behind.
func TestParallelRightCodesRecordNoFailure(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard}, nil)
		auth := f.auth(keys.LevelSubstantial)
		w := f.wizardAtSelect()
		f.must("select", f.svc.Select(f.ctx(), w, f.acct, auth, keys.EmailCode, f.c))
		code := f.code(mail.TemplateRegistrationCode, "anna@example.org")
		raw, err := json.Marshal(w)
		f.must("marshal", err)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			c := new(portal.Wizard)
			f.must("unmarshal", json.Unmarshal(raw, c))
			wg.Go(func() { errs[i] = f.svc.Activate(t.Context(), c, f.acct, auth, code, f.c) })
		}
		wg.Wait()
		for i, err := range errs {
			// Reservations are counted before the code is compared: past the throttle's
			// threshold a copy is refused (recorded as a throttle, not as a failure).
			if err != nil && !errors.Is(err, attempts.ErrThrottled) {
				t.Errorf("copy %d: %v", i, err)
			}
		}
		if es := f.events(audit.EnrolmentFailure); len(es) != 0 {
			t.Errorf("enrolment failures after parallel right codes: %+v", es)
		}
		if es := f.events(audit.KeyActivated); len(es) != 1 {
			t.Errorf("%d key.activated events, want 1", len(es))
		}
	})
}

// TestReactivateNeedsAnotherKey: "Activate again" is offered for a locked key only when another
// active key reaches its level (the logon it asks for); otherwise Reactivate says why.
func TestReactivateNeedsAnotherKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		kinds []string
		can   bool
	}{
		{"alone", []string{keys.TOTP}, false},
		{"with a card", []string{keys.TokenCard, keys.TOTP}, true},
	} {
		eachStore(t, func(t *testing.T, db *sqlstore.DB) {
			f := newFixture(t, db, tt.kinds, nil)
			app := f.keyOf(keys.TOTP)
			if _, err := db.TransitionKey(f.ctx(), app.ID, store.KeyActive, store.KeyLocked, keys.CauseLockout, f.w.Clock.Now()); err != nil {
				t.Fatal(err)
			}
			v, err := f.svc.Key(f.ctx(), f.acct, app.ID, f.c)
			f.must("key", err)
			if v.CanReactivate != tt.can || v.NoWayBack == tt.can {
				t.Errorf("%s: CanReactivate %v, NoWayBack %v; want %v, %v", tt.name, v.CanReactivate, v.NoWayBack, tt.can, !tt.can)
			}
			err = f.svc.Reactivate(f.ctx(), f.acct, f.auth(keys.LevelLow), app.ID, f.c)
			if !tt.can && !errors.Is(err, portal.ErrNoOtherKey) {
				t.Errorf("%s: reactivate: %v, want %v", tt.name, err, portal.ErrNoOtherKey)
			}
			var stale *portal.StaleLogonError
			if tt.can && !errors.As(err, &stale) {
				t.Errorf("%s: reactivate after a password logon: %v, want a stale logon", tt.name, err)
			}
		})
	}
}

// TestForgedRequestsAreAggregated: a script sending forged requests writes a bounded number of
// audit events, not one per request.
func TestForgedRequestsAreAggregated(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard}, nil)
		const n = 50
		for i := range n {
			if _, err := f.svc.Key(f.ctx(), f.acct, int64(100000+i), f.c); !errors.Is(err, portal.ErrNoSuchKey) {
				t.Fatalf("forged key id %d: %v", i, err)
			}
		}
		forged, throttled := f.events(audit.PortalForged), f.events(audit.LogonThrottled)
		if len(forged) == 0 || len(forged) > 5 || len(throttled) != 1 || throttled[0].Reason != audit.ReasonThrottleStarted {
			t.Errorf("after %d forged requests: %d portal.forged and %d logon.throttled events %+v; want at most 5 and 1 start",
				n, len(forged), len(throttled), throttled)
		}
		// After the throttle period (the first lasts a minute), the next one is recorded again,
		// with the period's total.
		f.later(2 * time.Minute)
		if _, err := f.svc.Key(f.ctx(), f.acct, 99, f.c); !errors.Is(err, portal.ErrNoSuchKey) {
			t.Fatal(err)
		}
		if got := f.events(audit.PortalForged); len(got) != len(forged)+1 {
			t.Errorf("%d portal.forged events after the period, want %d", len(got), len(forged)+1)
		}
		throttled = f.events(audit.LogonThrottled)
		total := 0
		for _, e := range throttled {
			if e.Reason == audit.ReasonThrottleEnded {
				total, _ = strconv.Atoi(e.Detail["refused"])
			}
		}
		if total != n-len(forged) {
			t.Errorf("summary of refused requests: %d, want %d (%+v)", total, n-len(forged), throttled)
		}
	})
}

// TestEmailChangedAuditTellsAddressesApart: the audit event of a change between two addresses
// with the same first letter and domain shows two different masks.
func TestEmailChangedAuditTellsAddressesApart(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard}, nil)
		auth := f.auth(keys.LevelSubstantial)
		ch, err := f.svc.RequestEmailChange(f.ctx(), f.acct, auth, "anna.janssens@example.org", f.c)
		f.must("request", err)
		f.must("confirm", f.svc.ConfirmEmailChange(f.ctx(), f.acct, auth, ch, f.code(mail.TemplateEmailChange, "anna.janssens@example.org"), f.c))
		es := f.events(audit.EmailChanged)
		if len(es) != 1 || es[0].Detail["old"] == es[0].Detail["new"] || strings.Contains(es[0].Detail["new"], "anna.janssens") {
			t.Errorf("email.changed %+v: want two different masks, neither the address", es)
		}
	})
}
