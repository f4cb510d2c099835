// Package storetest holds what every storage backend must show. It knows no backend: a
// backend's own test runs it (internal/store/sqlstore runs it on SQLite and PostgreSQL, with
// the fresh databases of internal/store/sqlstore/sqltest).
//
// Run is the conformance suite: a backend's test calls it with a function that makes a fresh,
// empty, migrated store, and every method of store.Store is exercised against it — not-found and
// conflict errors, case-insensitive usernames, transactions that commit, roll back (including a
// message enqueued inside them) and nest, and the outbox's leases. Tests that race goroutines
// against each other, as several server nodes would (a TOTP step accepted once, a code used once,
// failures counted exactly, two claimers never sharing an outbox message), are grouped under
// "Concurrent". The suite uses a fixed clock with microsecond precision, never time.Sleep.
package storetest
