-- Sleutelbos initial schema (PostgreSQL). Times are BIGINT unix microseconds UTC; 0 is "never".
-- Append-only: never edit this file once it has landed; add a new NNNN_name.postgres.sql.

CREATE TABLE accounts (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT    NOT NULL,
    username_key  TEXT    NOT NULL,
    name          TEXT    NOT NULL DEFAULT '',
    email         TEXT    NOT NULL DEFAULT '',
    language      TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL DEFAULT '',
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);
CREATE UNIQUE INDEX accounts_username_key ON accounts (username_key);

CREATE TABLE keys (
    id                 BIGSERIAL PRIMARY KEY,
    account_id         BIGINT  NOT NULL REFERENCES accounts (id),
    kind               TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    serial             TEXT    NOT NULL DEFAULT '',
    data               BYTEA   NOT NULL DEFAULT '',
    counter            BIGINT  NOT NULL DEFAULT 0,
    created_at         BIGINT  NOT NULL,
    activated_at       BIGINT  NOT NULL DEFAULT 0,
    deactivated_at     BIGINT  NOT NULL DEFAULT 0,
    deactivation_cause TEXT    NOT NULL DEFAULT '',
    last_used_at       BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX keys_account ON keys (account_id, id);
CREATE UNIQUE INDEX keys_kind_serial ON keys (kind, serial) WHERE serial <> '';

CREATE TABLE codes (
    id         BIGSERIAL PRIMARY KEY,
    account_id BIGINT  NOT NULL REFERENCES accounts (id),
    purpose    TEXT    NOT NULL,
    hash       BYTEA   NOT NULL,
    target     TEXT    NOT NULL DEFAULT '',
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    used_at    BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX codes_account_purpose_created ON codes (account_id, purpose, created_at);

CREATE TABLE sessions (
    id_hash      BYTEA   NOT NULL PRIMARY KEY,
    account_id   BIGINT  NOT NULL DEFAULT 0,
    created_at   BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL,
    auth_time    BIGINT  NOT NULL DEFAULT 0,
    loa          TEXT    NOT NULL DEFAULT '',
    amr          TEXT    NOT NULL DEFAULT '[]',
    data         BYTEA   NOT NULL DEFAULT ''
);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);
CREATE INDEX sessions_created ON sessions (created_at);

CREATE TABLE attempts (
    scope           TEXT    NOT NULL PRIMARY KEY,
    failures        INTEGER NOT NULL DEFAULT 0,
    throttled_until BIGINT  NOT NULL DEFAULT 0,
    updated_at      BIGINT  NOT NULL DEFAULT 0
);

CREATE TABLE audit_events (
    id         BIGSERIAL PRIMARY KEY,
    time       BIGINT  NOT NULL,
    type       TEXT    NOT NULL,
    account_id BIGINT  NOT NULL DEFAULT 0,
    key_kind   TEXT    NOT NULL DEFAULT '',
    key_id     BIGINT  NOT NULL DEFAULT 0,
    reason     TEXT    NOT NULL DEFAULT '',
    ip         TEXT    NOT NULL DEFAULT '',
    actor      TEXT    NOT NULL DEFAULT '',
    detail     TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_account ON audit_events (account_id, id);

CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    message_id      TEXT    NOT NULL DEFAULT '',
    account_id      BIGINT  NOT NULL DEFAULT 0,
    template        TEXT    NOT NULL DEFAULT '',
    language        TEXT    NOT NULL DEFAULT '',
    to_address      TEXT    NOT NULL,
    to_name         TEXT    NOT NULL DEFAULT '',
    subject         TEXT    NOT NULL DEFAULT '',
    text_body       TEXT    NOT NULL DEFAULT '',
    html_body       TEXT    NOT NULL DEFAULT '',
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL DEFAULT 0,
    lease_owner     TEXT    NOT NULL DEFAULT '',
    lease_until     BIGINT  NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL,
    sent_at         BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_lease ON outbox (state, lease_until);
