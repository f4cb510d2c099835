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
