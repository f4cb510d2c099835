package phaseout

import (
	"time"

	"github.com/sleutelbos/sleutelbos/internal/portal"
)

// PortalPolicy is the policies as My digital keys asks for them (portal.KindPolicy): which
// kinds may be activated, which are expired, and the dates the Info page shows.
type PortalPolicy struct{ P *Policies }

var _ portal.KindPolicy = PortalPolicy{}

// ActivationOpen reports whether new keys of kind may be activated at now.
func (k PortalPolicy) ActivationOpen(kind string, now time.Time) bool {
	return k.P.ActivationOpen(kind, now)
}

// Disabled reports whether keys of kind are expired at now.
func (k PortalPolicy) Disabled(kind string, now time.Time) bool { return k.P.Disabled(kind, now) }

// PhaseOut returns the kind's phase-out instants when its policy sets any.
func (k PortalPolicy) PhaseOut(kind string) (portal.PhaseOut, bool) {
	pol, ok := k.P.Get(kind)
	if !ok || (pol.ActivationClosedFrom.IsZero() && pol.MigrationPromptFrom.IsZero() && pol.DisabledFrom.IsZero()) {
		return portal.PhaseOut{}, false
	}
	return portal.PhaseOut{ActivationClosedFrom: pol.ActivationClosedFrom, MigrationPromptFrom: pol.MigrationPromptFrom,
		DisabledFrom: pol.DisabledFrom}, true
}
