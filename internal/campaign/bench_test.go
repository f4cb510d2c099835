package campaign_test

import (
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/campaign"
	"github.com/sleutelbos/sleutelbos/internal/campaign/campaigntest"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/phaseout"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// benchSize reads a population size from the environment (make bench sets them), or def.
func benchSize(b *testing.B, env string, def int) int {
	b.Helper()
	v := os.Getenv(env)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q is not a positive number", env, v)
	}
	return n
}

// benchNow is the instant of the benchmarks' population and policy.
var benchNow = time.Date(2024, 1, 20, 12, 0, 0, 0, time.UTC)

// benchService is the campaign service over db as the node wires it: the stored token card
// policy (prompt period, switched off on 31 January 2024), the real composer and recorder.
func benchService(b *testing.B, db *sqlstore.DB) *campaign.Service {
	b.Helper()
	w := logintest.New(b, db, logintest.Options{Kinds: []string{}, Start: benchNow})
	err := db.PutPhaseoutPolicy(b.Context(), store.PhaseoutPolicy{Kind: "tokencard",
		ActivationClosedFrom: time.Date(2023, 6, 1, 0, 0, 0, 0, phaseout.Brussels()),
		MigrationPromptFrom:  time.Date(2023, 12, 1, 0, 0, 0, 0, phaseout.Brussels()),
		DisabledFrom:         time.Date(2024, 1, 31, 0, 0, 0, 0, phaseout.Brussels()), UpdatedAt: benchNow})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := campaign.New(campaign.Deps{Store: db, Kinds: w.Kinds, Policies: phaseout.NewPolicies(db, time.Now, time.Minute, nil),
		Mailer: w.Mail, Audit: w.Audit, Now: w.Clock.Now, Location: phaseout.Brussels(), ActivateURL: "https://sleutelbos.example/keys/activate"})
	if err != nil {
		b.Fatal(err)
	}
	return svc
}

// BenchmarkCampaign seeds SLEUTELBOS_BENCH_CAMPAIGN_ACCOUNTS citizens (default 1,000,000;
// campaigntest.Seed: some 985,000 keys and 2.6 million audit events) once per database, then
// measures the token card campaign's report (the target: under 2 s) and the at-risk
// CSV (some 128,000 lines), on SQLite and on PostgreSQL.
func BenchmarkCampaign(b *testing.B) {
	n := benchSize(b, "SLEUTELBOS_BENCH_CAMPAIGN_ACCOUNTS", 1_000_000)
	for _, be := range sqltest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			db := be.Open(b)
			started := time.Now()
			pop, err := campaigntest.Seed(b.Context(), db, n, benchNow)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: seeded %d citizens, %d cards, %d app keys, %d e-mail keys, %d audit events in %s",
				be.Name, pop.Accounts, pop.TokenCards, pop.Apps, pop.EmailKeys, pop.Audit, time.Since(started).Round(time.Millisecond))
			svc := benchService(b, db)
			b.Run("report", func(b *testing.B) {
				var r *campaign.Report
				cpu := processCPU(b)
				for b.Loop() {
					if r, err = svc.Report(b.Context(), "tokencard"); err != nil {
						b.Fatal(err)
					}
				}
				if be.Name == "sqlite" {
					// SQLite works in this process: its CPU time per report is what the report
					// costs, however busy the machine (the wall time then waits for a core).
					b.ReportMetric(float64((processCPU(b)-cpu).Milliseconds())/float64(b.N), "cpu-ms/op")
				}
				b.ReportMetric(float64(r.Active), "active")
				b.ReportMetric(float64(r.AtRisk), "at-risk")
				b.ReportMetric(float64(r.Funnel.Migrated), "migrated")
			})
			b.Run("at-risk-csv", func(b *testing.B) {
				var c countingWriter
				for b.Loop() {
					c = 0
					if err := svc.WriteAtRiskCSV(b.Context(), "tokencard", &c); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(c), "bytes")
			})
		})
	}
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type countingWriter int64

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}

// BenchmarkReminderRound runs a reminder round over SLEUTELBOS_BENCH_REMINDERS citizens at
// risk (default 100,000), on SQLite and PostgreSQL: each gets the reminder e-mail, rendered in
// their language and written to the outbox with the round's row, 500 per transaction. Every
// iteration is a new round over everyone; the rate is reminders a second.
func BenchmarkReminderRound(b *testing.B) {
	n := benchSize(b, "SLEUTELBOS_BENCH_REMINDERS", 100_000)
	for _, be := range sqltest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			db := be.Open(b)
			if err := campaigntest.SeedAtRisk(b.Context(), db, n, benchNow); err != nil {
				b.Fatal(err)
			}
			svc := benchService(b, db)
			var sent int64
			cpu := processCPU(b)
			for b.Loop() {
				res, err := svc.Remind(b.Context(), "tokencard", campaign.RemindOptions{NewRound: true, Operator: campaign.Operator{Name: "bench"}})
				if err != nil {
					b.Fatal(err)
				}
				if res.Sent != int64(n) {
					b.Fatalf("round %d reminded %d citizens, want %d", res.Round.Number, res.Sent, n)
				}
				sent += res.Sent
			}
			b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "reminders/s")
			if be.Name == "sqlite" {
				// Rendering, SQLite and all: what one CPU second reminds, however busy the machine.
				b.ReportMetric(float64(sent)/(processCPU(b)-cpu).Seconds(), "reminders/cpu-s")
			}
		})
	}
}
