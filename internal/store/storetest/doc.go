// Package storetest holds what every storage backend must show, and helpers that give tests a
// real database.
//
// Run is the conformance suite: a backend's test calls it with a function that makes a fresh,
// empty, migrated store, and every method of store.Store is exercised against it — not-found and
// conflict errors, case-insensitive usernames, transactions that commit, roll back (including a
// message enqueued inside them) and nest, and the outbox's leases. Tests that race goroutines
// against each other, as several server nodes would (a TOTP step accepted once, a code used once,
// failures counted exactly, two claimers never sharing an outbox message), are grouped under
// "Concurrent". The suite uses a fixed clock with microsecond precision, never time.Sleep.
//
// SQLite, Postgres, PostgresURL and Each give any package's tests a real database: a new SQLite
// file in the test's temporary directory, or a new schema in the PostgreSQL database named by
// SLEUTELBOS_TEST_POSTGRES_URL that is dropped afterwards. Without that variable PostgreSQL tests
// are skipped, unless SLEUTELBOS_REQUIRE_POSTGRES=1 (as `make test` sets it), which turns a
// missing or unreachable database into a failure.
package storetest
