// Package phaseout phases a key kind out (SPEC §5). A Policy per kind holds three instants —
// activation closed, migration prompt, disabled — and optionally a period after which unused
// keys are deactivated. Decide is the one pure function that says, for a policy and an
// instant, which Phase the kind is in; the chooser, the code step, the activation wizard, the
// Info page, the jobs and the reports all ask it, never the instants themselves.
//
// Policies live in the database (store.PhaseoutPolicies) so every node agrees; Service sets,
// shows and clears them with their validation and audit; Policies is the per-node view the
// hot path reads, refreshed from the database every few seconds. Jobs records the switch-off
// of a kind (its active keys become expired, with a key.expired event each) and deactivates
// keys unused for the policy's period, warning their citizens 14 days before — both in small
// batches, under a job lease so one node at a time runs them.
package phaseout
