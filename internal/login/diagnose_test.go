package login_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/phaseout"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// logonOutcome runs a whole logon of the fixture's citizen with kind at min — the right
// password, the right code — and names what stopped it ("" when it went through), the way the
// logon's answers say it.
func (f *fixture) logonOutcome(kind string, min keys.Level) login.Obstacle {
	f.t.Helper()
	c := login.Client{IP: "192.0.2.7"}
	tx := f.svc.Start(min, "/")
	if err := f.svc.Choose(tx, kind); err != nil {
		// Not offered (below the level), or switched off by a phase-out (which Choose answers
		// with the SPEC §3 "you do not have this key" message).
		if errors.Is(err, login.ErrUnknownKind) || isKey(err, "login.error.no_key") {
			return "not_chosen"
		}
		f.t.Fatalf("choose %s: %v", kind, err)
	}
	err := f.svc.SubmitPassword(f.ctx, tx, "jan", pw, c)
	switch {
	case err == nil:
	case errors.Is(err, attempts.ErrThrottled):
		return login.ObstaclePasswordThrottled
	case errors.Is(err, login.ErrBadCredentials):
		return login.ObstacleNoPassword // the right password was typed: there is none
	case isKey(err, "login.error.no_key"):
		return login.ObstacleNoKey
	case isKey(err, "login.error.key_locked"):
		return login.ObstacleKeyLocked
	default:
		f.t.Fatalf("password for %s: %v", kind, err)
	}
	if tx.Step == login.StepDone {
		return ""
	}
	err = f.svc.SubmitCode(f.ctx, tx, f.answer(tx), c)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, attempts.ErrThrottled):
		return login.ObstacleCodeThrottled
	case isKey(err, "login.error.key_locked"):
		return login.ObstacleKeyLocked
	}
	f.t.Fatalf("code for %s: %v", kind, err)
	return ""
}

func isKey(err error, key string) bool {
	var le *i18n.LocalizedError
	return errors.As(err, &le) && le.Key == key
}

// TestDiagnoseFollowsTheLogon: over one citizen whose state changes step by step — a kind
// below the level, wrong passwords, wrong codes, a locked key, a deactivated key, a kind
// switched off, no password — Diagnose and a real logon are both asked each time, and
// Diagnose's first finding is always what stopped the logon (none when it went through).
// Whenever the logon's outcome changes, so does the explanation.
func TestDiagnoseFollowsTheLogon(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		var mu sync.Mutex
		off := map[string]bool{}
		phases := login.PhaseFunc(func(kind string, _ time.Time) phaseout.Phase {
			mu.Lock()
			defer mu.Unlock()
			if off[kind] {
				return phaseout.Disabled
			}
			return phaseout.Normal
		})
		f := newFixtureWith(t, db, logintest.Options{Deps: func(d *login.Deps) { d.Phases = phases }})
		lim := attempts.New(f.st, attempts.DefaultPolicy(), f.clock.Now)
		fail := func(scope attempts.Scope, n int) {
			t.Helper()
			for range n {
				if _, err := lim.Reserve(f.ctx, scope); err != nil {
					t.Fatal(err)
				}
			}
		}
		steps := []struct {
			name  string
			setup func()
			kind  string
			level keys.Level
			want  login.Obstacle // "" : the logon goes through
		}{
			{"all well", func() {}, keys.TokenCard, keys.LevelSubstantial, ""},
			{"password below substantial", func() {}, keys.Password, keys.LevelSubstantial, login.ObstacleBelowLevel},
			{"password at low", func() {}, keys.Password, keys.LevelLow, ""},
			{"five wrong passwords", func() { fail(f.svc.PasswordScope("JAN"), 5) }, keys.TokenCard, keys.LevelSubstantial,
				login.ObstaclePasswordThrottled},
			{"the password throttle over", func() { f.clock.Advance(time.Minute) }, keys.TokenCard, keys.LevelSubstantial, ""},
			{"five wrong card codes", func() { fail(attempts.FactorScope(f.key(keys.TokenCard).ID), 5) }, keys.TokenCard,
				keys.LevelSubstantial, login.ObstacleCodeThrottled},
			{"another key meanwhile", func() {}, keys.TOTP, keys.LevelSubstantial, ""},
			{"the code throttle over", func() { f.clock.Advance(time.Minute) }, keys.TokenCard, keys.LevelSubstantial, ""},
			{"the card locked", func() {
				fail(attempts.FactorScope(f.key(keys.TokenCard).ID), 3)
				if _, err := f.st.TransitionKey(f.ctx, f.key(keys.TokenCard).ID, store.KeyActive, store.KeyLocked, "lockout", f.clock.Now()); err != nil {
					t.Fatal(err)
				}
			}, keys.TokenCard, keys.LevelSubstantial, login.ObstacleKeyLocked},
			{"the e-mail key deactivated", func() {
				if err := f.st.SetKeyStatus(f.ctx, f.key(keys.EmailCode).ID, store.KeyDeactivated, keys.CauseCitizen, f.clock.Now()); err != nil {
					t.Fatal(err)
				}
			}, keys.EmailCode, keys.LevelSubstantial, login.ObstacleNoKey},
			{"the app switched off", func() { mu.Lock(); off[keys.TOTP] = true; mu.Unlock() }, keys.TOTP, keys.LevelSubstantial,
				login.ObstacleNotOffered},
			{"the app back on", func() { mu.Lock(); off[keys.TOTP] = false; mu.Unlock() }, keys.TOTP, keys.LevelSubstantial, ""},
			{"no password any more", func() {
				if err := f.st.UpdatePasswordHash(f.ctx, f.acct.ID, "", f.clock.Now()); err != nil {
					t.Fatal(err)
				}
			}, keys.TOTP, keys.LevelSubstantial, login.ObstacleNoPassword},
		}
		var last login.Obstacle = "start"
		for _, s := range steps {
			s.setup()
			f.clock.Advance(31 * time.Second) // a fresh app code each time
			d, err := f.svc.Diagnose(f.ctx, f.acct.ID, s.kind, s.level)
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			var explained login.Obstacle
			if d.Blocked() {
				explained = d.Findings[0].Obstacle
			}
			if explained != s.want {
				t.Errorf("%s: Diagnose says %q (%+v), want %q", s.name, explained, d.Findings, s.want)
			}
			got := f.logonOutcome(s.kind, s.level)
			if got == "not_chosen" {
				// The chooser does not offer the kind: below the level, or switched off.
				if explained != login.ObstacleBelowLevel && explained != login.ObstacleNotOffered {
					t.Errorf("%s: the chooser refused %s, Diagnose says %q", s.name, s.kind, explained)
				}
				got = explained
			}
			if got != explained {
				t.Errorf("%s: the logon was stopped by %q, Diagnose says %q", s.name, got, explained)
			}
			if (got != last) != (explained != last) {
				t.Errorf("%s: the logon's outcome and the explanation did not change together", s.name)
			}
			last = got
		}
	})
}

// TestDiagnoseSeesEveryObstacle: behind the first obstacle Diagnose lists the others the
// helpdesk must fix too (a throttled password and a locked key), with their facts.
func TestDiagnoseSeesEveryObstacle(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		lim := attempts.New(f.st, attempts.DefaultPolicy(), f.clock.Now)
		for range 6 {
			if _, err := lim.Reserve(f.ctx, f.svc.PasswordScope("jan")); err != nil && !errors.Is(err, attempts.ErrThrottled) {
				t.Fatal(err)
			}
		}
		card := f.key(keys.TokenCard)
		if _, err := f.st.TransitionKey(f.ctx, card.ID, store.KeyActive, store.KeyLocked, "lockout", f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		d, err := f.svc.Diagnose(f.ctx, f.acct.ID, keys.TokenCard, keys.LevelSubstantial)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Findings) != 2 || d.Findings[0].Obstacle != login.ObstaclePasswordThrottled || d.Findings[1].Obstacle != login.ObstacleKeyLocked {
			t.Fatalf("findings %+v, want a password throttle, then a locked key", d.Findings)
		}
		if pw := d.Findings[0]; pw.Failures != 5 || !pw.Until.After(f.clock.Now()) {
			t.Errorf("password finding %+v, want 5 failures and an end in the future", pw)
		}
		if d.Findings[1].Key.ID != card.ID {
			t.Errorf("locked key %d, want the card %d", d.Findings[1].Key.ID, card.ID)
		}
	})
}
