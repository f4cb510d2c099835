// Package sqlstore stores Sleutelbos's state in SQLite or PostgreSQL through database/sql.
//
// Open picks the dialect from the URL (sqlite:///path/file.db or a path ending in .db for the
// embedded default, postgres://… for production and several nodes), checks that the database
// answers and, for SQLite, that it can be written. Migrate applies the embedded migrations
// (migrations/NNNN_name.sqlite.sql and NNNN_name.postgres.sql, append-only, recorded in
// schema_migrations) under a lock, so nodes starting together do not race. *DB implements
// store.Store.
//
// The queries are shared between the two databases: both take $N placeholders, RETURNING,
// INSERT … ON CONFLICT upserts, partial unique indexes and MATERIALIZED common table
// expressions. What truly differs sits in one small dialect value: the driver, FOR UPDATE SKIP
// LOCKED when claiming outbox messages, the migration lock, and which error codes mean a unique
// violation (store.ErrConflict) or a transaction worth retrying. Column types differ only in the
// migration files (INTEGER PRIMARY KEY vs BIGSERIAL, BLOB vs BYTEA).
//
// Times are stored as BIGINT unix microseconds in UTC, 0 for the zero time, so comparisons and
// ordering are plain integer operations in both databases. Session AMR and audit Detail are JSON
// text. Usernames are unique regardless of case through a username_key column holding
// strings.ToLower of the username, computed in Go so that both databases fold case alike.
//
// Rules that must hold across nodes are single statements or short transactions: a TOTP step is
// accepted by one conditional UPDATE (counter < step), a code is used by one (used_at = 0), a
// failed attempt is an upsert that locks the counter row until its transaction ends, and outbox
// messages are leased by one UPDATE whose candidates are picked with FOR UPDATE SKIP LOCKED on
// PostgreSQL (SQLite has a single writer). Tx retries a transaction that PostgreSQL aborted for a
// serialization failure or deadlock, or that found SQLite busy.
//
// SQLite runs in WAL mode with busy_timeout 5000 ms, foreign keys on, synchronous=NORMAL, and
// transactions that begin IMMEDIATE (taking the write lock at once, so two transactions never
// deadlock upgrading read locks).
//
// Values the caller leaves zero where the store must fill them (CreatedAt on insert, an audit
// event's Time) are set from the wall clock at microsecond precision; callers with a fixed clock
// set them themselves.
package sqlstore
