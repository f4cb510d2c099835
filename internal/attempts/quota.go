package attempts

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Quota allows at most Max uses of a scope in each fixed window of time (a per-address limit
// on starting logons). Unlike a Limiter it counts uses, not failures: nothing is ever released,
// and a new window starts from zero. The counters are attempt counters in the store — one per
// scope and window, swept like the others once quiet — so every node shares them.
type Quota struct {
	st     Store
	max    int
	window time.Duration
	now    func() time.Time
}

// NewQuota returns a Quota over st of max uses per window, reading the time from now.
func NewQuota(st Store, max int, window time.Duration, now func() time.Time) (*Quota, error) {
	var errs []error
	if max < 1 {
		errs = append(errs, fmt.Errorf("quota of %d uses: want at least 1", max))
	}
	if window < time.Second {
		errs = append(errs, fmt.Errorf("quota window %s: want at least 1s", window))
	}
	if st == nil || now == nil {
		errs = append(errs, errors.New("quota: store and clock must be set"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Quota{st: st, max: max, window: window, now: now}, nil
}

// Take counts one use of scope in the current window. When the window's uses are spent it
// counts nothing and returns a *ThrottledError whose Until is the end of the window (the
// citizen is told how many minutes that is). Uses of one scope are counted in one locked step
// on all nodes, so a burst never gets more than the quota.
func (q *Quota) Take(ctx context.Context, scope Scope) error {
	now := q.now()
	start := now.Truncate(q.window)
	end := start.Add(q.window)
	key := string(scope) + "@" + strconv.FormatInt(start.Unix(), 10)
	_, ok, err := q.st.ReserveAttempt(ctx, key, now, 0, func(uses int) time.Time {
		if uses >= q.max {
			return end // the last use of the window: refuse the next until it ends
		}
		return time.Time{}
	})
	if err != nil {
		return fmt.Errorf("take quota: %w", err)
	}
	if !ok {
		return newThrottledError(end, now, q.window) // never more than a window
	}
	return nil
}
