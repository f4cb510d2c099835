package phaseout_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/campaign/campaigntest"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/phaseout"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// BenchmarkExpiryJob runs the phase-out jobs once after the token card was switched off, over
// SLEUTELBOS_BENCH_EXPIRY_KEYS active cards (default 1,000,000; one citizen each, seeded by
// campaigntest.SeedAtRisk), on SQLite and PostgreSQL: every card becomes expired with its
// key.expired event. The seeding is not timed; one iteration is the whole job.
func BenchmarkExpiryJob(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("SLEUTELBOS_BENCH_EXPIRY_KEYS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("SLEUTELBOS_BENCH_EXPIRY_KEYS=%q is not a positive number", v)
		}
	}
	now := time.Date(2024, 2, 1, 12, 0, 0, 0, time.UTC)
	for _, be := range sqltest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			ctx := b.Context()
			db := be.Open(b)
			if err := campaigntest.SeedAtRisk(ctx, db, n, now.Add(-24*time.Hour)); err != nil {
				b.Fatal(err)
			}
			if err := db.PutPhaseoutPolicy(ctx, store.PhaseoutPolicy{Kind: "tokencard",
				DisabledFrom: time.Date(2024, 1, 31, 0, 0, 0, 0, phaseout.Brussels()), UpdatedAt: now}); err != nil {
				b.Fatal(err)
			}
			bundle, err := i18n.Load("en")
			if err != nil {
				b.Fatal(err)
			}
			clk := func() time.Time { return now }
			c, err := mail.NewComposer(bundle, mail.ComposerConfig{ServiceName: "Sleutelbos", BaseURL: "http://127.0.0.1",
				From: "noreply@example.org", Hold: true, Now: clk})
			if err != nil {
				b.Fatal(err)
			}
			jobs, err := phaseout.NewJobs(phaseout.JobsConfig{Owner: "bench", Lease: time.Hour, Batch: 200, LogonURL: "http://127.0.0.1/keys"},
				db, c, audit.New(clk, nil), clk, nil)
			if err != nil {
				b.Fatal(err)
			}
			var expired int
			for b.Loop() {
				rep, err := jobs.Run(ctx)
				if err != nil {
					b.Fatal(err)
				}
				expired += rep.Expired
			}
			if expired != n {
				b.Fatalf("expired %d keys, want %d", expired, n)
			}
			b.ReportMetric(float64(expired)/b.Elapsed().Seconds(), "keys/s")
		})
	}
}
