package recovery_test

import (
	"context"
	"crypto/rand"
	"slices"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/recovery"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// TestLimitedKnownRunsTheStatementsOfUnknown: an account that had its links of the hour (asked
// by username, then by address: the two have counts of their own) runs the statements an
// unknown address runs, so the work does not tell that the username and the address are one
// account's.
func TestLimitedKnownRunsTheStatementsOfUnknown(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		w := logintest.New(t, db, logintest.Options{})
		q := func(n int) *attempts.Quota {
			qq, err := attempts.NewQuota(db, n, recovery.Window, w.Clock.Now)
			if err != nil {
				t.Fatal(err)
			}
			return qq
		}
		log := &statementLog{}
		svc, err := recovery.New(recovery.DefaultConfig(), recovery.Deps{Store: loggingStore{Store: db, log: log}, Passwords: w.Passwords,
			Hasher: w.Hasher, Mailer: w.Mail, Audit: w.Audit, Factors: w.Service, Kinds: w.Kinds, AddressQuota: q(1000),
			IdentifierQuota: q(recovery.DefaultConfig().PerIdentifier), Now: w.Clock.Now, Rand: rand.Reader})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		c := recovery.Client{IP: "192.0.2.9"}
		for i := 0; i < 3; i++ { // by username: the account's links of the hour
			if err := svc.ForgotPassword(ctx, w.Citizen.Username, c); err != nil {
				t.Fatal(err)
			}
		}
		log.take()
		if err := svc.ForgotPassword(ctx, w.Citizen.Email, c); err != nil { // by address: its own quota
			t.Fatal(err)
		}
		known := log.take()
		if err := svc.ForgotPassword(ctx, "nobody@example.org", c); err != nil {
			t.Fatal(err)
		}
		unknown := log.take()
		t.Logf("known (limited) %v\nunknown         %v", known, unknown)
		if !slices.Equal(known, unknown) {
			t.Errorf("a known account at its link limit ran other statements than an unknown address")
		}
	})
}
