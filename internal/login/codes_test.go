package login_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/keys/totp"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// counters returns the failures counted for tx's key and for the code requests of ip.
func (f *fixture) counters(tx *login.Transaction, ip string) (factor, perIP int) {
	f.t.Helper()
	a, err := f.st.GetAttempt(f.ctx, string(attempts.FactorScope(tx.KeyID)))
	if err != nil {
		f.t.Fatal(err)
	}
	b, err := f.st.GetAttempt(f.ctx, string(attempts.IPScope("code", ip)))
	if err != nil {
		f.t.Fatal(err)
	}
	return a.Failures, b.Failures
}

// auditReasons counts the logon.failure events by reason.
func (f *fixture) auditReasons() map[string]int {
	f.t.Helper()
	evs, err := f.st.ListAudit(f.ctx, 0, 10000)
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range evs {
		if e.Type == audit.LogonFailure {
			out[e.Reason]++
		}
	}
	return out
}

// TestFormatErrorsAreNoAttempts: an empty answer, letters or a wrong length get a format message
// and count against nothing — no throttle, no lockout, no try of an e-mailed code, no audit
// failure — however often they come; inner spaces and dashes are simply ignored.
func TestFormatErrorsAreNoAttempts(t *testing.T) {
	sqltest.EachBackend(t, func(t *testing.T, b sqltest.Backend) {
		for _, kind := range []string{keys.TokenCard, keys.EmailCode, keys.TOTP} {
			t.Run(kind, func(t *testing.T) {
				f := newFixture(t, b.Open(t), func(c *login.Config) { c.LockAfter = 10 })
				tx := f.atCode(kind)
				malformed := []string{"", "   ", "12345", "1234567", "abcdef", "12 34 5x", "１２３４５６", "123.456", "- -"}
				for i := range 50 {
					ans := malformed[i%len(malformed)]
					err := f.svc.SubmitCode(f.ctx, tx, ans, login.Client{IP: "192.0.2.1"})
					want := keys.ErrCodeFormat
					if i%len(malformed) == 0 || i%len(malformed) == 1 || i%len(malformed) == 8 {
						want = keys.ErrCodeEmpty
					}
					if !errors.Is(err, want) || tx.Step != login.StepCode {
						t.Fatalf("answer %d %q: %v at step %s, want %v at the code step", i+1, ans, err, tx.Step, want)
					}
				}
				if factor, perIP := f.counters(tx, "192.0.2.1"); factor != 0 || perIP != 0 {
					t.Errorf("50 format errors counted %d failures on the key and %d on the address, want 0 and 0", factor, perIP)
				}
				if got := f.auditReasons(); len(got) != 0 {
					t.Errorf("format errors audited as logon failures: %v", got)
				}
				if kind == keys.EmailCode {
					c, err := f.st.LatestCode(f.ctx, f.acct.ID, store.CodeLogon)
					if err != nil {
						t.Fatal(err)
					}
					if c.Attempts != 0 {
						t.Errorf("format errors used %d tries of the e-mailed code, want 0", c.Attempts)
					}
				}
				if k := f.key(kind); k.Status != store.KeyActive {
					t.Fatalf("key %s after format errors, want active", k.Status)
				}
				ans := f.answer(tx)
				if err := f.svc.SubmitCode(f.ctx, tx, ans[:3]+" "+ans[3:], login.Client{IP: "192.0.2.1"}); err != nil {
					t.Fatalf("right code as %q: %v", ans[:3]+" "+ans[3:], err)
				}
				if tx.Step != login.StepDone {
					t.Errorf("step %s after the right code, want done", tx.Step)
				}
			})
		}
	})
}

// TestReplayedTOTPIsNoFailure: a TOTP code whose step was accepted before answers "this code
// has already been used" and counts no failure — only someone who has the code can replay it —
// and the citizen finishes with the next step's code.
func TestReplayedTOTPIsNoFailure(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		tx := f.atCode(keys.TOTP)
		ans := f.answer(tx)
		if err := f.svc.SubmitCode(f.ctx, tx, ans, login.Client{IP: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
		tx2 := f.atCode(keys.TOTP)
		for i := range 10 {
			if err := f.svc.SubmitCode(f.ctx, tx2, ans, login.Client{IP: "192.0.2.1"}); !errors.Is(err, totp.ErrReplayed) || tx2.Step != login.StepCode {
				t.Fatalf("replay %d: %v at step %s, want %v at the code step", i+1, err, tx2.Step, totp.ErrReplayed)
			}
		}
		if factor, perIP := f.counters(tx2, "192.0.2.1"); factor != 0 || perIP != 0 {
			t.Errorf("10 replays counted %d failures on the key and %d on the address, want 0 and 0", factor, perIP)
		}
		if got := f.auditReasons(); got[audit.ReasonCodeUsed] != 10 || got[audit.ReasonWrongCode] != 0 {
			t.Errorf("audited failures %v, want 10 code_used and no wrong_code", got)
		}
		f.clock.Advance(30 * time.Second)
		if err := f.svc.SubmitCode(f.ctx, tx2, f.answer(tx2), login.Client{IP: "192.0.2.1"}); err != nil {
			t.Fatalf("next step's code: %v", err)
		}
	})
}
