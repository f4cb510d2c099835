// Package attempts counts failed attempts and throttles what is being guessed at.
//
// A scope names what is counted: a typed username's password (PasswordScope), one key's codes
// (FactorScope), one key's lockout counter (KeyScope), or one client address and action
// (IPScope). Callers build scopes only with these constructors, so every node and every flow
// spells them the same way. Counters live in the store (store.Attempts), so all nodes agree.
//
// A Limiter applies a Policy: after Threshold consecutive failures the scope is throttled for
// Base, and every further failure doubles the wait up to Max (by default 5 failures, then 1, 2,
// 4, … minutes, at most an hour). A success resets the counter. The flow is:
//
//	if err := lim.Check(ctx, scope); err != nil { … } // *ThrottledError: show it
//	… verify …
//	if wrong { a, err := lim.Fail(ctx, scope) } else { err := lim.Succeed(ctx, scope) }
//
// The key lockout uses the counter, not the throttle: the logon flow calls Fail on KeyScope for
// every wrong code and locks the key when Attempt.Failures reaches KeyLockoutFailures.
//
// Password scopes are keyed by the username as typed (case-folded), never by the account: an
// unknown username is counted and throttled exactly like a known one, so throttling reveals
// nothing about which usernames exist.
//
// A ThrottledError carries the instant the throttle ends and, for the citizen, an
// i18n.LocalizedError saying how many minutes to wait; errors.Is(err, ErrThrottled) finds it.
package attempts
