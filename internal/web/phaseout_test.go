package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/phaseout"
	"github.com/sleutelbos/sleutelbos/internal/portal/portaltest"
	"github.com/sleutelbos/sleutelbos/internal/signup"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
)

// failingMail is a store whose transactions refuse to enqueue one template's e-mail while
// fail is set: the crash of a migration half-way, after the new key and the old key's
// deactivation were written.
type failingMail struct {
	store.Store
	template string
	fail     *atomic.Bool
}

func (s failingMail) Enqueue(ctx context.Context, m *store.Message) error {
	if s.fail.Load() && m.Template == s.template {
		return errors.New("the database went away")
	}
	return s.Store.Enqueue(ctx, m)
}

func (s failingMail) Tx(ctx context.Context, fn func(store.Store) error) error {
	return s.Store.Tx(ctx, func(tx store.Store) error { return fn(failingMail{tx, s.template, s.fail}) })
}

// phaseoutFixture is the web fixture with the phase-out policies of the store deciding the
// logon and My digital keys; the token card is in its prompt period unless the test changes
// the policy. failMail, when set, makes the portal's transactions fail at the activation
// e-mail.
func phaseoutFixture(t *testing.T, db *sqlstore.DB) (*fixture, *atomic.Bool) {
	t.Helper()
	start := time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC) // in the seed's prompt period
	policy := phaseout.Policy{Kind: keys.TokenCard,
		ActivationClosedFrom: mustInstant(t, "2023-07-01"), MigrationPromptFrom: mustInstant(t, "2023-09-01"),
		DisabledFrom: mustInstant(t, "2024-01-31")}
	if err := db.PutPhaseoutPolicy(t.Context(), policy.ToStore(start)); err != nil {
		t.Fatal(err)
	}
	pols := phaseout.NewPolicies(db, time.Now, 0, nil)
	w := logintest.New(t, db, logintest.Options{
		Citizen: logintest.Citizen{Username: demoUser, Name: demoName, Email: "demo@example.org", Language: "en", Password: demoPassword},
		Start:   start,
		Deps:    func(d *login.Deps) { d.Phases = pols },
	})
	f := &fixture{t: t, db: db, clock: w.Clock, logs: &syncBuffer{}, bundle: w.Bundle, acct: w.Account, codes: w.CardCodes, world: w}
	fail := &atomic.Bool{}
	pw := *w
	pw.Store = failingMail{Store: db, template: "key_activated", fail: fail}
	f.portal = portaltest.NewWithPolicy(t, &pw, nil, phaseout.PortalPolicy{P: pols})
	f.signup = f.newSignup(signupSetup{cfg: signup.DefaultConfig(), perAddress: 1000})
	f.newServer(db, w.Service, w.Kinds, []option{func(_ *Config, d *Deps) { d.Policies = pols }})
	return f, fail
}

func mustInstant(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := phaseout.ParseInstant(s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// toPrompt chooses the token card and checks the pop-up follows.
func (b *browser) toPrompt() *response {
	b.f.t.Helper()
	res := b.choose(keys.TokenCard, "substantial", "/keys")
	if res.status != http.StatusSeeOther || res.location() != "/login/prompt" {
		b.f.t.Fatalf("choosing the token in its prompt period: %d %s", res.status, res.location())
	}
	page := b.get("/login/prompt")
	wantStatus(b.f.t, "the pop-up", page, http.StatusOK)
	return page
}

// tokenLogon answers the password and the card's code of a logon whose pop-up was answered.
func (b *browser) tokenLogon(c citizen) *response {
	b.f.t.Helper()
	res := b.post("/login/password", url.Values{"username": {c.username}, "password": {c.password}})
	if res.location() != "/login/code" {
		b.f.t.Fatalf("password: %d %s\n%.2000s", res.status, res.location(), res.body)
	}
	m := anyPositionRE.FindStringSubmatch(b.get("/login/code").body)
	if m == nil {
		b.f.t.Fatal("no card position on the code step")
	}
	pos, _ := strconv.Atoi(m[1])
	return b.post("/login/code", url.Values{"code": {b.f.codes[pos-1]}})
}

// TestPhaseoutPopup: the pop-up's page, its three ways and a forged answer.
func TestPhaseoutPopup(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f, _ := phaseoutFixture(t, db)
		c := f.newCitizen("tina", "en", keys.TokenCard)
		chooser := f.browser().get("/login?level=substantial").body
		wantContains(t, "chooser", chooser, "Note! You cannot activate a new token anymore. Citizens with an active token can continue to use it in order to log into online services.",
			"Would you like to activate another key?")

		b := f.browser()
		page := b.toPrompt()
		wantContains(t, "pop-up", page.body,
			`<dialog open class="prompt" id="phaseout-prompt" aria-labelledby="prompt-title" aria-describedby="prompt-intro" data-modal>`,
			`<h1 id="prompt-title">The digital key “Security code via token” is being phased out</h1>`,
			"From 31 January 2024, you can no longer use the digital key “Security code via token”",
			`name="choice" value="activate"`, ">Activate a new digital key now<",
			`name="choice" value="other_key"`, ">I want to log in with another digital key<",
			`name="choice" value="close" class="close" aria-label="Close"`, "until 30 January 2024 at the latest")
		if es := f.events(audit.PhaseoutPromptShown); len(es) != 1 || es[0].Detail["kind"] != keys.TokenCard {
			t.Errorf("prompt_shown events: %+v", es)
		}
		b.get("/login/prompt") // showing it again records nothing more
		if n := len(f.events(audit.PhaseoutPromptShown)); n != 1 {
			t.Errorf("%d prompt_shown events after a reload, want 1", n)
		}

		// A forged answer: 400, the pop-up again with the error, nothing changed.
		res := b.post("/login/prompt", url.Values{"choice": {"delete_everything"}})
		wantStatus(t, "forged choice", res, http.StatusBadRequest)
		wantContains(t, "forged choice", res.body, "This choice is not offered.", `<a href="#choice-activate">`)
		if es := f.events(audit.LogonFailure); len(es) != 1 || es[0].Reason != audit.ReasonForged {
			t.Errorf("forged answer audit: %+v", es)
		}
		wantStatus(t, "the pop-up after a forged answer", b.get("/login/prompt"), http.StatusOK)

		// Another key: back to the chooser.
		res = b.post("/login/prompt", url.Values{"choice": {login.ChoiceOtherKey}})
		if res.status != http.StatusSeeOther || res.location() != "/login?level=substantial&return=%2Fkeys" {
			t.Errorf("other key → %d %s", res.status, res.location())
		}
		wantContains(t, "the chooser after another key", b.get(res.location()).body,
			"Choose the digital key you want to log on with, for example “Security code by e-mail” or “Security code via mobile app”.")
		// Close: the logon goes on with the old key, as before.
		b.toPrompt()
		if res := b.post("/login/prompt", url.Values{"choice": {login.ChoiceClose}}); res.location() != "/login/password" {
			t.Fatalf("close → %d %s", res.status, res.location())
		}
		pw := b.get("/login/password").body
		wantContains(t, "password step", pw, "Logging in with security code via token", "Note! You cannot activate a new token anymore.")
		if res := b.tokenLogon(c); res.location() != "/keys" {
			t.Errorf("logon after closing the pop-up → %d %s", res.status, res.location())
		}
		if ks := f.keysOf(c); len(ks) != 1 || ks[0].Status != store.KeyActive {
			t.Errorf("the token after closing the pop-up: %s", statuses(ks))
		}
		choices := f.events(audit.PhaseoutChoice)
		if len(choices) != 2 || choices[0].Detail["choice"] != "other_key" || choices[1].Detail["choice"] != "close" {
			t.Errorf("choice events: %+v", choices)
		}
	})
}

// TestPhaseoutMigration walks the seed: "Activate a new digital key now", the logon with the
// token, straight into step 1, an e-mail key; the token is deactivated in the same transaction
// with both e-mails, and a later logon with the token is told the citizen has no such key.
func TestPhaseoutMigration(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f, _ := phaseoutFixture(t, db)
		c := f.newCitizen("tina", "en", keys.TokenCard)
		b := f.browser()
		b.toPrompt()
		if res := b.post("/login/prompt", url.Values{"choice": {login.ChoiceActivate}}); res.location() != "/login/password" {
			t.Fatalf("activate → %d %s", res.status, res.location())
		}
		if res := b.tokenLogon(c); res.status != http.StatusSeeOther || res.location() != "/keys/activate" {
			t.Fatalf("the migration's logon → %d %s", res.status, res.location())
		}
		page, _ := b.wizard()
		wantContains(t, "step 1", page.body, "Please check your e-mail address.", `value="tina@example.org"`)
		page, _ = b.next(nil)
		if strings.Contains(page.body, `value="tokencard"`) {
			t.Error("step 2 offers the token")
		}
		b.next(url.Values{"kind": {keys.EmailCode}})
		_, hidden := b.wizard()
		res := b.wizardPost(hidden, "next", url.Values{"code": {f.mailedCode("registration_code", c.email)}})
		if res.location() != "/keys/activate" {
			t.Fatalf("right registration code → %d %s", res.status, res.location())
		}
		done, _ := b.wizard()
		wantContains(t, "confirmation", done.body, "You have successfully created a new digital key.")
		wantContains(t, "info", b.get("/info").body,
			"This digital key is being phased out: new keys cannot be activated from 1 July 2023, and from 31 January 2024 it can no longer be used to log on.")
		var token, email store.Key
		for _, k := range f.keysOf(c) {
			switch k.Kind {
			case keys.TokenCard:
				token = k
			case keys.EmailCode:
				email = k
			}
		}
		if token.Status != store.KeyDeactivated || token.DeactivationCause != keys.CauseMigration || email.Status != store.KeyActive {
			t.Fatalf("after the migration: token %s (%s), e-mail key %s", token.Status, token.DeactivationCause, email.Status)
		}
		if f.mails("key_deactivated", c.email) != 1 || f.mails("key_activated", c.email) != 1 {
			t.Errorf("%d deactivation and %d activation e-mails, want 1 each", f.mails("key_deactivated", c.email), f.mails("key_activated", c.email))
		}
		deact := f.events(audit.KeyDeactivated)
		if len(deact) != 1 || deact[0].Detail["cause"] != keys.CauseMigration || deact[0].Detail["replaced_by"] != keys.EmailCode ||
			deact[0].Detail["kind"] != keys.TokenCard {
			t.Errorf("key.deactivated events: %+v", deact)
		}

		// The token no longer logs on: the SPEC §3 message.
		b2 := f.browser()
		b2.toPrompt()
		b2.post("/login/prompt", url.Values{"choice": {login.ChoiceClose}})
		res = b2.post("/login/password", url.Values{"username": {c.username}, "password": {c.password}})
		wantContains(t, "logon with the deactivated token", res.body,
			"You do not have this digital key (security code via token) or the key may have expired.")
	})
}

// TestPhaseoutMigrationAtomic: a migration whose transaction fails half-way (the activation
// e-mail cannot be written after the key was created and the token deactivated) changes
// nothing; the citizen keeps the token and starts again.
func TestPhaseoutMigrationAtomic(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f, fail := phaseoutFixture(t, db)
		c := f.newCitizen("tina", "en", keys.TokenCard)
		migrate := func(b *browser) *response {
			b.toPrompt()
			b.post("/login/prompt", url.Values{"choice": {login.ChoiceActivate}})
			if res := b.tokenLogon(c); res.location() != "/keys/activate" {
				t.Fatalf("the migration's logon → %d %s", res.status, res.location())
			}
			b.next(nil)
			b.next(url.Values{"kind": {keys.EmailCode}})
			_, hidden := b.wizard()
			return b.wizardPost(hidden, "next", url.Values{"code": {f.mailedCode("registration_code", c.email)}})
		}
		fail.Store(true)
		res := migrate(f.browser())
		wantStatus(t, "the migration that fails half-way", res, http.StatusInternalServerError)
		if ks := f.keysOf(c); len(ks) != 1 || ks[0].Kind != keys.TokenCard || ks[0].Status != store.KeyActive {
			t.Fatalf("after a failed migration the keys are %s, want the active token only", statuses(ks))
		}
		if f.mails("key_deactivated", c.email) != 0 || f.mails("key_activated", c.email) != 0 ||
			len(f.events(audit.KeyDeactivated)) != 0 || len(f.events(audit.KeyActivated)) != 0 {
			t.Error("a failed migration left e-mails or audit events behind")
		}
		// Half-way is also a browser closed after the registration code was sent: the token
		// still logs on, and the citizen starts the migration again.
		fail.Store(false)
		f.clock.Advance(time.Minute)
		if res := migrate(f.browser()); res.location() != "/keys/activate" {
			t.Fatalf("the migration started again → %d %s", res.status, res.location())
		}
		var active []string
		for _, k := range f.keysOf(c) {
			if k.Status == store.KeyActive {
				active = append(active, k.Kind)
			}
		}
		if strings.Join(active, ",") != "emailcode" {
			t.Errorf("active keys after the second migration: %v", active)
		}
	})
}

// TestPhaseoutDisabled: from disabled_from the token is not offered, its keys read as expired,
// and a logon started before the switch-off is refused with the SPEC §3 message.
func TestPhaseoutDisabled(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		f, _ := phaseoutFixture(t, db)
		c := f.newCitizen("tina", "en", keys.TokenCard)
		f.clock.Set(mustInstant(t, "2024-01-31").Add(-5 * time.Minute))
		b := f.browser()
		b.toPrompt()
		b.post("/login/prompt", url.Values{"choice": {login.ChoiceClose}})
		f.clock.Set(mustInstant(t, "2024-01-31"))
		res := b.post("/login/password", url.Values{"username": {c.username}, "password": {c.password}})
		wantContains(t, "password step after the switch-off", res.body,
			"You do not have this digital key (security code via token) or the key may have expired.")
		chooser := f.browser().get("/login?level=substantial").body
		if strings.Contains(chooser, `value="tokencard"`) {
			t.Error("the chooser still offers the token after disabled_from")
		}
		res = f.browser().choose(keys.TokenCard, "substantial", "/")
		wantStatus(t, "choosing the disabled token", res, http.StatusOK)
		wantContains(t, "choosing the disabled token", res.body,
			"You do not have this digital key (security code via token) or the key may have expired.", `<a href="/keys">`)
		// Nothing is deleted; My digital keys shows the key expired.
		if ks := f.keysOf(c); len(ks) != 1 || ks[0].Status != store.KeyActive {
			t.Errorf("keys after the switch-off: %s (the row is kept; the expiry is computed)", statuses(ks))
		}
		viewer := f.browser()
		viewer.logonAs(c, keys.Password, "/keys")
		wantContains(t, "key list", viewer.get("/keys").body, `data-kind="tokencard" data-status="expired"`)
		wantContains(t, "info", viewer.get("/info").body, "This digital key has been phased out since 31 January 2024")
	})
}

// statuses shows keys as kind:status (never their data).
func statuses(ks []store.Key) string {
	var parts []string
	for _, k := range ks {
		parts = append(parts, k.Kind+":"+string(k.Status))
	}
	return strings.Join(parts, " ")
}
