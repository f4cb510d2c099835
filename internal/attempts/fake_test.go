package attempts

import (
	"context"
	"github.com/sleutelbos/sleutelbos/internal/clock"
	"sync"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// fakeStore is an in-memory store.Attempts for unit tests. The real stores are tested by the
// storage conformance suite.
type fakeStore struct {
	mu   sync.Mutex
	rows map[string]store.Attempt
	err  error // returned by every method when set
}

var _ store.Attempts = (*fakeStore)(nil)

func newFakeStore() *fakeStore { return &fakeStore{rows: make(map[string]store.Attempt)} }

func (f *fakeStore) GetAttempt(_ context.Context, scope string) (store.Attempt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return store.Attempt{}, f.err
	}
	a, ok := f.rows[scope]
	if !ok {
		return store.Attempt{Scope: scope}, nil
	}
	return a, nil
}

func (f *fakeStore) ReserveAttempt(_ context.Context, scope string, now time.Time, window time.Duration, throttle func(int) time.Time) (store.Attempt, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return store.Attempt{}, false, f.err
	}
	a := f.rows[scope]
	a.Scope = scope
	if now.Before(a.ThrottledUntil) {
		return a, false, nil
	}
	if window > 0 && now.Sub(a.UpdatedAt) >= window {
		a.Failures = 0
	}
	a.Failures++
	a.ThrottledUntil = throttle(a.Failures)
	a.UpdatedAt = now
	f.rows[scope] = a
	return a, true, nil
}

func (f *fakeStore) ReleaseAttempt(_ context.Context, scope string, threshold int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if a, ok := f.rows[scope]; ok && a.Failures > 0 {
		a.Failures--
		if a.Failures < threshold {
			a.ThrottledUntil = time.Time{}
		}
		f.rows[scope] = a
	}
	return nil
}

func (f *fakeStore) ResetAttempts(_ context.Context, scope string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	delete(f.rows, scope)
	return nil
}

func newClock() *clock.Fake { return clock.NewFake(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)) }

func (f *fakeStore) DeleteAttemptsBefore(_ context.Context, cutoff time.Time) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n int64
	for scope, a := range f.rows {
		if a.UpdatedAt.Before(cutoff) && !a.ThrottledUntil.After(cutoff) {
			delete(f.rows, scope)
			n++
		}
	}
	return n, nil
}
