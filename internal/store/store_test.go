package store

import (
	"context"
	"strings"
	"testing"
)

// txStore is a Store (its methods unimplemented) whose Tx hands fn itself, as a backend bound
// to a transaction does.
type txStore struct {
	Store
	calls int
}

func (s *txStore) Tx(ctx context.Context, fn func(Store) error) error {
	s.calls++
	return fn(s)
}

func TestInTx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := &txStore{}

	var got Accounts
	if err := InTx(ctx, st, func(tx Accounts) error { got = tx; return nil }); err != nil {
		t.Fatalf("InTx with a view Store implements: %v", err)
	}
	if got != Accounts(st) || st.calls != 1 {
		t.Errorf("fn got %v after %d Tx calls, want the transaction after 1", got, st.calls)
	}

	type notAStore interface {
		Launch(ctx context.Context) error
	}
	called := false
	err := InTx(ctx, st, func(notAStore) error { called = true; return nil })
	if err == nil || called || !strings.Contains(err.Error(), "notAStore") {
		t.Errorf("InTx with a view Store lacks: err %v, fn called %v; want an error naming the view and fn not called", err, called)
	}
}
