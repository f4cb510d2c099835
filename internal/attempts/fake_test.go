package attempts

import (
	"context"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// failingStore fails every call with err: the one thing a real store cannot be made to do on
// demand. Everything else runs on the real stores (eachStore).
type failingStore struct{ err error }

var _ Store = failingStore{}

func (f failingStore) GetAttempt(context.Context, string) (store.Attempt, error) {
	return store.Attempt{}, f.err
}

func (f failingStore) ReserveAttempt(context.Context, string, time.Time, time.Duration, func(int) time.Time) (store.Attempt, bool, error) {
	return store.Attempt{}, false, f.err
}

func (f failingStore) ReleaseAttempt(context.Context, string, int) error { return f.err }

func (f failingStore) ResetAttempts(context.Context, string) error { return f.err }

func (f failingStore) BeginAttempt(context.Context, string, time.Time, time.Duration, func(int) time.Time) (store.Attempt, bool, error) {
	return store.Attempt{}, false, f.err
}

func (f failingStore) SettleAttempt(context.Context, string, bool, int) error { return f.err }
