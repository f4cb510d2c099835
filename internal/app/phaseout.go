package app

import (
	"time"

	"github.com/sleutelbos/sleutelbos/internal/phaseout"
	"github.com/sleutelbos/sleutelbos/internal/portal"
)

// kindPolicy is the phase-out policies as My digital keys asks for them (portal.KindPolicy).
type kindPolicy struct{ p *phaseout.Policies }

var _ portal.KindPolicy = kindPolicy{}

// ActivationOpen reports whether new keys of kind may be activated at now.
func (k kindPolicy) ActivationOpen(kind string, now time.Time) bool {
	return k.p.ActivationOpen(kind, now)
}

// Disabled reports whether keys of kind are expired at now.
func (k kindPolicy) Disabled(kind string, now time.Time) bool { return k.p.Disabled(kind, now) }

// PhaseOut returns the kind's phase-out instants when it has a policy that sets any.
func (k kindPolicy) PhaseOut(kind string) (portal.PhaseOut, bool) {
	pol, ok := k.p.Get(kind)
	if !ok || (pol.ActivationClosedFrom.IsZero() && pol.MigrationPromptFrom.IsZero() && pol.DisabledFrom.IsZero()) {
		return portal.PhaseOut{}, false
	}
	return portal.PhaseOut{ActivationClosedFrom: pol.ActivationClosedFrom, MigrationPromptFrom: pol.MigrationPromptFrom,
		DisabledFrom: pol.DisabledFrom}, true
}
