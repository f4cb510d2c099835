package storetest

import (
	"errors"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

var txTests = []test{
	{"Commit", testTxCommit},
	{"Rollback", testTxRollback},
	{"Nested", testTxNested},
	{"NestedErrorRollsBackAll", testTxNestedError},
	{"Isolation", testTxIsolation},
	{"AfterCommit", testTxAfterCommit},
	{"AfterCommitNotOnRollback", testTxAfterCommitRollback},
	{"AfterCommitOutsideTx", testTxAfterCommitOutside},
}

var errBoom = errors.New("boom")

// writeAll creates an account "tx.user", enqueues a message and appends an audit event.
func writeAll(t *testing.T, s store.Store) error {
	t.Helper()
	ctx := ctxOf(t)
	a := store.Account{Username: "tx.user", CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateAccount(ctx, &a); err != nil {
		return err
	}
	m := newMessage(1, t0)
	m.AccountID = a.ID
	if err := s.Enqueue(ctx, &m); err != nil {
		return err
	}
	return s.AppendAudit(ctx, &store.AuditEvent{Time: t0, Type: "account.created", AccountID: a.ID, Actor: "system"})
}

// countAll reports whether "tx.user" exists, and how many messages and audit events there are.
func countAll(t *testing.T, s store.Store) (accountExists bool, messages, events int) {
	t.Helper()
	ctx := ctxOf(t)
	_, err := s.GetAccountByUsername(ctx, "tx.user")
	switch {
	case err == nil:
		accountExists = true
	case !errors.Is(err, store.ErrNotFound):
		t.Fatal(err)
	}
	msgs, err := s.ListMessages(ctx, 0)
	must(t, err)
	evs, err := s.ListAudit(ctx, 0, 0)
	must(t, err)
	return accountExists, len(msgs), len(evs)
}

func testTxCommit(t *testing.T, s store.Store) {
	err := s.Tx(ctxOf(t), func(tx store.Store) error {
		if err := writeAll(t, tx); err != nil {
			return err
		}
		// The transaction sees its own writes.
		if ok, msgs, evs := countAll(t, tx); !ok || msgs != 1 || evs != 1 {
			t.Errorf("inside Tx: account %v, %d messages, %d events; want true, 1, 1", ok, msgs, evs)
		}
		return nil
	})
	must(t, err)
	if ok, msgs, evs := countAll(t, s); !ok || msgs != 1 || evs != 1 {
		t.Errorf("after commit: account %v, %d messages, %d events; want true, 1, 1", ok, msgs, evs)
	}
}

func testTxRollback(t *testing.T, s store.Store) {
	err := s.Tx(ctxOf(t), func(tx store.Store) error {
		if err := writeAll(t, tx); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Tx returned %v, want fn's error %v", err, errBoom)
	}
	if ok, msgs, evs := countAll(t, s); ok || msgs != 0 || evs != 0 {
		t.Errorf("after rollback: account %v, %d messages, %d events; want nothing written", ok, msgs, evs)
	}
	// The store is usable afterwards, and the username is free.
	newAccount(t, s, "tx.user")
}

func testTxNested(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	err := s.Tx(ctx, func(outer store.Store) error {
		newAccount(t, outer, "outer")
		return outer.Tx(ctx, func(inner store.Store) error {
			// The inner function runs in the outer transaction: it sees the outer write.
			if _, err := inner.GetAccountByUsername(ctx, "outer"); err != nil {
				t.Errorf("inner Tx does not see the outer transaction's account: %v", err)
			}
			newAccount(t, inner, "inner")
			return nil
		})
	})
	must(t, err)
	for _, name := range []string{"outer", "inner"} {
		if _, err := s.GetAccountByUsername(ctx, name); err != nil {
			t.Errorf("account %q after nested commit: %v", name, err)
		}
	}
}

func testTxNestedError(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	err := s.Tx(ctx, func(outer store.Store) error {
		newAccount(t, outer, "outer")
		return outer.Tx(ctx, func(inner store.Store) error {
			if err := writeAll(t, inner); err != nil {
				return err
			}
			return errBoom
		})
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Tx returned %v, want %v", err, errBoom)
	}
	_, err = s.GetAccountByUsername(ctx, "outer")
	wantErr(t, "outer account after inner error", err, store.ErrNotFound)
	if ok, msgs, evs := countAll(t, s); ok || msgs != 0 || evs != 0 {
		t.Errorf("after nested rollback: account %v, %d messages, %d events; want nothing written", ok, msgs, evs)
	}
}

func testTxIsolation(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	err := s.Tx(ctx, func(tx store.Store) error {
		newAccount(t, tx, "uncommitted")
		_, err := s.GetAccountByUsername(ctx, "uncommitted")
		wantErr(t, "reading an uncommitted account outside the transaction", err, store.ErrNotFound)
		return nil
	})
	must(t, err)
	if _, err := s.GetAccountByUsername(ctx, "uncommitted"); err != nil {
		t.Errorf("after commit: %v", err)
	}
}

// testTxAfterCommit: functions deferred with AfterCommit (in the transaction and in a nested
// one) run once, after the commit, when the transaction's writes are visible to others.
func testTxAfterCommit(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	var seen []int // messages visible outside the transaction when each function ran
	look := func() {
		_, msgs, _ := countAll(t, s)
		seen = append(seen, msgs)
	}
	err := s.Tx(ctx, func(tx store.Store) error {
		if err := writeAll(t, tx); err != nil {
			return err
		}
		tx.AfterCommit(look)
		if err := tx.Tx(ctx, func(inner store.Store) error { inner.AfterCommit(look); return nil }); err != nil {
			return err
		}
		if len(seen) != 0 {
			t.Errorf("AfterCommit ran %d functions before the commit", len(seen))
		}
		return nil
	})
	must(t, err)
	if len(seen) != 2 || seen[0] != 1 || seen[1] != 1 {
		t.Errorf("after the commit the functions saw %v messages, want [1 1] (both ran once, after the commit)", seen)
	}
}

// testTxAfterCommitRollback: nothing deferred in a transaction that rolls back ever runs.
func testTxAfterCommitRollback(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	ran := 0
	err := s.Tx(ctx, func(tx store.Store) error {
		tx.AfterCommit(func() { ran++ })
		if err := tx.Tx(ctx, func(inner store.Store) error { inner.AfterCommit(func() { ran++ }); return nil }); err != nil {
			return err
		}
		return errBoom
	})
	wantErr(t, "Tx", err, errBoom)
	if ran != 0 {
		t.Errorf("%d functions deferred in a rolled-back transaction ran", ran)
	}
}

// testTxAfterCommitOutside: outside a transaction every write is committed: fn runs at once.
func testTxAfterCommitOutside(t *testing.T, s store.Store) {
	ran := 0
	s.AfterCommit(func() { ran++ })
	if ran != 1 {
		t.Errorf("AfterCommit outside a transaction ran fn %d times, want once at once", ran)
	}
}
