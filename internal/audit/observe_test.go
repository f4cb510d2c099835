package audit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// TestObserverSeesCommittedEventsOnly: the observer (metrics) hears of an event once its
// transaction commits, never of one whose transaction rolled back, and at once outside one.
func TestObserverSeesCommittedEventsOnly(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		var mu sync.Mutex
		var seen []string
		r := audit.New(func() time.Time { return time.Unix(1_800_000_000, 0) }, nil,
			audit.WithObserver(func(e store.AuditEvent) { mu.Lock(); seen = append(seen, e.Reason); mu.Unlock() }))
		ctx := context.Background()
		boom := errors.New("boom")
		err := db.Tx(ctx, func(st store.Store) error {
			if err := r.Record(ctx, st, store.AuditEvent{Type: audit.LogonFailure, Reason: "rolled back"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		err = db.Tx(ctx, func(st store.Store) error {
			if err := r.Record(ctx, st, store.AuditEvent{Type: audit.LogonFailure, Reason: "committed"}); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 0 {
				t.Errorf("observed %v before the commit", seen)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Record(ctx, db, store.AuditEvent{Type: audit.LogonFailure, Reason: "no transaction"}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(seen) != 2 || seen[0] != "committed" || seen[1] != "no transaction" {
			t.Errorf("observed %q, want [committed, no transaction]", seen)
		}
	})
}
