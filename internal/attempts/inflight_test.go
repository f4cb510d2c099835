package attempts

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/clock"
)

// TestBeginWaitsForRightAnswers: a reservation refused only because the threshold's worth of
// checks are in flight waits for them; when one of them turns out right (the counter is reset)
// it goes ahead instead of being told "too many attempts".
func TestBeginWaitsForRightAnswers(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, l *Limiter, _ Store, _ *clock.Fake) {
		ctx := context.Background()
		scope := PasswordScope("jan")
		beginInFlight(t, l, scope, 5)
		sleeps := 0
		w := l.WithSleep(func(context.Context, time.Duration) error {
			sleeps++
			if sleeps == 2 {
				return l.Succeed(ctx, scope) // a parallel check found the right password
			}
			return nil
		})
		a, err := w.Begin(ctx, scope)
		if err != nil {
			t.Fatalf("Begin with 5 right answers in flight: %v", err)
		}
		if sleeps != 2 || a.Failures != 1 || a.Pending != 1 {
			t.Errorf("granted after %d pauses with %+v; want after 2, counted afresh (1 failure, 1 pending)", sleeps, a)
		}
	})
}

// TestBeginRefusedAfterWrongAnswers: when the checks in flight turn out wrong, the waiting
// reservation gets the ordinary refusal, and a refusal is counted for the audit log.
func TestBeginRefusedAfterWrongAnswers(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, l *Limiter, _ Store, _ *clock.Fake) {
		ctx := context.Background()
		scope := PasswordScope("jan")
		beginInFlight(t, l, scope, 5)
		sleeps := 0
		w := l.WithSleep(func(context.Context, time.Duration) error {
			sleeps++
			for range 5 {
				if err := l.Fail(ctx, scope); err != nil {
					return err
				}
			}
			return nil
		})
		a, err := w.Begin(ctx, scope)
		var te *ThrottledError
		if !errors.As(err, &te) || te.Minutes() != 1 {
			t.Fatalf("Begin after 5 wrong answers = %v, want a 1-minute *ThrottledError", err)
		}
		if sleeps != 1 || a.Refused != 1 || a.Pending != 0 {
			t.Errorf("refused after %d pauses with %+v; want after 1, 1 refusal counted, none pending", sleeps, a)
		}
	})
}

// TestBeginWaitIsBounded: checks in flight that never settle do not hold a waiting request for
// ever — it pauses for at most inFlightWaitTotal in all, then is refused; and a request whose
// context ends stops waiting at once.
func TestBeginWaitIsBounded(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, l *Limiter, _ Store, _ *clock.Fake) {
		ctx := context.Background()
		scope := PasswordScope("jan")
		beginInFlight(t, l, scope, 5)
		var paused time.Duration
		w := l.WithSleep(func(_ context.Context, d time.Duration) error { paused += d; return nil })
		if _, err := w.Begin(ctx, scope); !errors.Is(err, ErrThrottled) {
			t.Fatalf("Begin with checks in flight that never end = %v, want ErrThrottled", err)
		}
		if paused < inFlightWaitTotal || paused > inFlightWaitTotal+maxInFlightWait {
			t.Errorf("paused %s in all, want %s (one pause more at most)", paused, inFlightWaitTotal)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := l.Begin(cctx, scope); !errors.Is(err, context.Canceled) {
			t.Errorf("Begin with an ended context = %v, want context.Canceled", err)
		}
	})
}

// TestParallelRightAnswersAllAccepted: 16 parallel checks of a right answer on one scope
// (threshold 5) are all granted — each waits for the ones in flight instead of being refused —
// while 16 parallel wrong answers still get exactly 5 checks. Real pauses, real stores.
func TestParallelRightAnswersAllAccepted(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, l *Limiter, _ Store, _ *clock.Fake) {
		ctx := context.Background()
		burst := func(scope Scope, right bool) (checked, refused int) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			for range 16 {
				wg.Go(func() {
					_, err := l.Begin(ctx, scope)
					if err == nil {
						time.Sleep(time.Millisecond) // the check, while others reserve
						if right {
							err = l.Succeed(ctx, scope)
						} else {
							err = l.Fail(ctx, scope)
						}
						if err != nil {
							t.Error(err)
						}
					}
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						checked++
					case errors.Is(err, ErrThrottled):
						refused++
					default:
						t.Error(err)
					}
				})
			}
			wg.Wait()
			return checked, refused
		}
		if checked, refused := burst(PasswordScope("jan"), true); checked != 16 || refused != 0 {
			t.Errorf("16 parallel right answers: %d checked, %d refused; want 16 and 0", checked, refused)
		}
		if checked, refused := burst(PasswordScope("piet"), false); checked != 5 || refused != 11 {
			t.Errorf("16 parallel wrong answers: %d checked, %d refused; want 5 and 11", checked, refused)
		}
	})
}

// beginInFlight reserves n checks on scope that stay in flight (the policy's threshold is 5).
func beginInFlight(t *testing.T, l *Limiter, scope Scope, n int) {
	t.Helper()
	for range n {
		if _, err := l.Begin(context.Background(), scope); err != nil {
			t.Fatal(err)
		}
	}
}
