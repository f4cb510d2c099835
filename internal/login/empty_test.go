package login_test

import (
	"context"
	"crypto/rand"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/password"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// TestEmptyFieldsAreNoAttempt: a password step sent with the username or the password (or
// both) empty is told which field is missing, hashes nothing, records no failure and counts
// against no throttle: after many of them, the throttle's five wrong passwords still get
// "incorrect", and the sixth is the first refused.
func TestEmptyFieldsAreNoAttempt(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		var hashes atomic.Int64
		w := logintest.New(t, db, logintest.Options{Deps: func(d *login.Deps) {
			d.Passwords = password.New(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 0, rand.Reader,
				password.WithStoredClasses(db.PasswordHashParams), password.WithHashObserver(func(string) { hashes.Add(1) }))
		}})
		c := login.Client{IP: "192.0.2.1"}
		try := func(user, pw string) error {
			t.Helper()
			tx := w.Service.Start(keys.LevelLow, "/")
			if err := w.Service.Choose(tx, keys.Password); err != nil {
				t.Fatal(err)
			}
			return w.Service.SubmitPassword(ctx, tx, user, pw, c)
		}
		user := w.Account.Username
		hashes.Store(0)
		for range 20 {
			for _, tc := range []struct {
				user, pw       string
				noUser, noPass bool
			}{
				{"", "some password", true, false},
				{"   ", "some password", true, false},
				{user, "", false, true},
				{"", "", true, true},
			} {
				err := try(tc.user, tc.pw)
				if errors.Is(err, login.ErrNoUsername) != tc.noUser || errors.Is(err, login.ErrNoPassword) != tc.noPass ||
					errors.Is(err, login.ErrBadCredentials) {
					t.Fatalf("username %q, password %q: %v; want the missing-username %v, missing-password %v message",
						tc.user, tc.pw, err, tc.noUser, tc.noPass)
				}
			}
		}
		if n := hashes.Load(); n != 0 {
			t.Errorf("80 incomplete forms ran %d password hashes, want none", n)
		}
		evs, err := db.ListAudit(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Type == audit.LogonFailure || e.Type == audit.LogonThrottled {
				t.Errorf("an incomplete form was recorded: %+v", e)
			}
		}
		// Nothing was counted: the throttle still allows its five failures.
		for i := range 5 {
			if err := try(user, "wrong wrong wrong"); !errors.Is(err, login.ErrBadCredentials) {
				t.Fatalf("wrong password %d after the incomplete forms: %v, want incorrect", i+1, err)
			}
		}
		if err := try(user, "wrong wrong wrong"); err == nil || errors.Is(err, login.ErrBadCredentials) {
			t.Errorf("sixth wrong password: %v, want throttled", err)
		}
	})
}
