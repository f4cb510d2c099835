package attempts

import (
	"errors"
	"fmt"
	"time"
)

// KeyLockoutFailures is the number of consecutive failures on a key (FactorScope) after which the
// key is locked until the citizen reactivates it.
const KeyLockoutFailures = 100

// Policy says when a scope is throttled and for how long: after Threshold consecutive
// failures for Base, doubling with every further failure up to Max.
type Policy struct {
	Threshold int
	Base      time.Duration
	Max       time.Duration
	// Window, when positive, forgets the failures of a scope that has seen none for that long
	// (and is not throttled). Per-address limits need it: a busy shared address (an office
	// behind one NAT) would otherwise collect failures forever. Zero never forgets: a citizen's
	// own factor counts consecutive failures until a success.
	Window time.Duration
}

// DefaultPolicy returns 5 failures, then 1 minute doubling to at most 1 hour.
func DefaultPolicy() Policy {
	return Policy{Threshold: 5, Base: time.Minute, Max: time.Hour}
}

// Validate reports every field outside its range.
func (p Policy) Validate() error {
	var errs []error
	if p.Threshold < 1 {
		errs = append(errs, fmt.Errorf("threshold is %d, want at least 1", p.Threshold))
	}
	if p.Base <= 0 {
		errs = append(errs, fmt.Errorf("base throttle is %s, want more than 0", p.Base))
	}
	if p.Window < 0 {
		errs = append(errs, fmt.Errorf("window is %s, want 0 (never forget) or more", p.Window))
	}
	if p.Max < p.Base {
		errs = append(errs, fmt.Errorf("maximum throttle %s is below the base throttle %s", p.Max, p.Base))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid attempts policy: %w", err)
	}
	return nil
}

// Throttle returns how long a scope is throttled after failures consecutive failures: 0 below
// Threshold, Base at Threshold, then doubling per failure up to Max.
func (p Policy) Throttle(failures int) time.Duration {
	if failures < p.Threshold {
		return 0
	}
	d := p.Base
	for range failures - p.Threshold {
		if d >= p.Max/2 {
			return p.Max
		}
		d *= 2
	}
	return min(d, p.Max)
}
