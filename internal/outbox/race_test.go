package outbox

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/outbox/smtptest"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// openNode opens its own connection pool on url, as a separate server node would.
func openNode(t testing.TB, url string) *sqlstore.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestEnqueueInTransaction: a message exists exactly when the transaction that caused it
// committed.
func TestEnqueueInTransaction(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := context.Background()
		c := newComposer(t, newClock().Now)
		rollback := errors.New("the key change failed")
		err := db.Tx(ctx, func(tx store.Store) error {
			if err := c.Enqueue(ctx, tx, citizen("en"), "logon_code", codeData); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatalf("Tx = %v", err)
		}
		if msgs, err := db.ListMessages(ctx, 0); err != nil || len(msgs) != 0 {
			t.Fatalf("after rollback: %d messages (%v), want none", len(msgs), err)
		}
		if err := db.Tx(ctx, func(tx store.Store) error {
			return c.Enqueue(ctx, tx, citizen("en"), "logon_code", codeData)
		}); err != nil {
			t.Fatal(err)
		}
		if msgs, err := db.ListMessages(ctx, 0); err != nil || len(msgs) != 1 {
			t.Fatalf("after commit: %d messages (%v), want one", len(msgs), err)
		}
	})
}

// TestTwoNodesDeliverEachOnce: two workers, each with its own connection pool on one
// PostgreSQL database, race over 1,000 messages; the SMTP server receives every Message-ID
// exactly once.
func TestTwoNodesDeliverEachOnce(t *testing.T) {
	t.Parallel()
	const total = 1000
	url := sqltest.PostgresURL(t)
	nodeA, nodeB := openNode(t, url), openNode(t, url)
	raceNodes(t, nodeA, nodeB, total)
}

// TestTwoWorkersSQLite runs the same race on one SQLite file (one writer at a time).
func TestTwoWorkersSQLite(t *testing.T) {
	t.Parallel()
	db := sqltest.SQLite(t)
	raceNodes(t, db, db, 200)
}

func raceNodes(t *testing.T, nodeA, nodeB *sqlstore.DB, total int) {
	t.Helper()
	ctx := context.Background()
	srv := smtptest.Start(t)
	c := newComposer(t, time.Now)
	want := make(map[string]bool, total)
	for start := 0; start < total; start += 100 {
		err := nodeA.Tx(ctx, func(tx store.Store) error {
			for i := start; i < min(start+100, total); i++ {
				m, err := c.Render(citizen([]string{"nl", "fr", "de", "en"}[i%4]), "logon_code", codeData)
				if err != nil {
					return err
				}
				if err := tx.Enqueue(ctx, &m); err != nil {
					return err
				}
				want[m.MessageID] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	cfg := testConfig(srv)
	cfg.BatchSize = 25
	cfg.PollInterval = 5 * time.Millisecond
	quiet := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	workers := []*Worker{
		NewWorker(nodeA, newSender(t, cfg), cfg, "node-a", time.Now, quiet),
		NewWorker(nodeB, newSender(t, cfg), cfg, "node-b", time.Now, quiet),
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { _ = w.Run(runCtx) })
	}
	srv.WaitForMessages(t, total, 2*time.Minute)
	// Let the workers record the last outcomes, then stop them.
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := nodeA.OutboxStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Counts[store.MessageSent] == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox status %v, want %d sent", st.Counts, total)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()

	got := map[string]int{}
	for _, r := range srv.Messages() {
		got[r.MessageID()]++
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("Message-ID %s delivered %d times", id, n)
		}
		if !want[id] {
			t.Errorf("unexpected Message-ID %s", id)
		}
	}
	if len(got) != total || len(srv.Attempts()) != total {
		t.Errorf("server saw %d distinct messages in %d attempts, want %d and %d", len(got), len(srv.Attempts()), total, total)
	}
	a, b := workers[0].Stats(), workers[1].Stats()
	if a.Sent+b.Sent != uint64(total) || a.Sent == 0 || b.Sent == 0 {
		t.Errorf("node-a sent %d, node-b sent %d; want both to take part, %d in all", a.Sent, b.Sent, total)
	}
	t.Logf("node-a sent %d, node-b sent %d", a.Sent, b.Sent)
}
