-- Append-only: never edit this file once it has landed; add a new NNNN_name.<dialect>.sql.
-- Self-registration (internal/signup): one row per registration e-mail sent — a code, or to an
-- address an account already has, a notice without one (a decoy). A registration is not an
-- account until its code is entered. The rows of an address within a day make its limits
-- (signups_email); the sweeper empties the password hash of ended registrations and deletes
-- rows older than a day.
CREATE TABLE signups (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email_key     TEXT    NOT NULL,
    email         TEXT    NOT NULL,
    username      TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    language      TEXT    NOT NULL,
    password_hash TEXT    NOT NULL DEFAULT '',
    decoy         INTEGER NOT NULL DEFAULT 0,
    code_hash     BLOB    NOT NULL,
    started_at    BIGINT  NOT NULL,
    ends_at       BIGINT  NOT NULL,
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    verified_at   BIGINT  NOT NULL DEFAULT 0,
    done_at       BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX signups_email ON signups (email_key, created_at);
CREATE INDEX signups_created ON signups (created_at);
CREATE INDEX signups_ends ON signups (ends_at) WHERE password_hash <> '';

-- A registration looks up whether an account has the address: by its ASCII-lower-cased form
-- (SQLite's lower() folds only ASCII; PostgreSQL's is made to do the same with COLLATE "C").
CREATE INDEX accounts_email_key ON accounts (lower(email));
