package sqlstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

func TestWrites(t *testing.T) {
	t.Parallel()
	for q, want := range map[string]bool{
		"SELECT 1":                           false,
		"  select id FROM accounts":          false,
		"(SELECT 1) UNION (SELECT 2)":        false,
		"INSERT INTO x VALUES (1) RETURNING": true,
		"UPDATE attempts SET failures = 0":   true,
		"DELETE FROM sessions":               true,
		"WITH x AS (SELECT 1) DELETE FROM y": true,
		"":                                   true,
	} {
		if got := writes(q); got != want {
			t.Errorf("writes(%q) = %v, want %v", q, got, want)
		}
	}
}

// TestWriterGate: one writer at a time; the next goes when the first leaves; a writer that
// cannot get in within the wait (or whose context ends) goes on without the gate, and leaving
// then changes nothing.
func TestWriterGate(t *testing.T) {
	t.Parallel()
	g := newWriterGate()
	leave := g.enter(context.Background())
	entered := make(chan struct{})
	go func() {
		l := g.enter(context.Background())
		close(entered)
		l()
	}()
	select {
	case <-entered:
		t.Fatal("a second writer got in while the first was inside")
	default:
	}
	// Without the gate: the wait ran out.
	noop := g.enterWithin(context.Background(), time.Millisecond)
	noop()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g.enterWithin(ctx, time.Hour)()
	leave()
	<-entered
	// Empty again: whoever comes next gets in at once.
	g.enter(context.Background())()
	var nilGate writerGate
	nilGate.enter(context.Background())()
}

// TestGatedWritersAllCommit: many parallel transactions and statements that write on one
// SQLite store all succeed, none with SQLITE_BUSY.
func TestGatedWritersAllCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(ctx, "sqlite://"+t.TempDir()+"/gate.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, _, err := db.ReserveAttempt(ctx, "gate", now, time.Hour, nil)
			errs <- err
		}()
		go func() {
			defer wg.Done()
			errs <- db.Tx(ctx, func(s store.Store) error {
				_, err := s.(*DB).q.ExecContext(ctx, "INSERT INTO attempts (scope, failures, throttled_until, updated_at) VALUES ($1, 1, 0, 0)", "gate-"+string(rune('a'+i%26))+string(rune('a'+i/26)))
				return err
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	a, err := db.GetAttempt(ctx, "gate")
	if err != nil || a.Failures != n {
		t.Errorf("after %d parallel reservations: %+v, %v", n, a, err)
	}
}
