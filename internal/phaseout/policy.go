package phaseout

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Brussels must load on hosts without a zoneinfo database

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Zone is the time zone of phase-out instants (SPEC §5: Europe/Brussels).
const Zone = "Europe/Brussels"

// brussels is loaded once; the embedded tzdata makes the load infallible in practice, and a
// failure would be a broken build, which init reports.
var brussels = mustLoad(Zone)

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(fmt.Sprintf("phaseout: load time zone %s: %v", name, err))
	}
	return loc
}

// Brussels returns the Europe/Brussels location, in which instants are shown and plain dates
// are read.
func Brussels() *time.Location { return brussels }

// Phase is where a key kind stands in its phase-out at one instant. Each phase keeps the
// restrictions of the ones before it: activation is closed from the first of them.
type Phase int

// Phases, in the order a kind passes through them.
const (
	// Normal: nothing is phased out; keys are activated and log on.
	Normal Phase = iota
	// ActivationClosed: no new keys of the kind; existing ones log on as before.
	ActivationClosed
	// Prompt: choosing the kind at logon shows the migration pop-up first.
	Prompt
	// Disabled: the kind is not offered and its keys are expired.
	Disabled
)

// String returns the phase's name as the CLI and reports show it.
func (p Phase) String() string {
	switch p {
	case Normal:
		return "normal"
	case ActivationClosed:
		return "activation closed"
	case Prompt:
		return "prompt"
	case Disabled:
		return "disabled"
	}
	return "phase(" + strconv.Itoa(int(p)) + ")"
}

// Policy is the phase-out policy of one key kind (SPEC §5). A zero instant is unset: that
// phase never begins. UnusedMonths, when positive, deactivates keys of the kind unused for
// that many months (CSAM: 12).
type Policy struct {
	Kind                 string
	ActivationClosedFrom time.Time
	MigrationPromptFrom  time.Time
	DisabledFrom         time.Time
	UnusedMonths         int
}

// Decide returns the phase of p at now: the latest phase whose instant is set and at or
// before now. It is pure, so every node, page and report that asks gets the same answer for
// the same instant.
func Decide(p Policy, now time.Time) Phase {
	switch {
	case reached(p.DisabledFrom, now):
		return Disabled
	case reached(p.MigrationPromptFrom, now):
		return Prompt
	case reached(p.ActivationClosedFrom, now):
		return ActivationClosed
	}
	return Normal
}

// reached reports whether the instant is set and not after now.
func reached(instant, now time.Time) bool { return !instant.IsZero() && !now.Before(instant) }

// UnusedDeadline returns when a key last used (or, never used, activated) at lastUse is
// deactivated for lack of use: UnusedMonths calendar months later in Brussels time. Zero when
// the policy deactivates no unused keys.
func (p Policy) UnusedDeadline(lastUse time.Time) time.Time {
	if p.UnusedMonths <= 0 {
		return time.Time{}
	}
	return lastUse.In(brussels).AddDate(0, p.UnusedMonths, 0)
}

// FromStore converts a stored policy.
func FromStore(sp store.PhaseoutPolicy) Policy {
	return Policy{Kind: sp.Kind, ActivationClosedFrom: sp.ActivationClosedFrom, MigrationPromptFrom: sp.MigrationPromptFrom,
		DisabledFrom: sp.DisabledFrom, UnusedMonths: sp.UnusedMonths}
}

// ToStore converts p for storing, stamped updated at now.
func (p Policy) ToStore(now time.Time) store.PhaseoutPolicy {
	return store.PhaseoutPolicy{Kind: p.Kind, ActivationClosedFrom: p.ActivationClosedFrom, MigrationPromptFrom: p.MigrationPromptFrom,
		DisabledFrom: p.DisabledFrom, UnusedMonths: p.UnusedMonths, UpdatedAt: now}
}

// CheckOrder reports every problem with p's own values: no kind, no instant and no unused
// period at all, instants not strictly in the order activation closed < prompt < disabled
// (among those set), a negative unused period. Which kinds exist is the Service's question.
func (p Policy) CheckOrder() error {
	var errs []error
	if p.Kind == "" {
		errs = append(errs, errors.New("no key kind given"))
	}
	if p.ActivationClosedFrom.IsZero() && p.MigrationPromptFrom.IsZero() && p.DisabledFrom.IsZero() && p.UnusedMonths == 0 {
		errs = append(errs, errors.New("the policy sets nothing: give at least one instant or --deactivate-unused-after"))
	}
	if p.UnusedMonths < 0 {
		errs = append(errs, fmt.Errorf("deactivate-unused-after %d months: must be positive", p.UnusedMonths))
	}
	named := []struct {
		name string
		at   time.Time
	}{
		{"activation-closed-from", p.ActivationClosedFrom},
		{"migration-prompt-from", p.MigrationPromptFrom},
		{"disabled-from", p.DisabledFrom},
	}
	for i, a := range named {
		for _, b := range named[i+1:] {
			if a.at.IsZero() || b.at.IsZero() || a.at.Before(b.at) {
				continue
			}
			rel := "after"
			if a.at.Equal(b.at) {
				rel = "equal to"
			}
			errs = append(errs, fmt.Errorf("%s (%s) is %s %s (%s): want %s before %s",
				a.name, Format(a.at), rel, b.name, Format(b.at), a.name, b.name))
		}
	}
	return errors.Join(errs...)
}

// ParseInstant reads an instant: RFC 3339 ("2024-01-31T00:00:00+01:00") or a plain date
// ("2024-01-31"), which means midnight at the start of that day in Brussels. An empty string
// is the zero time (unset).
func ParseInstant(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC().Truncate(time.Microsecond), nil
	}
	if d, err := time.ParseInLocation(time.DateOnly, s, brussels); err == nil {
		return d.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not an instant: give a date (2024-01-31, midnight in Brussels) or RFC 3339 (2024-01-31T00:00:00+01:00)", s)
}

// ParseMonths reads an unused period: "12mo", "12 months", "1y" / "1 year" or a plain number
// of months. Empty is 0 (none).
func ParseMonths(s string) (int, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return 0, nil
	}
	mult := 1
	for _, suf := range []struct {
		s string
		m int
	}{{"months", 1}, {"month", 1}, {"mo", 1}, {"years", 12}, {"year", 12}, {"y", 12}} {
		if strings.HasSuffix(t, suf.s) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, suf.s)), suf.m
			break
		}
	}
	n, err := strconv.Atoi(t)
	if err != nil || n <= 0 || n > 1200/mult {
		return 0, fmt.Errorf("%q is not a period: give months as 12mo (or 1y), at least one", s)
	}
	return n * mult, nil
}

// Format shows an instant in Brussels time (RFC 3339 with its offset); "-" when unset.
func Format(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(brussels).Format(time.RFC3339)
}
