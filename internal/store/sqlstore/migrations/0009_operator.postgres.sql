-- Append-only: never edit this file once it has landed; add a new NNNN_name.<dialect>.sql.
-- Roles (issue 9, operators; issue 12 adds "helpdesk" as one more value): which accounts may
-- use the operator pages. Checked on every request, so a revocation acts at once.
CREATE TABLE account_roles (
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    role       TEXT   NOT NULL,
    granted_at BIGINT NOT NULL,
    granted_by TEXT   NOT NULL DEFAULT '',
    PRIMARY KEY (account_id, role)
);
CREATE INDEX account_roles_role ON account_roles (role, account_id);

-- Reminder rounds of a phase-out campaign: a round per kind and number, and one row per citizen
-- reminded in it, written in the transaction that enqueues the e-mail — so a round resumed after
-- a crash, or run twice at once, reminds nobody twice.
CREATE TABLE reminder_rounds (
    id            BIGSERIAL PRIMARY KEY,
    kind          TEXT    NOT NULL,
    number        INTEGER NOT NULL,
    started_at    BIGINT  NOT NULL,
    started_by    TEXT    NOT NULL DEFAULT '',
    finished_at   BIGINT  NOT NULL DEFAULT 0,
    disabled_from BIGINT  NOT NULL
);
CREATE UNIQUE INDEX reminder_rounds_kind_number ON reminder_rounds (kind, number);

CREATE TABLE reminders (
    round_id   BIGINT NOT NULL REFERENCES reminder_rounds (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    sent_at    BIGINT NOT NULL,
    PRIMARY KEY (round_id, account_id)
);
CREATE INDEX reminders_account ON reminders (account_id);

-- The campaign report: the phase-out events by type and time, and the active keys of a kind
-- with their account and last use (an index-only scan for the counts by last use).
CREATE INDEX audit_events_type_time ON audit_events (type, time);
CREATE INDEX keys_kind_status_account ON keys (kind, status, account_id, last_used_at);
