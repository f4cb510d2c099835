package outbox

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/outbox/smtptest"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// benchStores are the backends the benchmarks run on; PostgreSQL is skipped without
// SLEUTELBOS_TEST_POSTGRES_URL (make bench sets it).
var benchStores = []struct {
	name string
	open func(testing.TB) *sqlstore.DB
}{
	{"sqlite", func(tb testing.TB) *sqlstore.DB { return sqltest.SQLite(tb) }},
	{"postgres", func(tb testing.TB) *sqlstore.DB { return sqltest.Postgres(tb) }},
}

// BenchmarkEnqueue measures rendering a message and writing it to the outbox, one transaction
// per message (as a key change would).
func BenchmarkEnqueue(b *testing.B) {
	for _, bs := range benchStores {
		b.Run(bs.name, func(b *testing.B) {
			db := bs.open(b)
			c := newComposer(b, time.Now)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Enqueue(ctx, db, citizen("nl"), "logon_code", codeData); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkDeliver measures delivery: b.N messages are enqueued first (not timed), then one
// worker claims and sends them all over TCP to the in-process SMTP server.
func BenchmarkDeliver(b *testing.B) {
	for _, bs := range benchStores {
		b.Run(bs.name, func(b *testing.B) {
			db := bs.open(b)
			srv := smtptest.Start(b)
			c := newComposer(b, time.Now)
			ctx := context.Background()
			for start := 0; start < b.N; start += 500 {
				err := db.Tx(ctx, func(tx store.Store) error {
					for range min(500, b.N-start) {
						if err := c.Enqueue(ctx, tx, citizen("fr"), "logon_code", codeData); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			cfg := testConfig(srv)
			cfg.BatchSize = 50
			w := NewWorker(db, newSender(b, cfg), cfg, "bench", time.Now, slog.New(slog.DiscardHandler))
			b.ResetTimer()
			for delivered := 0; delivered < b.N; {
				n, err := w.RunOnce(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if n == 0 {
					b.Fatalf("nothing due after %d of %d", delivered, b.N)
				}
				delivered += n
			}
			b.StopTimer()
			if st := w.Stats(); st.Sent != uint64(b.N) {
				b.Fatalf("sent %d of %d (%+v)", st.Sent, b.N, st)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
