package attempts

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/clock"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// waitingStore runs first before each ReserveAttempt it passes on: what a concurrent request
// does while this one waits for the row's lock.
type waitingStore struct {
	Store
	first func()
}

func (s waitingStore) ReserveAttempt(ctx context.Context, scope string, now time.Time, window time.Duration, throttle func(int) time.Time) (store.Attempt, bool, error) {
	if s.first != nil {
		s.first()
	}
	return s.Store.ReserveAttempt(ctx, scope, now, window, throttle)
}

// TestThrottleMessageTellsTheThrottle: a request refused by a 1-minute throttle is told "1
// minute", also when its clock reading is older than the instant the throttle was set. That is
// the usual case in a burst: a request reads the clock, then waits for the counter's row while
// a concurrent request holds it and sets the throttle (PostgreSQL serves such bursts truly in
// parallel, so it showed "2 minutes" most often); and it is the case of a node whose clock is a
// little behind another's. Deterministic: fixed clocks, and the concurrent request run at the
// moment this one would wait for the row.
func TestThrottleMessageTellsTheThrottle(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		start := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
		for _, tt := range []struct {
			name  string
			ahead time.Duration // how much later the request that sets the throttle reads its clock
		}{
			{"waited for the row 3 ms", 3 * time.Millisecond},
			{"waited for the row 1 µs", time.Microsecond},
			{"node clock 900 ms behind", 900 * time.Millisecond},
		} {
			t.Run(tt.name, func(t *testing.T) {
				scope := PasswordScope(tt.name)
				setter := New(db, DefaultPolicy(), clock.NewFake(start.Add(tt.ahead)).Now)
				failN(t, setter, scope, 4)
				fifth := func() {
					if _, err := setter.Reserve(ctx, scope); err != nil {
						t.Errorf("the 5th failure, which sets the throttle: %v", err)
					}
				}
				refused := New(waitingStore{Store: db, first: fifth}, DefaultPolicy(), clock.NewFake(start).Now)
				_, err := refused.Reserve(ctx, scope)
				var te *ThrottledError
				if !errors.As(err, &te) {
					t.Fatalf("Reserve after the 5th failure = %v, want a *ThrottledError", err)
				}
				if te.Minutes() != 1 || te.Wait > time.Minute {
					t.Errorf("a 1-minute throttle is told as %d minutes (wait %s)", te.Minutes(), te.Wait)
				}
				if want := start.Add(tt.ahead).Add(time.Minute); !te.Until.Equal(want) {
					t.Errorf("Until = %s, want %s (the throttle's real end)", te.Until, want)
				}
				// Check reads the same counter and tells the same.
				if err := New(db, DefaultPolicy(), clock.NewFake(start).Now).Check(ctx, scope); !errors.As(err, &te) || te.Minutes() != 1 {
					t.Errorf("Check = %v, want 1 minute", err)
				}
			})
		}
	})
}
