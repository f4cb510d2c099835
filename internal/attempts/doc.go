// Package attempts counts attempts at guessing and throttles what is being guessed at.
//
// A scope names what is counted: a typed username's password (PasswordScope), one key's codes
// (FactorScope), or one client address and action (IPScope). Callers build scopes only with
// these constructors, so every node and every flow spells them the same way. Counters live in
// the store (Store, a few methods of store.Store), so all nodes agree.
//
// A Limiter applies a Policy: after Threshold consecutive failures the scope is throttled for
// Base, and every further failure doubles the wait up to Max (by default 5 failures, then 1, 2,
// 4, … minutes, at most an hour). Attempts are counted *before* they are checked:
//
//	if _, err := lim.Reserve(ctx, scope); err != nil { … } // *ThrottledError: show it
//	… verify …
//	if right { lim.Succeed(ctx, scope) } // per-address scopes: lim.Release(ctx, scope)
//
// Reserve is one locked step in the store, so a burst of parallel guesses gets exactly
// Threshold checks; counting after the check would let the whole burst through. Succeed resets
// a factor's counter; Release takes one reservation back (a per-address scope after a success,
// or any scope when nothing was compared) and lifts the throttle below the threshold. A
// policy's Window forgets a per-address count after a quiet period, inside the same step.
//
// A check whose outcome the caller reports uses Begin instead of Reserve, then Fail (wrong),
// Succeed (right) or Withdraw (nothing compared; a per-address scope after a success). Its
// reservation is in flight until then, and the store tells those apart from settled failures:
// a request refused only because of reservations in flight waits a few seconds at most for
// them to settle instead of being told "too many attempts", so parallel logons with the right
// password never refuse each other, while parallel guesses still get exactly Threshold
// checks. Reservations still in flight once their scope has seen none for
// store.PendingAttemptTTL (a minute: a crashed request) count as settled failures.
//
// The key lockout uses the code factor's counter: the logon flow locks the key when a failed
// reservation's count reaches KeyLockoutFailures.
//
// Password scopes are keyed by the username as typed (case-folded and hashed), never by the
// account: an unknown username is counted and throttled exactly like a known one, so
// throttling reveals nothing about which usernames exist.
//
// A ThrottledError carries the instant the throttle ends and, for the citizen, an
// i18n.LocalizedError saying how many minutes to wait, rounded up but never more than the
// throttle the scope's count set: a refused request's clock reading may be older than the
// throttle's start (it waited for the row while a concurrent request set the throttle, or its
// node's clock is a little behind), and that difference must not turn "1 minute" into "2".
// errors.Is(err, ErrThrottled) finds it.
package attempts
