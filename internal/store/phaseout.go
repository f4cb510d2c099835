package store

import (
	"context"
	"time"
)

// PhaseoutPolicy is the stored phase-out policy of one key kind (SPEC §5). A zero instant is
// unset; UnusedMonths 0 means keys are never deactivated for lack of use. The rules that read
// it live in internal/phaseout; the store only keeps it, so that every node agrees.
type PhaseoutPolicy struct {
	Kind                 string
	ActivationClosedFrom time.Time
	MigrationPromptFrom  time.Time
	DisabledFrom         time.Time
	UnusedMonths         int // deactivate keys unused for this many months; 0: never
	UpdatedAt            time.Time
}

// PhaseoutPolicies stores the phase-out policies, one per key kind at most.
type PhaseoutPolicies interface {
	// PutPhaseoutPolicy inserts p or replaces the kind's policy.
	PutPhaseoutPolicy(ctx context.Context, p PhaseoutPolicy) error
	// GetPhaseoutPolicy returns the kind's policy, or ErrNotFound.
	GetPhaseoutPolicy(ctx context.Context, kind string) (PhaseoutPolicy, error)
	// ListPhaseoutPolicies returns every policy, ordered by kind.
	ListPhaseoutPolicies(ctx context.Context) ([]PhaseoutPolicy, error)
	// DeletePhaseoutPolicy removes the kind's policy; ErrNotFound when it has none.
	DeletePhaseoutPolicy(ctx context.Context, kind string) error
	// LockPhaseoutPolicies, inside Tx, makes concurrent transactions that also lock the
	// policies wait until this one ends, so that a change checked against every policy is not
	// raced by another; outside a transaction it returns ErrNoTransaction.
	LockPhaseoutPolicies(ctx context.Context) error
}

// JobLeases lets one node at a time run a periodic job (the phase-out's expiry and unused-key
// jobs) among several behind a load balancer.
type JobLeases interface {
	// AcquireJobLease gives the lease on job to owner until until, and reports whether it did:
	// when nobody holds it, when its holder's lease ran out (at or before now), or when owner
	// holds it already (a renewal). Of concurrent acquisitions at most one succeeds.
	AcquireJobLease(ctx context.Context, job, owner string, now, until time.Time) (bool, error)
	// ReleaseJobLease ends owner's lease on job (nothing when another holds it).
	ReleaseJobLease(ctx context.Context, job, owner string) error
}

// KeysOfKind lists keys by kind for the phase-out's batched jobs.
type KeysOfKind interface {
	// ListActiveKeysOfKind returns up to limit active keys of kind with ID > afterID, by ID.
	ListActiveKeysOfKind(ctx context.Context, kind string, afterID int64, limit int) ([]Key, error)
	// ListUnusedKeys returns up to limit active keys of kind with ID > afterID, by ID, whose
	// last use — their activation when never used — was before usedBefore.
	ListUnusedKeys(ctx context.Context, kind string, usedBefore time.Time, afterID int64, limit int) ([]Key, error)
	// MarkUnusedWarning records that the key's citizen was warned of its deactivation at
	// deadline, unless a warning for a deadline at or after due is recorded already (due is
	// the key's deadline from its last use; deadline may be later when the warning comes
	// late). It reports whether this call recorded it, so each warning is sent once,
	// whichever node sends it.
	MarkUnusedWarning(ctx context.Context, keyID int64, due, deadline time.Time) (bool, error)
	// RestoreExpiredKeys makes the expired keys of kind whose cause is cause active again
	// (their activation and last use unchanged) and returns them: a phase-out moved later or
	// cleared gives back what its switch-off took.
	RestoreExpiredKeys(ctx context.Context, kind, cause string) ([]Key, error)
	// CountStranded counts the accounts that have an active key of kind and no active key of
	// any kind in others: the citizens a switch-off of kind would leave without one of them.
	CountStranded(ctx context.Context, kind string, others []string) (int64, error)
}
