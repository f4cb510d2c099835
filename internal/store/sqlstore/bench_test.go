package sqlstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// eachBackend runs a benchmark on SQLite and, when configured, on PostgreSQL.
func eachBackend(b *testing.B, fn func(b *testing.B, db *sqlstore.DB)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, sqltest.SQLite(b)) })
	b.Run("postgres", func(b *testing.B) { fn(b, sqltest.Postgres(b)) })
}

func throttle(failures int) time.Time {
	return time.Unix(1_700_000_000, 0).Add(time.Duration(failures) * time.Second)
}

// BenchmarkReserveAttempt counts attempts on one scope, one caller at a time and from many
// goroutines at once (the hot row of a password-guessing attack).
func BenchmarkReserveAttempt(b *testing.B) {
	eachBackend(b, func(b *testing.B, db *sqlstore.DB) {
		ctx := b.Context()
		now := time.Unix(1_700_000_000, 0)
		b.Run("serial", func(b *testing.B) {
			for b.Loop() {
				if _, _, err := db.ReserveAttempt(ctx, "pwd:1", now, 0, throttle); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("parallel-same-scope", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := db.ReserveAttempt(ctx, "pwd:2", now, 0, throttle); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	})
}

// BenchmarkOutboxCycle takes one message through the outbox: enqueue, claim, mark sent.
func BenchmarkOutboxCycle(b *testing.B) {
	eachBackend(b, func(b *testing.B, db *sqlstore.DB) {
		ctx := b.Context()
		now := time.Unix(1_700_000_000, 0)
		i := 0
		for b.Loop() {
			i++
			m := store.Message{MessageID: fmt.Sprintf("<%d@bench>", i), ToAddress: "a@example.be", Subject: "s",
				TextBody: "body", NextAttemptAt: now, CreatedAt: now}
			if err := db.Enqueue(ctx, &m); err != nil {
				b.Fatal(err)
			}
			got, err := db.ClaimMessages(ctx, "bench", now, now.Add(time.Minute), 1)
			if err != nil || len(got) != 1 {
				b.Fatalf("claim: %d messages, %v", len(got), err)
			}
			if err := db.MarkSent(ctx, got[0].ID, "bench", now); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkClaimMessages claims batches of 10 from a queue of 1000 due messages, releasing each
// batch with RetryLater so the queue stays full.
func BenchmarkClaimMessages(b *testing.B) {
	eachBackend(b, func(b *testing.B, db *sqlstore.DB) {
		ctx := b.Context()
		now := time.Unix(1_700_000_000, 0)
		err := db.Tx(ctx, func(s store.Store) error {
			for i := range 1000 {
				m := store.Message{MessageID: fmt.Sprintf("<%d@bench>", i), ToAddress: "a@example.be", Subject: "s",
					TextBody: "body", NextAttemptAt: now, CreatedAt: now}
				if err := s.Enqueue(ctx, &m); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			got, err := db.ClaimMessages(ctx, "bench", now, now.Add(time.Minute), 10)
			if err != nil || len(got) != 10 {
				b.Fatalf("claim: %d messages, %v", len(got), err)
			}
			for _, m := range got {
				if err := db.RetryLater(ctx, m.ID, "bench", now, "bench"); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// BenchmarkAdvanceKeyCounter is the TOTP replay guard on every TOTP logon.
func BenchmarkAdvanceKeyCounter(b *testing.B) {
	eachBackend(b, func(b *testing.B, db *sqlstore.DB) {
		ctx := b.Context()
		a := store.Account{Username: "bench"}
		if err := db.CreateAccount(ctx, &a); err != nil {
			b.Fatal(err)
		}
		k := store.Key{AccountID: a.ID, Kind: "totp", Status: store.KeyActive}
		if err := db.CreateKey(ctx, &k); err != nil {
			b.Fatal(err)
		}
		step := int64(0)
		for b.Loop() {
			step++
			if ok, err := db.AdvanceKeyCounter(ctx, k.ID, step); err != nil || !ok {
				b.Fatalf("advance to %d: %v, %v", step, ok, err)
			}
		}
	})
}

// BenchmarkPasswordHashParams asks for the parameter sets in use among 1,000,000 accounts with
// three sets (what every failed password asks): an index skip scan, a few probes, not a scan.
func BenchmarkPasswordHashParams(b *testing.B) {
	eachBackend(b, func(b *testing.B, db *sqlstore.DB) {
		ctx := b.Context()
		// One statement fills the table: a recursive counter, with every 1000th account on an
		// old parameter set and one on a legacy one.
		if _, err := db.SQL().ExecContext(ctx, `INSERT INTO accounts (username, username_key, password_hash, password_params, created_at, updated_at)
			WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
			SELECT 'u' || i, 'u' || i, 'h',
				CASE WHEN i = 7 THEN '$2b$12' WHEN i % 1000 = 0 THEN '$argon2id$v=19$m=19456,t=2,p=1' ELSE '$argon2id$v=19$m=19456,t=3,p=1' END,
				1, 1
			FROM n`); err != nil {
			b.Fatal(err)
		}
		if _, err := db.SQL().ExecContext(ctx, `ANALYZE`); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			ps, err := db.PasswordHashParams(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if len(ps) != 3 {
				b.Fatalf("%d parameter sets, want 3", len(ps))
			}
		}
	})
}
