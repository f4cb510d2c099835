package portal_test

import (
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/keys/totp"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/portal"
	"github.com/sleutelbos/sleutelbos/internal/portal/portaltest"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// appCode returns the authenticator app's code for the wizard's enrolment at the clock's time.
func (f *fixture) appCode(w *portal.Wizard, at time.Time) string {
	f.t.Helper()
	v, err := f.svc.View(w, f.acct)
	f.must("view", err)
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(v.Secret, " ", ""))
	f.must("decode secret", err)
	return totp.Code(secret, at)
}

func TestActivateEmailKey(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard}, nil)
		auth := f.auth(keys.LevelSubstantial)
		w := f.wizardAtSelect()
		f.must("select", f.svc.Select(f.ctx(), w, f.acct, auth, keys.EmailCode, f.c))
		if w.Step() != portal.StepActivate {
			t.Fatalf("after selecting emailcode: at %s", w.Step())
		}
		v, err := f.svc.View(w, f.acct)
		f.must("view", err)
		if v.Address != "anna@example.org" || v.CodeMinutes != 5 {
			t.Errorf("view %+v", v)
		}
		code := f.code(mail.TemplateRegistrationCode, "anna@example.org")
		// The wizard in the session holds no code.
		if raw, _ := json.Marshal(w); strings.Contains(string(raw), code) {
			t.Errorf("wizard %s holds the code", raw)
		}
		f.must("activate", f.svc.Activate(f.ctx(), w, f.acct, auth, code[:3]+" "+code[3:], f.c))
		if w.Step() != portal.StepDone || w.KeyID() == 0 {
			t.Fatalf("after the right code: at %s, key %d", w.Step(), w.KeyID())
		}
		k := f.keyOf(keys.EmailCode)
		if k.ID != w.KeyID() || k.Status != store.KeyActive || !k.ActivatedAt.Equal(f.w.Clock.Now()) {
			t.Errorf("new key %+v", k)
		}
		if ms := f.mails(mail.TemplateKeyActivated, "anna@example.org"); len(ms) != 1 || ms[0].Language != "fr" ||
			!contains(ms[0].Subject, "Code de sécurité par e-mail") || !contains(ms[0].TextBody, "http://127.0.0.1/keys") {
			t.Errorf("activation e-mails %+v", ms)
		}
		if es := f.events(audit.KeyActivated); len(es) != 1 || es[0].KeyID != k.ID || es[0].KeyKind != keys.EmailCode {
			t.Errorf("audit %+v", es)
		}
		// Replayed: the finished wizard refuses, nothing more is created.
		if err := f.svc.Activate(f.ctx(), w, f.acct, auth, code, f.c); !errors.Is(err, portal.ErrOutOfOrder) {
			t.Errorf("replayed code: %v, want %v", err, portal.ErrOutOfOrder)
		}
		if err := f.svc.Back(w, f.acct); !errors.Is(err, portal.ErrOutOfOrder) {
			t.Errorf("Back after confirmation: %v", err)
		}
		if n := len(f.keys()); n != 2 {
			t.Errorf("%d keys, want 2", n)
		}
	})
}

func TestActivateAppKey(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard}, nil)
		auth := f.auth(keys.LevelSubstantial)
		w := f.wizardAtSelect()
		f.must("select", f.svc.Select(f.ctx(), w, f.acct, auth, keys.TOTP, f.c))
		if w.Step() != portal.StepPrepare {
			t.Fatalf("after selecting totp: at %s, want the install step", w.Step())
		}
		f.must("prepared", f.svc.Prepared(f.ctx(), w, f.acct, auth, f.c))
		v, err := f.svc.View(w, f.acct)
		f.must("view", err)
		if !strings.HasPrefix(v.URI, "otpauth://totp/") || len(strings.Fields(v.Secret)) != 8 || v.WindowSeconds != 60 {
			t.Errorf("view %+v", v)
		}
		if raw, _ := json.Marshal(w); strings.Contains(string(raw), strings.ReplaceAll(v.Secret, " ", "")) {
			t.Errorf("the wizard holds the secret in the clear: %s", raw)
		}
		f.later(20 * time.Second)
		now := f.w.Clock.Now()
		// Wrong: a code two steps old; replayed below: the right one twice.
		if err := f.svc.Activate(f.ctx(), w, f.acct, auth, f.appCode(w, now.Add(-time.Minute)), f.c); !errors.Is(err, keys.ErrWrongCode) {
			t.Errorf("a code outside the 60-second window: %v", err)
		}
		// The previous step is still inside the window.
		f.must("activate", f.svc.Activate(f.ctx(), w, f.acct, auth, f.appCode(w, now.Add(-30*time.Second)), f.c))
		k := f.keyOf(keys.TOTP)
		if w.Step() != portal.StepDone || k.ID != w.KeyID() || k.Counter != now.Unix()/30-1 {
			t.Errorf("at %s; key %+v", w.Step(), k)
		}
		if ms := f.mails(mail.TemplateKeyActivated, "anna@example.org"); len(ms) != 1 {
			t.Errorf("%d activation e-mails", len(ms))
		}
	})
}

// TestParallelActivationCreatesOneKey fires the right code from many copies of one wizard at
// once (two quick clicks, two tabs): exactly one key, one e-mail, one audit event; every copy
// ends at the confirmation or with an error, none with a second key.
func TestParallelActivationCreatesOneKey(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{keys.EmailCode, keys.TOTP} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, db *sqlstore.DB) {
				f := newFixture(t, db, []string{keys.TokenCard}, nil)
				auth := f.auth(keys.LevelSubstantial)
				w := f.wizardAtSelect()
				f.must("select", f.svc.Select(f.ctx(), w, f.acct, auth, kind, f.c))
				if kind == keys.TOTP {
					f.must("prepared", f.svc.Prepared(f.ctx(), w, f.acct, auth, f.c))
				}
				var code string
				if kind == keys.EmailCode {
					code = f.code(mail.TemplateRegistrationCode, "anna@example.org")
				} else {
					code = f.appCode(w, f.w.Clock.Now())
				}
				raw, err := json.Marshal(w)
				f.must("marshal", err)
				const n = 8
				var wg sync.WaitGroup
				errs := make([]error, n)
				copies := make([]*portal.Wizard, n)
				for i := range n {
					copies[i] = new(portal.Wizard)
					f.must("unmarshal", json.Unmarshal(raw, copies[i]))
					wg.Go(func() { errs[i] = f.svc.Activate(t.Context(), copies[i], f.acct, auth, code, f.c) })
				}
				wg.Wait()
				ok := 0
				for i, err := range errs {
					if err == nil {
						ok++
						if copies[i].Step() != portal.StepDone {
							t.Errorf("copy %d succeeded at %s", i, copies[i].Step())
						}
					}
				}
				var got []store.Key
				for _, k := range f.keys() {
					if k.Kind == kind {
						got = append(got, k)
					}
				}
				if len(got) != 1 || ok < 1 {
					t.Fatalf("%d %s keys, %d successes (errors %v); want exactly one key", len(got), kind, ok, errs)
				}
				if n := len(f.mails(mail.TemplateKeyActivated, "anna@example.org")); n != 1 {
					t.Errorf("%d activation e-mails, want 1", n)
				}
				if n := len(f.events(audit.KeyActivated)); n != 1 {
					t.Errorf("%d key.activated events, want 1", n)
				}
			})
		})
	}
}

func TestActivationReplacesAKey(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard}, nil)
		auth := f.auth(keys.LevelSubstantial)
		card := f.keyOf(keys.TokenCard)
		w, err := f.svc.StartWizard(f.acct, portal.Replacing(card.ID))
		f.must("start", err)
		f.must("confirm", f.svc.ConfirmEmail(w, f.acct))
		f.must("select", f.svc.Select(f.ctx(), w, f.acct, auth, keys.EmailCode, f.c))
		f.must("activate", f.svc.Activate(f.ctx(), w, f.acct, auth, f.code(mail.TemplateRegistrationCode, "anna@example.org"), f.c))
		card = f.keyOf(keys.TokenCard)
		if card.Status != store.KeyDeactivated || card.DeactivationCause != keys.CauseMigration {
			t.Errorf("replaced card %+v", card)
		}
		deact := f.mails(mail.TemplateKeyDeactivated, "anna@example.org")
		act := f.mails(mail.TemplateKeyActivated, "anna@example.org")
		if len(deact) != 1 || len(act) != 1 || !strings.Contains(strings.Join(strings.Fields(act[0].TextBody), " "), "Code de sécurité via token") {
			t.Errorf("e-mails: %d deactivation, %d activation %+v", len(deact), len(act), act)
		}
		if es := f.events(audit.KeyDeactivated); len(es) != 1 || es[0].Reason != keys.CauseMigration || es[0].KeyID != card.ID {
			t.Errorf("deactivation events %+v", es)
		}
	})
}

func TestWrongRegistrationCodes(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard}, func(c *portal.Config) { c.LockAfter = 7 })
		auth := f.auth(keys.LevelSubstantial)
		w := f.wizardAtSelect()
		f.must("select", f.svc.Select(f.ctx(), w, f.acct, auth, keys.TOTP, f.c))
		f.must("prepared", f.svc.Prepared(f.ctx(), w, f.acct, auth, f.c))
		scope := string(attempts.EnrolmentScope(f.acct.ID))
		// Format errors are no attempts.
		for _, bad := range []string{"", "12a456", "12345", "1234567", "abcdef"} {
			if err := f.svc.Activate(f.ctx(), w, f.acct, auth, bad, f.c); !keys.IsFormatError(err) {
				t.Errorf("answer %q: %v, want a format error", bad, err)
			}
		}
		if n := f.attempt(scope); n != 0 {
			t.Errorf("format errors counted %d attempts", n)
		}
		right := f.appCode(w, f.w.Clock.Now())
		wrong := strings.Map(func(r rune) rune { return '0' + (r-'0'+5)%10 }, right)
		for i := 1; i <= 5; i++ {
			if err := f.svc.Activate(f.ctx(), w, f.acct, auth, wrong, f.c); !errors.Is(err, keys.ErrWrongCode) {
				t.Fatalf("wrong code %d: %v", i, err)
			}
			if n := f.attempt(scope); n != i {
				t.Errorf("after %d wrong codes the count is %d", i, n)
			}
		}
		// Throttled now: even the right code is refused, and nothing is compared.
		const refusals = 20
		for range refusals {
			if err := f.svc.Activate(f.ctx(), w, f.acct, auth, right, f.c); !errors.Is(err, attempts.ErrThrottled) {
				t.Fatalf("right code while throttled: %v, want %v", err, attempts.ErrThrottled)
			}
		}
		if len(f.keys()) != 1 {
			t.Error("a key was created while throttled")
		}
		// Refusals are aggregated as at the logon: the wrong codes are failures, the refused
		// requests one logon.throttled event at the first refusal, and their total once the
		// throttle is over.
		if n := len(f.events(audit.EnrolmentFailure)); n != 5 {
			t.Errorf("%d enrolment failure events, want 5 (one per wrong code, none per refusal)", n)
		}
		throttled := func() []store.AuditEvent {
			t.Helper()
			es, err := f.st.ListAudit(f.ctx(), 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			var out []store.AuditEvent
			for _, e := range es {
				if e.Type == audit.LogonThrottled && e.Detail["scope"] == scope {
					out = append(out, e)
				}
			}
			return out
		}
		if es := throttled(); len(es) != 1 || es[0].Reason != audit.ReasonThrottleStarted || es[0].AccountID != f.acct.ID ||
			es[0].IP != f.c.IP || es[0].Detail["refused"] != "1" {
			t.Errorf("throttle events %+v, want one %s for the citizen", es, audit.ReasonThrottleStarted)
		}
		// Past the throttle, two more wrong codes reach LockAfter: the activation ends.
		f.later(2 * time.Minute)
		if err := f.svc.Activate(f.ctx(), w, f.acct, auth, wrong, f.c); !errors.Is(err, keys.ErrWrongCode) {
			t.Fatalf("sixth wrong code: %v", err)
		}
		if es := throttled(); len(es) != 2 || es[1].Reason != audit.ReasonThrottleEnded || es[1].Detail["refused"] != fmt.Sprint(refusals) {
			t.Errorf("throttle events %+v, want the period's %d refusals reported once it ended", es, refusals)
		}
		f.later(3 * time.Minute)
		if err := f.svc.Activate(f.ctx(), w, f.acct, auth, wrong, f.c); !errors.Is(err, portal.ErrEnrolmentLocked) {
			t.Fatalf("seventh wrong code: %v, want %v", err, portal.ErrEnrolmentLocked)
		}
		if w.Step() != portal.StepSelect {
			t.Errorf("after the lockout the wizard is at %s, want select", w.Step())
		}
	})
}

func TestExpiredRegistrationCode(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard}, nil)
		auth := func() portal.Auth { return f.auth(keys.LevelSubstantial) }
		w := f.wizardAtSelect()
		f.must("select", f.svc.Select(f.ctx(), w, f.acct, auth(), keys.EmailCode, f.c))
		code := f.code(mail.TemplateRegistrationCode, "anna@example.org")
		f.later(5 * time.Minute)
		if err := f.svc.Activate(f.ctx(), w, f.acct, auth(), code, f.c); !errors.Is(err, keys.ErrCodeExpired) {
			t.Errorf("code after 5 minutes: %v, want %v", err, keys.ErrCodeExpired)
		}
		if n := f.attempt(string(attempts.EnrolmentScope(f.acct.ID))); n != 0 {
			t.Errorf("an expired code counted %d attempts", n)
		}
		// "Request a new code": the new one works, the old one not.
		f.must("resend", f.svc.Resend(f.ctx(), w, f.acct, auth(), f.c))
		fresh := f.code(mail.TemplateRegistrationCode, "anna@example.org")
		if fresh != code {
			if err := f.svc.Activate(f.ctx(), w, f.acct, auth(), code, f.c); err == nil {
				t.Error("the superseded code was accepted")
			}
		}
		f.must("activate", f.svc.Activate(f.ctx(), w, f.acct, auth(), fresh, f.c))
		// Resend limits: 3 codes per quarter of an hour (2 used here).
		w2 := f.wizardAtSelect()
		f.must("select again", f.svc.Select(f.ctx(), w2, f.acct, auth(), keys.EmailCode, f.c))
		// The wait is told as at the logon's code step: the first code leaves the window at 15.
		err := f.svc.Resend(f.ctx(), w2, f.acct, auth(), f.c)
		var limit *keys.ResendLimitError
		if !errors.Is(err, keys.ErrResendLimit) || !errors.As(err, &limit) || limit.Minutes() != 10 {
			t.Errorf("fourth code: %v, want %v with a wait of 10 minutes", err, keys.ErrResendLimit)
		}
	})
}

func TestWizardExpires(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard}, func(c *portal.Config) { c.WizardLifetime = 10 * time.Minute })
		w := f.wizardAtSelect()
		f.must("select", f.svc.Select(f.ctx(), w, f.acct, f.auth(keys.LevelSubstantial), keys.TOTP, f.c))
		f.later(10 * time.Minute)
		if err := f.svc.Prepared(f.ctx(), w, f.acct, f.auth(keys.LevelSubstantial), f.c); !errors.Is(err, portal.ErrExpired) {
			t.Errorf("after the lifetime: %v, want %v", err, portal.ErrExpired)
		}
	})
}

func TestSupersededActivation(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard}, nil)
		auth := f.auth(keys.LevelSubstantial)
		first := f.wizardAtSelect()
		f.must("select", f.svc.Select(f.ctx(), first, f.acct, auth, keys.TOTP, f.c))
		f.must("prepared", f.svc.Prepared(f.ctx(), first, f.acct, auth, f.c))
		second := f.wizardAtSelect()
		f.must("select 2", f.svc.Select(f.ctx(), second, f.acct, auth, keys.TOTP, f.c))
		f.must("prepared 2", f.svc.Prepared(f.ctx(), second, f.acct, auth, f.c))
		if err := f.svc.Activate(f.ctx(), first, f.acct, auth, f.appCode(first, f.w.Clock.Now()), f.c); !errors.Is(err, portal.ErrSuperseded) {
			t.Errorf("the older activation: %v, want %v", err, portal.ErrSuperseded)
		}
		if first.Step() != portal.StepSelect || len(f.keys()) != 1 {
			t.Errorf("older wizard at %s, %d keys", first.Step(), len(f.keys()))
		}
		f.must("activate 2", f.svc.Activate(f.ctx(), second, f.acct, auth, f.appCode(second, f.w.Clock.Now()), f.c))
	})
}

func TestForgedAndClosedKinds(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard}, nil)
		var offered []string
		for _, o := range f.svc.Offered() {
			offered = append(offered, o.Kind)
		}
		if strings.Join(offered, ",") != "emailcode,totp" {
			t.Errorf("offered %v, want emailcode and totp (never a token card or the password)", offered)
		}
		w := f.wizardAtSelect()
		for _, kind := range []string{keys.TokenCard, keys.Password, "carrier-pigeon", ""} {
			if err := f.svc.Select(f.ctx(), w, f.acct, f.auth(keys.LevelSubstantial), kind, f.c); !errors.Is(err, portal.ErrNotOffered) {
				t.Errorf("select %q: %v, want %v", kind, err, portal.ErrNotOffered)
			}
		}
		if w.Step() != portal.StepSelect || len(f.keys()) != 1 {
			t.Errorf("after forged kinds: at %s, %d keys", w.Step(), len(f.keys()))
		}
		es := f.events(audit.PortalForged)
		if len(es) != 4 || es[0].Detail["field"] != "kind" || es[0].Detail["value"] != keys.TokenCard {
			t.Errorf("forged events %+v", es)
		}
	})
}

// closedPolicy closes the activation of one kind.
type closedPolicy struct {
	portal.AllOpen
	closed string
}

func (p closedPolicy) ActivationOpen(kind string, _ time.Time) bool { return kind != p.closed }

func TestClosedKindIsNotOffered(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard}, nil)
		f.svc = portaltest.NewWithPolicy(t, f.w, nil, closedPolicy{closed: keys.TOTP})
		if o := f.svc.Offered(); len(o) != 1 || o[0].Kind != keys.EmailCode {
			t.Errorf("offered %+v, want only emailcode", o)
		}
		w := f.wizardAtSelect()
		if err := f.svc.Select(f.ctx(), w, f.acct, f.auth(keys.LevelSubstantial), keys.TOTP, f.c); !errors.Is(err, portal.ErrNotOffered) {
			t.Errorf("select a closed kind: %v", err)
		}
		info := f.svc.Info()
		for _, ki := range info {
			if open := ki.Kind == keys.EmailCode; ki.ActivationOpen != open {
				t.Errorf("info %+v: activation open %v, want %v", ki, ki.ActivationOpen, open)
			}
		}
	})
}
