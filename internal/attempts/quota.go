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
	key := q.key(scope, start)
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

// Return gives back one use of scope taken at takenAt (read from the same clock just before
// Take), to the window it was counted in; a use of a window that has ended changes nothing,
// since every window starts from zero. The logon-starts quota returns a start when its logon
// completes, so the quota bounds the pre-logon sessions left open, not the logons an address
// completes (an office behind one address).
func (q *Quota) Return(ctx context.Context, scope Scope, takenAt time.Time) error {
	start := takenAt.Truncate(q.window)
	if !q.now().Before(start.Add(q.window)) {
		return nil
	}
	if err := q.st.ReleaseAttempt(ctx, q.key(scope, start), q.max); err != nil {
		return fmt.Errorf("return quota: %w", err)
	}
	return nil
}

// key names the counter of scope's window that starts at start.
func (q *Quota) key(scope Scope, start time.Time) string {
	return string(scope) + "@" + strconv.FormatInt(start.Unix(), 10)
}
