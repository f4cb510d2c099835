package sqlstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// TestStatementCache: on SQLite a statement is prepared once (in the background, after its
// first use) and reused, inside transactions too; a query that cannot be prepared fails as
// before and is not retried; a full cache runs queries unprepared.
func TestStatementCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(ctx, "sqlite://"+t.TempDir()+"/stmts.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if db.stmts == nil {
		t.Fatal("SQLite store without a statement cache")
	}
	prepared := func() (n int) {
		db.stmts.wg.Wait()
		db.stmts.mu.Lock()
		defer db.stmts.mu.Unlock()
		for _, st := range db.stmts.m {
			if st != nil {
				n++
			}
		}
		return n
	}
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	reserve := func() {
		t.Helper()
		if _, _, err := db.ReserveAttempt(ctx, "stmt-test", now, time.Hour, nil); err != nil {
			t.Fatal(err)
		}
	}
	reserve()
	after1 := prepared()
	if after1 == 0 {
		t.Fatal("nothing prepared after a reservation")
	}
	for range 5 {
		reserve()
		if err := db.Tx(ctx, func(s store.Store) error {
			_, err := s.GetAttempt(ctx, "stmt-test")
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	after := prepared()
	a, err := db.GetAttempt(ctx, "stmt-test")
	if err != nil || a.Failures != 6 {
		t.Fatalf("after 6 reservations through cached statements: %+v, %v", a, err)
	}
	if again := prepared(); again != after {
		t.Errorf("the same statements again grew the cache from %d to %d", after, again)
	}

	for range 2 {
		if _, err := db.q.ExecContext(ctx, "UPDATE no_such_table SET x = 1"); err == nil || !strings.Contains(err.Error(), "no_such_table") {
			t.Errorf("a bad statement: %v, want its error", err)
		}
		if got := prepared(); got != after {
			t.Errorf("a statement that failed to prepare was cached (%d → %d)", after, got)
		}
	}
	db.stmts.mu.Lock()
	failed := db.stmts.failed["UPDATE no_such_table SET x = 1"]
	db.stmts.mu.Unlock()
	if !failed {
		t.Error("a statement that failed to prepare is not remembered as such")
	}

	db.stmts.mu.Lock()
	var dummies []string
	for i := len(db.stmts.m) + len(db.stmts.failed); i < maxCachedStmts; i++ {
		q := strings.Repeat(" ", i+1) + "SELECT 1"
		db.stmts.m[q] = nil
		dummies = append(dummies, q)
	}
	db.stmts.mu.Unlock()
	var two int
	if err := db.q.QueryRowContext(ctx, "SELECT 2 -- new").Scan(&two); err != nil || two != 2 {
		t.Errorf("with a full cache: %d, %v", two, err)
	}
	db.stmts.wg.Wait()
	db.stmts.mu.Lock()
	if _, ok := db.stmts.m["SELECT 2 -- new"]; ok {
		t.Error("the cache grew past its bound")
	}
	for _, q := range dummies {
		delete(db.stmts.m, q)
	}
	db.stmts.mu.Unlock()
}

// TestStatementCacheNeverWaitsForTheWriteLock: a transaction's first use of a statement does
// not wait for a connection of the pool to prepare it on. With one connection (the
// transaction's), a synchronous preparation would wait for ever.
func TestStatementCacheNeverWaitsForTheWriteLock(t *testing.T) {
	t.Parallel()
	db, err := Open(context.Background(), "sqlite://"+t.TempDir()+"/onecon.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	db.pool.SetMaxOpenConns(1)
	// Generous: this is a deadlock detector, not a speed limit.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = db.Tx(ctx, func(s store.Store) error {
		_, err := s.(*DB).q.ExecContext(ctx, "INSERT INTO attempts (scope, failures, throttled_until, updated_at) VALUES ('one-conn', 1, 0, 0)")
		return err
	})
	if err != nil {
		t.Fatalf("a transaction's first statement with every connection taken: %v", err)
	}
}

// TestStoreClock: a record written without its own time gets the injected clock's, not the
// wall clock's.
func TestStoreClock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC)
	db, err := Open(ctx, "sqlite://"+t.TempDir()+"/clock.db", WithClock(func() time.Time { return at }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	a := &store.Account{Username: "klok", Email: "klok@example.org", Language: "nl"}
	if err := db.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetAccount(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(at) {
		t.Errorf("created at %s, want the store clock's %s", got.CreatedAt, at)
	}
	if err := db.Tx(ctx, func(s store.Store) error {
		return s.AppendAudit(ctx, &store.AuditEvent{Type: "test.clock", AccountID: a.ID})
	}); err != nil {
		t.Fatal(err)
	}
	events, err := db.ListAudit(ctx, 0, 10)
	if err != nil || len(events) != 1 || !events[0].Time.Equal(at) {
		t.Errorf("audit event in a transaction: %+v, %v; want one at %s", events, err, at)
	}
}
