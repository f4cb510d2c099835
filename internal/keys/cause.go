package keys

// Deactivation causes, recorded on a key row (store.Key.DeactivationCause) when a key stops
// being active, shown in the key list and named in the e-mail that tells the citizen.
const (
	CauseCitizen   = "citizen"   // the citizen deactivated it in My digital keys
	CauseMigration = "migration" // replaced by a new key (the phase-out's "activate a new key now")
	CauseHelpdesk  = "helpdesk"  // a helpdesk agent deactivated it
	CauseLockout   = "lockout"   // locked after too many wrong codes
	CauseUnused    = "unused"    // deactivated after a long time without use
	CausePhaseOut  = "phase-out" // its kind was switched off
	CauseLost      = "lost"      // the citizen reported it lost or stolen ("I lost this key")
)

// Causes returns every deactivation cause, for the templates and tests that must cover them.
func Causes() []string {
	return []string{CauseCitizen, CauseMigration, CauseHelpdesk, CauseLockout, CauseUnused, CausePhaseOut, CauseLost}
}
