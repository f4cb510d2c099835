package login_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// isKeyLocked reports whether err is the key-locked message.
func isKeyLocked(err error) bool {
	var le *i18n.LocalizedError
	return errors.As(err, &le) && le.Key == "login.error.key_locked"
}

// countFailures counts n wrong codes on key the way earlier logons did, waiting out every
// throttle.
func (f *fixture) countFailures(key store.Key, n int) {
	f.t.Helper()
	lim := attempts.New(f.st, attempts.DefaultPolicy(), f.clock.Now)
	for range n {
		if _, err := lim.Reserve(f.ctx, attempts.FactorScope(key.ID)); err != nil {
			f.t.Fatal(err)
		}
		f.clock.Advance(time.Hour)
	}
}

// TestLockedKeyIsToldEverywhere: after the 100th wrong code locks a key, every further answer
// gets the key-locked message — on the transaction that locked it (a resubmitted form), on a copy
// of it still at the code step (a second tab), asking for a new code, and in new logons with
// that key, also when a code is sent there anyway — never "this step is not available".
func TestLockedKeyIsToldEverywhere(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		for _, kind := range []string{keys.TokenCard, keys.EmailCode} {
			t.Run(kind, func(t *testing.T) {
				f := newFixture(t, db, nil)
				f.countFailures(f.key(kind), attempts.KeyLockoutFailures-1)
				tx := f.atCode(kind)
				ans := f.answer(tx)
				secondTab := *tx
				if err := f.svc.SubmitCode(f.ctx, tx, wrong(ans), login.Client{IP: "192.0.2.1"}); !isKeyLocked(err) {
					t.Fatalf("wrong code %d: %v, want key_locked", attempts.KeyLockoutFailures, err)
				}
				if k := f.key(kind); k.Status != store.KeyLocked {
					t.Fatalf("key %s after %d wrong codes, want locked", k.Status, attempts.KeyLockoutFailures)
				}
				for _, answer := range []string{wrong(ans), ans, "", "12"} {
					if err := f.svc.SubmitCode(f.ctx, tx, answer, login.Client{IP: "192.0.2.1"}); !isKeyLocked(err) {
						t.Errorf("answer %q after the lockout: %v, want key_locked", answer, err)
					}
					c := secondTab
					if err := f.svc.SubmitCode(f.ctx, &c, answer, login.Client{IP: "192.0.2.1"}); !isKeyLocked(err) {
						t.Errorf("answer %q in a second tab after the lockout: %v, want key_locked", answer, err)
					}
				}
				if err := f.svc.Resend(f.ctx, tx, login.Client{IP: "192.0.2.1"}); !isKeyLocked(err) {
					t.Errorf("new code after the lockout: %v, want key_locked", err)
				}
				f.clock.Advance(2 * time.Hour)
				next := f.svc.Start(keys.LevelSubstantial, "/")
				f.choose(next, kind)
				if err := f.svc.SubmitPassword(f.ctx, next, "jan", pw, login.Client{IP: "192.0.2.1"}); !isKeyLocked(err) {
					t.Fatalf("new logon with the locked key: %v, want key_locked", err)
				}
				if err := f.svc.SubmitCode(f.ctx, next, ans, login.Client{IP: "192.0.2.1"}); !isKeyLocked(err) {
					t.Errorf("a code sent in a new logon with the locked key: %v, want key_locked", err)
				}
				// Choosing another key forgets the locked one.
				f.choose(next, keys.TOTP)
				if err := f.svc.SubmitPassword(f.ctx, next, "jan", pw, login.Client{IP: "192.0.2.1"}); err != nil || next.Step != login.StepCode {
					t.Fatalf("logon with another key: %v at %s", err, next.Step)
				}
			})
		}
	})
}

// TestLockoutCountReachedFirst: when the key's counter already holds the lockout count but the
// key is not locked yet (the request that reached it is still on its way to locking it), an
// answer refused by the throttle is told the key is locked — even the right one — and the key
// is locked.
func TestLockoutCountReachedFirst(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		key := f.key(keys.TokenCard)
		f.countFailures(key, attempts.KeyLockoutFailures-1)
		lim := attempts.New(f.st, attempts.DefaultPolicy(), f.clock.Now)
		if a, err := lim.Reserve(f.ctx, attempts.FactorScope(key.ID)); err != nil || a.Failures != attempts.KeyLockoutFailures {
			t.Fatalf("reservation %d: %+v, %v", attempts.KeyLockoutFailures, a, err)
		}
		tx := f.atCode(keys.TokenCard)
		if err := f.svc.SubmitCode(f.ctx, tx, f.answer(tx), login.Client{IP: "192.0.2.1"}); !isKeyLocked(err) {
			t.Fatalf("answer after the lockout count: %v, want key_locked", err)
		}
		if k := f.key(keys.TokenCard); k.Status != store.KeyLocked || k.DeactivationCause != "lockout" {
			t.Errorf("key %s (cause %q), want locked by lockout", k.Status, k.DeactivationCause)
		}
	})
}
