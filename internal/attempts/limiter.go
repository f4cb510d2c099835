package attempts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Catalogue keys of the throttle message: one for a single minute, one for more.
const (
	keyThrottled       = "attempts.error.throttled"        // {0} = minutes, more than one
	keyThrottledMinute = "attempts.error.throttled_minute" // one minute
)

// ErrThrottled matches every *ThrottledError with errors.Is.
var ErrThrottled = errors.New("too many failed attempts")

// ThrottledError says a scope is throttled until Until. It unwraps to an *i18n.LocalizedError
// ("Too many attempts. Try again in 3 minutes."), so the web layer can show it as it is.
type ThrottledError struct {
	Until time.Time     // when the next attempt is allowed
	Wait  time.Duration // how long that is from now

	minutes int
	msg     *i18n.LocalizedError
}

// newThrottledError says the scope is throttled until until, now. longest is the throttle the
// scope's count set (0: unknown): the wait told never exceeds it (see Limiter.throttledError).
func newThrottledError(until, now time.Time, longest time.Duration) *ThrottledError {
	wait := until.Sub(now)
	if longest > 0 && wait > longest {
		wait = longest
	}
	minutes := int((wait + time.Minute - 1) / time.Minute) // rounded up: never promise too early
	key := keyThrottled
	if minutes <= 1 {
		minutes, key = 1, keyThrottledMinute
	}
	return &ThrottledError{Until: until, Wait: wait, minutes: minutes, msg: i18n.NewError(key, minutes)}
}

// Error describes the throttle for logs.
func (e *ThrottledError) Error() string {
	return fmt.Sprintf("%v: throttled until %s", ErrThrottled, e.Until.UTC().Format(time.RFC3339))
}

// Is reports whether target is ErrThrottled.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// Unwrap returns the message for the citizen.
func (e *ThrottledError) Unwrap() error { return e.msg }

// Minutes returns the wait in whole minutes, rounded up (at least 1), as the citizen is told.
func (e *ThrottledError) Minutes() int { return e.minutes }

// Store is what a Limiter uses: the counters, reserved, released and reset in the store so all
// nodes agree (store.Store implements it).
type Store interface {
	GetAttempt(ctx context.Context, scope string) (store.Attempt, error)
	ReserveAttempt(ctx context.Context, scope string, now time.Time, window time.Duration, throttle func(failures int) time.Time) (store.Attempt, bool, error)
	ReleaseAttempt(ctx context.Context, scope string, threshold int) error
	ResetAttempts(ctx context.Context, scope string) error
	BeginAttempt(ctx context.Context, scope string, now time.Time, window time.Duration, throttle func(failures int) time.Time) (store.Attempt, bool, error)
	SettleAttempt(ctx context.Context, scope string, withdraw bool, threshold int) error
}

var _ Store = store.Store(nil)

// Limiter throttles scopes after repeated failures, following a Policy, with the counters in
// the store. It is safe for concurrent use.
type Limiter struct {
	st     Store
	policy Policy
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
}

// Waits for attempts in flight (Begin): the first pause, the longest, and the most paused in
// all before the request is refused after all. A check is one password hash: tens of
// milliseconds alone, but under overload it first waits its turn in the hash queue (serve's
// password-queue, 256 requests by default, is several seconds of hashing on two cores; 64
// clients from one address saw 9 s logons, and 5 s of waiting was too short for some). 20 s
// covers that and stays below serve's 30 s write timeout; the pauses grow to half a second,
// so a waiting request re-reads its counter at most twice a second.
const (
	firstInFlightWait = 10 * time.Millisecond
	maxInFlightWait   = 500 * time.Millisecond
	inFlightWaitTotal = 20 * time.Second
)

// New returns a Limiter over st applying p (which should pass Validate), reading the time from
// now.
func New(st Store, p Policy, now func() time.Time) *Limiter {
	return &Limiter{st: st, policy: p, now: now, sleep: sleepCtx}
}

// WithSleep returns a copy of l that pauses with sleep while it waits for attempts in flight
// (Begin); sleep returns early with the context's error. Tests pass one that does not really
// sleep.
func (l *Limiter) WithSleep(sleep func(context.Context, time.Duration) error) *Limiter {
	c := *l
	c.sleep = sleep
	return &c
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Policy returns the policy the limiter applies.
func (l *Limiter) Policy() Policy { return l.policy }

// Check returns a *ThrottledError when scope is throttled now, and nil otherwise. It only
// reads: to guard a check of a password or code, use Reserve, which counts atomically.
func (l *Limiter) Check(ctx context.Context, scope Scope) error {
	_, err := l.Peek(ctx, scope)
	return err
}

// Peek returns scope's counter and, when the scope is throttled now, the *ThrottledError that
// Reserve would answer with — the same rule, read without counting (the helpdesk's
// explanation of a failing logon asks it).
func (l *Limiter) Peek(ctx context.Context, scope Scope) (store.Attempt, error) {
	a, err := l.st.GetAttempt(ctx, string(scope))
	if err != nil {
		return store.Attempt{}, fmt.Errorf("check attempts: %w", err)
	}
	return a, l.throttled(a)
}

// Reserve counts one attempt in scope before it is made, or returns a *ThrottledError (and
// counts nothing) when the scope is throttled. Callers reserve, then verify the password or
// code, then call Succeed (or Release) when it was right: counting before verifying is what
// makes a burst of parallel guesses get no more tries than the policy allows. When the
// reservation reaches the policy's threshold, the returned Attempt's ThrottledUntil lies in the
// future and the next reservation is refused.
func (l *Limiter) Reserve(ctx context.Context, scope Scope) (store.Attempt, error) {
	now := l.now()
	a, ok, err := l.st.ReserveAttempt(ctx, string(scope), now, l.policy.Window, l.throttleAt(now))
	if err != nil {
		return store.Attempt{}, fmt.Errorf("reserve attempt: %w", err)
	}
	if !ok {
		return a, l.throttledError(a, now)
	}
	return a, nil
}

// Begin is Reserve for a check whose outcome the caller reports: Fail when the answer was
// wrong, Succeed when it was right, Withdraw when nothing was compared (or, on a per-address
// scope, after a success). Until then the reservation is in flight. Counting stays before
// checking, so a burst of parallel guesses still gets exactly Threshold checks; but a request
// that would be refused only because of reservations in flight — the settled failures alone
// are below the threshold — is not told "too many attempts": it waits (a few seconds at most,
// pausing with backoff, ending early with ctx) for them to settle and reserves again. A right
// answer before it resets the count and it goes ahead; wrong ones throttle it as usual. So
// parallel logons with the right password are never refused because of each other.
func (l *Limiter) Begin(ctx context.Context, scope Scope) (store.Attempt, error) {
	wait, waited := firstInFlightWait, time.Duration(0)
	for {
		now := l.now()
		a, ok, err := l.st.BeginAttempt(ctx, string(scope), now, l.policy.Window, l.throttleAt(now))
		if err != nil {
			return store.Attempt{}, fmt.Errorf("reserve attempt: %w", err)
		}
		if ok {
			return a, nil
		}
		if !l.inFlightOnly(a) || waited >= inFlightWaitTotal {
			return a, l.throttledError(a, now)
		}
		if err := l.sleep(ctx, wait); err != nil {
			return store.Attempt{}, fmt.Errorf("wait for attempts in flight: %w", err)
		}
		waited += wait
		wait = min(2*wait, maxInFlightWait)
	}
}

// inFlightOnly reports whether a refusal of a is due to attempts in flight alone: the store's
// rule (BeginAttempt) with this limiter's policy.
func (l *Limiter) inFlightOnly(a store.Attempt) bool {
	return a.Pending > 0 && l.policy.Throttle(a.Failures-a.Pending) <= 0
}

// Fail settles an attempt Begin reserved whose answer was wrong: it stays counted.
func (l *Limiter) Fail(ctx context.Context, scope Scope) error {
	if err := l.st.SettleAttempt(ctx, string(scope), false, l.policy.Threshold); err != nil {
		return fmt.Errorf("settle attempt: %w", err)
	}
	return nil
}

// Withdraw settles an attempt Begin reserved by taking it back, as Release does for Reserve.
func (l *Limiter) Withdraw(ctx context.Context, scope Scope) error {
	if err := l.st.SettleAttempt(ctx, string(scope), true, l.policy.Threshold); err != nil {
		return fmt.Errorf("withdraw attempt: %w", err)
	}
	return nil
}

// throttleAt returns the store's throttle rule for a reservation at now: the policy's throttle
// from now, or the zero time below the threshold.
func (l *Limiter) throttleAt(now time.Time) func(int) time.Time {
	return func(failures int) time.Time {
		d := l.policy.Throttle(failures)
		if d <= 0 {
			return time.Time{}
		}
		return now.Add(d)
	}
}

// throttledError describes the throttle of a at now. The wait told is the time until the
// throttle ends, but never more than the throttle the scope's count set: it ended the reservation
// that set it, at that reservation's instant. A now older than that instant — read before this
// reservation waited for the row that a concurrent reservation held while it set the throttle,
// or on a node whose clock is a little behind — would otherwise add the difference to the wait,
// and rounding up turned a 1-minute throttle into "2 minutes".
func (l *Limiter) throttledError(a store.Attempt, now time.Time) *ThrottledError {
	return newThrottledError(a.ThrottledUntil, now, l.policy.Throttle(a.Failures))
}

// Release takes back one reserved attempt — one that succeeded (per-address scopes), or that
// ended before anything was compared — and lifts the throttle when the count drops below the
// policy's threshold.
func (l *Limiter) Release(ctx context.Context, scope Scope) error {
	if err := l.st.ReleaseAttempt(ctx, string(scope), l.policy.Threshold); err != nil {
		return fmt.Errorf("release attempt: %w", err)
	}
	return nil
}

// Succeed resets scope's counter after a success (attempts in flight included).
func (l *Limiter) Succeed(ctx context.Context, scope Scope) error {
	if err := l.st.ResetAttempts(ctx, string(scope)); err != nil {
		return fmt.Errorf("reset attempts: %w", err)
	}
	return nil
}

// Throttled returns a *ThrottledError when a is throttled now (for the Attempt Fail returned),
// and nil otherwise.
func (l *Limiter) Throttled(a store.Attempt) error {
	return l.throttled(a)
}

func (l *Limiter) throttled(a store.Attempt) error {
	now := l.now()
	if !now.Before(a.ThrottledUntil) {
		return nil
	}
	return l.throttledError(a, now)
}
