package login_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/password"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// TestFailuresCostTheSameWhateverTheStoredParams: after the password parameters change, a wrong
// password for an account still hashed with the old parameters and an unknown username take
// the same time — in both directions: parameters made dearer (the old accounts were cheaper
// than an unknown username) and made cheaper (they were dearer). A measurement, not a
// performance target: many pairs of samples through the logon service on a real store, each pair
// taken back to back so that the machine's changing load cancels out, and the median of the
// pairs' ratios compared with a tolerance that the unequalised service fails by far (about 3×
// with these parameters: 8 passes over the memory against 1; the same work on both sides scatters
// by up to 1.2× on a busy 2-core machine). Up to three rounds are measured: the test fails only
// when every round is outside the tolerance, as the unequalised service always is.
func TestFailuresCostTheSameWhateverTheStoredParams(t *testing.T) {
	sqltest.EachBackend(t, func(t *testing.T, b sqltest.Backend) {
		cheap := password.Params{Memory: 4096, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
		dear := cheap
		dear.Time = 8
		for _, tt := range []struct {
			name               string
			configured, stored password.Params
		}{
			{"parameters made dearer", dear, cheap},
			{"parameters made cheaper", cheap, dear},
		} {
			t.Run(tt.name, func(t *testing.T) {
				ctx := context.Background()
				db := b.Open(t)
				w := logintest.New(t, db, logintest.Options{Deps: func(d *login.Deps) {
					d.Passwords = password.New(tt.configured, 0, rand.Reader, password.WithStoredClasses(db.PasswordHashParams))
					// Throttling is not measured here.
					d.Limiter = attempts.New(db, attempts.Policy{Threshold: 1 << 30, Base: time.Minute, Max: time.Hour}, d.Now)
				}})
				// Dormant accounts, hashed before the parameters changed.
				old, err := password.New(tt.stored, 0, rand.Reader).Hash(ctx, "an old password")
				if err != nil {
					t.Fatal(err)
				}
				const dormant = 8
				for i := range dormant {
					a := store.Account{Username: fmt.Sprintf("dormant%d", i), PasswordHash: old}
					if err := db.CreateAccount(ctx, &a); err != nil {
						t.Fatal(err)
					}
				}
				fail := func(user string) time.Duration {
					t.Helper()
					tx := w.Service.Start(keys.LevelLow, "/")
					if err := w.Service.Choose(tx, keys.Password); err != nil {
						t.Fatal(err)
					}
					start := time.Now()
					err := w.Service.SubmitPassword(ctx, tx, user, "not the password", login.Client{IP: "192.0.2.1"})
					took := time.Since(start)
					if !errors.Is(err, login.ErrBadCredentials) {
						t.Fatalf("%s: %v, want bad credentials", user, err)
					}
					return took
				}
				for i := range 4 { // warm up: both classes measured, connections open
					fail(fmt.Sprintf("dormant%d", i))
					fail(fmt.Sprintf("warm-up-%d", i))
				}
				// One round: pairs back to back, alternating which goes first so that neither
				// profits from the other's warm caches; the median of the pairs' ratios.
				const pairs = 40
				round := func() (ratio float64, known, unknown time.Duration) {
					var ks, us []time.Duration
					var ratios []float64
					for i := range pairs {
						var k, u time.Duration
						if i%2 == 0 {
							k, u = fail(fmt.Sprintf("dormant%d", i%dormant)), fail(fmt.Sprintf("nobody-%d", i))
						} else {
							u, k = fail(fmt.Sprintf("nobody-%d", i)), fail(fmt.Sprintf("dormant%d", i%dormant))
						}
						ks, us = append(ks, k), append(us, u)
						ratios = append(ratios, float64(k)/float64(u))
					}
					slices.Sort(ratios)
					return ratios[len(ratios)/2], median(ks), median(us)
				}
				// A burst of load from the other tests running beside this one can skew one
				// round (a median ratio of 0.63 was seen once under make test); the unequalised
				// difference is systematic and skews every round (0.26-0.48× and 2.3-3.6×). So
				// the test fails only when every one of a few rounds is outside the tolerance.
				const rounds = 3
				var seen []string
				for r := range rounds {
					ratio, known, unknown := round()
					t.Logf("round %d: medians: wrong password (old parameters) %s, unknown username %s; median ratio of %d pairs %.2f",
						r+1, known, unknown, pairs, ratio)
					if ratio <= 1.5 && ratio >= 1/1.5 {
						return
					}
					seen = append(seen, fmt.Sprintf("%.2f× (medians %s and %s)", ratio, known, unknown))
				}
				t.Errorf("a wrong password for an account with the old parameters takes %s as long as an unknown username "+
					"(median of %d pairs, in each of %d rounds), want the same time (within 1.5×)", strings.Join(seen, ", "), pairs, rounds)
			})
		}
	})
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
