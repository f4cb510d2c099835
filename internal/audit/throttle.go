package audit

import (
	"strconv"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Throttled returns the logon.throttled event of the throttle period counter a belongs to,
// with reason ReasonThrottleStarted (at the period's first refusal: a.Refused is 1) or
// ReasonThrottleEnded (the period's total, taken from the counter once the period is over).
// req carries the refused request's account, key and address for a start; a summary names
// only the scope. Every caller that reserves attempts — the logon, My digital keys, the
// sweeper — reports refusals through it, so a throttle period reads the same wherever it was.
func Throttled(req store.AuditEvent, a store.Attempt, reason string) store.AuditEvent {
	e := req
	e.Type, e.Reason, e.Actor = LogonThrottled, reason, ActorSystem
	e.Detail = map[string]string{"scope": a.Scope, "refused": strconv.Itoa(a.Refused), "until": a.ThrottledUntil.UTC().Format(time.RFC3339)}
	return e
}
