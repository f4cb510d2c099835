package portal_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/portal"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

func TestEmailChangeInTheWizard(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard}, nil)
		auth := f.auth(keys.LevelSubstantial)
		ctx := f.ctx()
		w, err := f.svc.StartWizard(f.acct)
		f.must("start", err)
		for _, bad := range []string{"", "not an address", "anna@localhost", "Anna <anna@new.example.org>"} {
			if err := f.svc.ChangeEmail(ctx, w, f.acct, auth, bad, f.c); !errors.Is(err, mail.ErrInvalidAddress) {
				t.Errorf("address %q: %v, want %v", bad, err, mail.ErrInvalidAddress)
			}
		}
		if err := f.svc.ChangeEmail(ctx, w, f.acct, auth, " ANNA@example.org ", f.c); !errors.Is(err, portal.ErrSameAddress) {
			t.Errorf("the current address: %v", err)
		}
		if w.Step() != portal.StepEmail || len(f.mails(mail.TemplateEmailChange, "anna@new.example.org")) != 0 {
			t.Fatal("a refused address changed something")
		}
		f.must("change", f.svc.ChangeEmail(ctx, w, f.acct, auth, " anna@new.example.org ", f.c))
		if w.Step() != portal.StepEmailCode || w.PendingEmail().Address() != "anna@new.example.org" {
			t.Fatalf("at %s, pending %v", w.Step(), w.PendingEmail())
		}
		code := f.code(mail.TemplateEmailChange, "anna@new.example.org")
		if raw, _ := json.Marshal(w); strings.Contains(string(raw), code) {
			t.Error("the wizard holds the code")
		}
		// Format errors cost nothing; a wrong code is counted.
		scope := string(attempts.EmailChangeScope(f.acct.ID))
		if err := f.svc.ConfirmNewEmail(ctx, w, f.acct, auth, "12ab56", f.c); !errors.Is(err, keys.ErrCodeFormat) {
			t.Errorf("letters: %v", err)
		}
		wrong := strings.Map(func(r rune) rune { return '0' + (r-'0'+3)%10 }, code)
		if err := f.svc.ConfirmNewEmail(ctx, w, f.acct, auth, wrong, f.c); !errors.Is(err, keys.ErrWrongCode) {
			t.Errorf("wrong code: %v", err)
		}
		if n := f.attempt(scope); n != 1 {
			t.Errorf("attempts %d, want 1", n)
		}
		if f.account().Email != "anna@example.org" {
			t.Fatal("the address changed before the code was entered")
		}
		f.must("confirm", f.svc.ConfirmNewEmail(ctx, w, f.acct, auth, code, f.c))
		if w.Step() != portal.StepEmail || !w.EmailChanged() {
			t.Errorf("after the code: at %s, changed %v", w.Step(), w.EmailChanged())
		}
		if got := f.account().Email; got != "anna@new.example.org" {
			t.Errorf("address %q", got)
		}
		old := f.mails(mail.TemplateEmailChanged, "anna@example.org")
		if len(old) != 1 || !strings.Contains(old[0].TextBody, "a•••@new.example.org") || strings.Contains(old[0].TextBody+old[0].HTMLBody, "anna@new") {
			t.Errorf("e-mail to the old address %+v", old)
		}
		if es := f.events(audit.EmailChanged); len(es) != 1 || es[0].Detail["new"] != "a•••a(4)@new.example.org" || es[0].Detail["old"] != "a•••a(4)@example.org" {
			t.Errorf("events %+v", es)
		}
		// The replayed code changes nothing more.
		if err := f.svc.ConfirmNewEmail(ctx, w, f.acct, auth, code, f.c); !errors.Is(err, portal.ErrOutOfOrder) {
			t.Errorf("replayed code: %v", err)
		}
		// From now on e-mails go to the new address: the registration code does.
		acct := f.account()
		f.must("confirm address", f.svc.ConfirmEmail(w, acct))
		f.must("select", f.svc.Select(ctx, w, acct, auth, keys.EmailCode, f.c))
		if len(f.mails(mail.TemplateRegistrationCode, "anna@new.example.org")) != 1 {
			t.Error("the registration code did not go to the new address")
		}
	})
}

// TestEmailChangeRevealsNoOtherAccount: an address another account uses is answered exactly
// like any other.
func TestEmailChangeRevealsNoOtherAccount(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard}, nil)
		logintest.New(t, db, logintest.Options{Citizen: logintest.Citizen{Username: "bert", Name: "Bert", Email: "bert@example.org",
			Language: "nl", Password: "another good password"}})
		auth := f.auth(keys.LevelSubstantial)
		taken, err := f.svc.RequestEmailChange(f.ctx(), f.acct, auth, "bert@example.org", f.c)
		f.must("an address another account uses", err)
		free, err := f.svc.RequestEmailChange(f.ctx(), f.acct, auth, "free@example.org", f.c)
		f.must("a free address", err)
		if taken.Address() != "bert@example.org" || free.Address() != "free@example.org" {
			t.Errorf("changes %v %v", taken, free)
		}
		if len(f.mails(mail.TemplateEmailChange, "bert@example.org")) != 1 || len(f.mails(mail.TemplateEmailChange, "free@example.org")) != 1 {
			t.Error("not both addresses got a code")
		}
	})
}

// TestEmailChangeCodeLimitSaysHowLong: the codes for a new address share the kinds' limit (3 per
// 15 minutes) and, like the logon and the registration code, say how long to wait.
func TestEmailChangeCodeLimitSaysHowLong(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard}, nil)
		auth := f.auth(keys.LevelSubstantial)
		for i := range 3 { // codes at 0, 1 and 2 minutes
			_, err := f.svc.RequestEmailChange(f.ctx(), f.acct, auth, fmt.Sprintf("new%d@example.org", i), f.c)
			f.must("request", err)
			f.later(time.Minute)
		}
		_, err := f.svc.RequestEmailChange(f.ctx(), f.acct, auth, "new3@example.org", f.c)
		var limit *keys.ResendLimitError
		if !errors.As(err, &limit) || !errors.Is(err, keys.ErrResendLimit) || limit.Minutes() != 12 {
			t.Fatalf("fourth code at 3 minutes: %v, want a wait of 12 minutes", err)
		}
	})
}

func TestSetLanguage(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, []string{keys.TokenCard, keys.EmailCode}, nil)
		if err := f.svc.SetLanguage(f.ctx(), f.acct, "es"); err == nil {
			t.Error("unsupported language accepted")
		}
		f.must("set", f.svc.SetLanguage(f.ctx(), f.acct, "de"))
		if got := f.account().Language; got != "de" {
			t.Fatalf("language %q", got)
		}
		// E-mails use it from now on.
		f.must("deactivate", f.svc.Deactivate(f.ctx(), f.account(), f.auth(keys.LevelSubstantial), f.keyOf(keys.TokenCard).ID, f.c))
		if ms := f.mails(mail.TemplateKeyDeactivated, "anna@example.org"); len(ms) != 1 || ms[0].Language != "de" {
			t.Errorf("e-mail after the language change: %+v", ms)
		}
	})
}
