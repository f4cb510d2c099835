package login_test

import (
	"errors"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// tryPassword runs one password logon of username from c.
func (f *fixture) tryPassword(username, password string, c login.Client) error {
	f.t.Helper()
	tx := f.svc.Start(keys.LevelLow, "/")
	f.choose(tx, keys.Password)
	return f.svc.SubmitPassword(f.ctx, tx, username, password, c)
}

// TestDeviceCookieKeepsItsOwnBudget: an attacker who knows the username throttles it for every
// browser the citizen never logged on with, yet the citizen's own browser (its device cookie)
// still logs on, and its logon does not lift the attacker's throttle. Failures in the citizen's
// browser count against that browser only; once its budget is spent it is a browser like any
// other until its throttle ends. A device cookie of another username counts for nothing.
func TestDeviceCookieKeepsItsOwnBudget(t *testing.T) {
	sqltest.EachBackend(t, func(t *testing.T, b sqltest.Backend) {
		attacker := login.Client{IP: "198.51.100.66"}
		mine := login.Client{IP: "192.0.2.1", Device: &login.Device{Username: "jan", ID: "device-of-jan"}}
		other := login.Client{IP: "192.0.2.2", Device: &login.Device{Username: "piet", ID: "device-of-piet"}}
		wantBad := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, login.ErrBadCredentials) {
				t.Fatalf("%s: %v, want bad credentials", what, err)
			}
		}
		wantThrottled := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, attempts.ErrThrottled) {
				t.Fatalf("%s: %v, want throttled", what, err)
			}
		}

		t.Run("attacker elsewhere", func(t *testing.T) {
			f := newFixture(t, b.Open(t), nil)
			for range 5 {
				wantBad("attacker's guess", f.tryPassword("jan", "guess guess guess", attacker))
			}
			wantThrottled("attacker with the right password", f.tryPassword("jan", pw, attacker))
			wantThrottled("a browser without a device cookie", f.tryPassword("JAN", pw, login.Client{IP: "192.0.2.1"}))
			wantThrottled("a device cookie of another username", f.tryPassword("jan", pw, other))
			if err := f.tryPassword(" Jan ", pw, mine); err != nil {
				t.Fatalf("the citizen's own browser: %v, want logged on", err)
			}
			wantThrottled("attacker after the citizen logged on", f.tryPassword("jan", pw, attacker))
		})

		t.Run("failures in the citizen's browser", func(t *testing.T) {
			db := b.Open(t)
			f := newFixture(t, db, nil)
			for range 5 {
				wantBad("mistyped in the own browser", f.tryPassword("jan", "typo typo typo", mine))
			}
			if a, err := db.GetAttempt(f.ctx, string(login.PasswordScopeOf(f.svc, "jan"))); err != nil || a.Failures != 0 {
				t.Errorf("the username's counter after failures in the own browser: %+v, %v; want untouched", a, err)
			}
			if err := f.tryPassword("jan", pw, login.Client{IP: "192.0.2.3"}); err != nil {
				t.Fatalf("another browser after failures in the own browser: %v, want logged on", err)
			}
			// The device's budget is spent: its attempts now count against the username, like
			// any browser's.
			wantBad("own browser with a spent budget", f.tryPassword("jan", "typo typo typo", mine))
			if a, err := db.GetAttempt(f.ctx, string(login.PasswordScopeOf(f.svc, "jan"))); err != nil || a.Failures != 1 {
				t.Errorf("the username's counter: %+v, %v; want the one failure of the spent device", a, err)
			}
			if err := f.tryPassword("jan", pw, mine); err != nil {
				t.Fatalf("own browser with a spent budget, right password: %v", err)
			}
		})
	})
}
