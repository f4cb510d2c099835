package sqlstore

import "context"

// MigrateTo applies the pending migrations up to version, for tests of a migration's effect on
// data written before it.
func (db *DB) MigrateTo(ctx context.Context, version int) error { return db.migrate(ctx, version) }

// AccountRows are the tables DeleteAccount deletes an account's rows from.
var AccountRows = accountRows
