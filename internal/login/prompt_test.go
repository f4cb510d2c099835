package login_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/phaseout"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// phased is a settable phase per kind.
type phased struct {
	mu sync.Mutex
	m  map[string]phaseout.Phase
}

func (p *phased) Phase(kind string, _ time.Time) phaseout.Phase {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[kind]
}

func (p *phased) set(kind string, ph phaseout.Phase) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m[kind] = ph
}

func promptFixture(t *testing.T, db *sqlstore.DB) (*fixture, *phased) {
	t.Helper()
	ph := &phased{m: map[string]phaseout.Phase{keys.TokenCard: phaseout.Prompt}}
	return newFixtureWith(t, db, logintest.Options{Deps: func(d *login.Deps) { d.Phases = ph }}), ph
}

// events returns the audit events of type typ.
func events(t *testing.T, db *sqlstore.DB, typ string) []store.AuditEvent {
	t.Helper()
	all, err := db.ListAudit(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.AuditEvent
	for _, e := range all {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func TestPromptChoices(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f, _ := promptFixture(t, db)
		c := login.Client{IP: "192.0.2.7"}
		tests := []struct {
			choice      string
			wantStep    login.Step
			wantMigrate bool
		}{
			{login.ChoiceActivate, login.StepPassword, true},
			{login.ChoiceOtherKey, login.StepChoose, false},
			{login.ChoiceClose, login.StepPassword, false},
		}
		for _, tc := range tests {
			tx := f.svc.Start(keys.LevelSubstantial, "/")
			f.choose(tx, keys.TokenCard)
			if tx.Step != login.StepPrompt {
				t.Fatalf("choosing a kind in its prompt period: step %s, want the pop-up", tx.Step)
			}
			f.svc.PromptShown(f.ctx, tx, c)
			if err := f.svc.Answer(f.ctx, tx, tc.choice, c); err != nil {
				t.Fatalf("Answer(%s): %v", tc.choice, err)
			}
			if tx.Step != tc.wantStep || tx.Migrate != tc.wantMigrate {
				t.Errorf("Answer(%s): step %s, migrate %v; want %s, %v", tc.choice, tx.Step, tx.Migrate, tc.wantStep, tc.wantMigrate)
			}
			// The pop-up is answered once: a second answer (the form sent again) is out of order.
			if err := f.svc.Answer(f.ctx, tx, tc.choice, c); !errors.Is(err, login.ErrOutOfOrder) {
				t.Errorf("Answer(%s) twice: %v, want ErrOutOfOrder", tc.choice, err)
			}
		}
		shown := events(t, db, audit.PhaseoutPromptShown)
		choices := events(t, db, audit.PhaseoutChoice)
		if len(shown) != 3 || len(choices) != 3 {
			t.Fatalf("%d prompt_shown and %d choice events, want 3 each", len(shown), len(choices))
		}
		for i, e := range choices {
			if e.Detail["kind"] != keys.TokenCard || e.Detail["choice"] != tests[i].choice || e.IP != c.IP {
				t.Errorf("choice event %d = %+v, want kind tokencard, choice %s", i, e, tests[i].choice)
			}
		}
		if shown[0].Detail["kind"] != keys.TokenCard {
			t.Errorf("prompt_shown detail = %v", shown[0].Detail)
		}
	})
}

// TestPromptActivateLogsOnForMigration: "Activate a new digital key now" is a logon with the old
// key (password and code) whose result names that key and asks for the migration.
func TestPromptActivateLogsOnForMigration(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f, _ := promptFixture(t, db)
		c := login.Client{IP: "192.0.2.7"}
		tx := f.svc.Start(keys.LevelSubstantial, "/")
		f.choose(tx, keys.TokenCard)
		if err := f.svc.Answer(f.ctx, tx, login.ChoiceActivate, c); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.SubmitPassword(f.ctx, tx, "jan", pw, c); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.SubmitCode(f.ctx, tx, f.answer(tx), c); err != nil {
			t.Fatal(err)
		}
		res, ok := f.svc.Result(tx)
		card := f.key(keys.TokenCard)
		if !ok || !res.Migrate || res.KeyID != card.ID || res.Kind != keys.TokenCard || res.Level != keys.LevelSubstantial {
			t.Errorf("Result = %+v, %v; want a substantial token logon for migration naming key %d", res, ok, card.ID)
		}
		// Closing the pop-up is an ordinary logon.
		tx = f.svc.Start(keys.LevelSubstantial, "/")
		f.choose(tx, keys.TokenCard)
		if err := f.svc.Answer(f.ctx, tx, login.ChoiceClose, c); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.SubmitPassword(f.ctx, tx, "jan", pw, c); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.SubmitCode(f.ctx, tx, f.answer(tx), c); err != nil {
			t.Fatal(err)
		}
		if res, _ := f.svc.Result(tx); res.Migrate || res.KeyID != card.ID {
			t.Errorf("Result after closing the pop-up = %+v, want no migration", res)
		}
	})
}

func TestPromptForgedChoice(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f, _ := promptFixture(t, db)
		tx := f.svc.Start(keys.LevelSubstantial, "/")
		f.choose(tx, keys.TokenCard)
		before := *tx
		for _, forged := range []string{"", "activate ", "ACTIVATE", "delete_all", "close\x00"} {
			if err := f.svc.Answer(f.ctx, tx, forged, login.Client{IP: "192.0.2.9"}); !errors.Is(err, login.ErrUnknownChoice) {
				t.Errorf("Answer(%q) = %v, want ErrUnknownChoice", forged, err)
			}
		}
		if *tx != before {
			t.Errorf("a forged answer changed the transaction: %+v, was %+v", *tx, before)
		}
		if n := len(events(t, db, audit.PhaseoutChoice)); n != 0 {
			t.Errorf("%d phaseout.choice events for forged answers, want none", n)
		}
		failures := events(t, db, audit.LogonFailure)
		if len(failures) != 5 || failures[0].Reason != audit.ReasonForged || failures[0].Detail["field"] != "choice" {
			t.Errorf("logon failures = %+v, want 5 forged", failures)
		}
	})
}

// TestPromptThenDisabled: a kind switched off while its pop-up is open is refused with the
// "you do not have this key" message; outside the prompt period the kind has no pop-up.
func TestPromptThenDisabled(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f, ph := promptFixture(t, db)
		c := login.Client{IP: "192.0.2.7"}
		tx := f.svc.Start(keys.LevelSubstantial, "/")
		f.choose(tx, keys.TokenCard)
		ph.set(keys.TokenCard, phaseout.Disabled)
		err := f.svc.Answer(f.ctx, tx, login.ChoiceClose, c)
		var le *i18n.LocalizedError
		if !errors.As(err, &le) || le.Key != "login.error.no_key" || tx.Step != login.StepChoose {
			t.Errorf("closing the pop-up of a kind switched off meanwhile: %v at %s", err, tx.Step)
		}
		if err := f.svc.Choose(tx, keys.TokenCard); !errors.As(err, &le) || le.Key != "login.error.no_key" {
			t.Errorf("choosing a disabled kind: %v, want the no-key message", err)
		}
		if closed := f.svc.ActivationClosed(tx); len(closed) != 0 {
			t.Errorf("ActivationClosed lists %v, but a disabled kind is not on the chooser at all", closed)
		}
		for _, p := range []phaseout.Phase{phaseout.Normal, phaseout.ActivationClosed} {
			ph.set(keys.TokenCard, p)
			tx = f.svc.Start(keys.LevelSubstantial, "/")
			f.choose(tx, keys.TokenCard)
			if tx.Step != login.StepPassword {
				t.Errorf("phase %s: choosing goes to %s, want the password step", p, tx.Step)
			}
		}
		if closed := f.svc.ActivationClosed(tx); len(closed) != 1 || closed[0] != keys.TokenCard {
			t.Errorf("ActivationClosed = %v, want [tokencard]", closed)
		}
	})
}
