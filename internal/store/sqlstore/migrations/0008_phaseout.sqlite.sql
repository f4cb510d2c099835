-- Append-only: never edit this file once it has landed; add a new NNNN_name.<dialect>.sql.
-- Phasing out a key kind (internal/phaseout, SPEC §5): at most one policy per kind. Instants are
-- unix microseconds, 0 when unset; unused_months 0 means keys are never deactivated for lack
-- of use. Every node reads the same rows, so every node decides the same phase.
CREATE TABLE phaseout_policies (
    kind                   TEXT    PRIMARY KEY,
    activation_closed_from BIGINT  NOT NULL DEFAULT 0,
    migration_prompt_from  BIGINT  NOT NULL DEFAULT 0,
    disabled_from          BIGINT  NOT NULL DEFAULT 0,
    unused_months          INTEGER NOT NULL DEFAULT 0,
    updated_at             BIGINT  NOT NULL
);

-- Periodic jobs that one node at a time runs (the phase-out's expiry and unused-key jobs): the
-- node that holds a job's row until lease_until runs it.
CREATE TABLE job_leases (
    job         TEXT   PRIMARY KEY,
    owner       TEXT   NOT NULL,
    lease_until BIGINT NOT NULL
);

-- The deadline of the last "your key will be deactivated" warning sent for a key unused for
-- long (0: none), so each warning goes out once; a key used again gets a later deadline.
ALTER TABLE keys ADD COLUMN unused_warned_for BIGINT NOT NULL DEFAULT 0;
-- The phase-out's batched jobs walk the active keys of one kind.
CREATE INDEX keys_kind_status ON keys (kind, status, id);
