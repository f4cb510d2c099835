package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// dialect is what truly differs between SQLite and PostgreSQL. Queries are shared: both accept
// $N placeholders (modernc.org/sqlite binds $N to the N-th argument), RETURNING, ON CONFLICT
// upserts, partial indexes and MATERIALIZED common table expressions. Column types live in the
// per-dialect migration files.
type dialect struct {
	// name is "sqlite" or "postgres"; it also selects the migration files (NNNN_name.<name>.sql).
	name string
	// driver is the database/sql driver name.
	driver string
	// skipLocked is appended to the SELECT that picks due outbox messages. PostgreSQL lets
	// concurrent claimers pass over each other's rows; SQLite has one writer at a time, so
	// the claiming statement is already exclusive.
	skipLocked string
	// forUpdate is appended to the SELECT of LockAccount. SQLite's write transactions begin
	// IMMEDIATE and so already exclude each other.
	forUpdate string
	// tableExists counts the tables named $1 in the current schema.
	tableExists string
	// emailKey is the expression of accounts.email that its index (accounts_email_key) holds:
	// the address with ASCII letters lower-cased, as store.EmailKey makes it. PostgreSQL's
	// lower() follows the database's locale, and folds only ASCII under COLLATE "C", as
	// SQLite's always does.
	emailKey string
	// lockAddress takes a lock until the end of tx on an e-mail address key (LockSignupAddress).
	// SQLite's write transactions begin IMMEDIATE and so already exclude each other.
	lockAddress func(ctx context.Context, q queryer, key string) error
	// lockMigrations serialises Migrate across processes inside tx.
	lockMigrations func(ctx context.Context, tx *sql.Tx) error
	// isConflict reports a unique-constraint violation.
	isConflict func(error) bool
	// isRetryable reports an error after which the whole transaction may simply be run again.
	isRetryable func(error) bool
	// numbered is whether bulk statements number their placeholders ($1, $2, …) or write a
	// plain ? for each (SQLite: a statement with thousands of $N parameters takes quadratic
	// time to prepare and bind, since SQLite looks each name up in a list).
	numbered bool
}

// migrationLockID is the first key of the PostgreSQL advisory lock taken by Migrate; the second
// is a hash of the current schema, so that databases in different schemas migrate independently.
const migrationLockID = 0x51e07e1 // "sleutel"

// signupLockID is the first key of the PostgreSQL advisory locks of LockSignupAddress; the
// second is a hash of the address key (a collision only makes two addresses wait for each
// other).
const signupLockID = 0x519e0b

var sqliteDialect = dialect{
	name:        "sqlite",
	driver:      "sqlite",
	tableExists: `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1`,
	emailKey:    `lower(email)`,
	// BEGIN IMMEDIATE (the _txlock DSN parameter) already holds the single write lock.
	lockMigrations: func(context.Context, *sql.Tx) error { return nil },
	lockAddress:    func(context.Context, queryer, string) error { return nil },
	isConflict: func(err error) bool {
		var e *sqlite.Error
		if !errors.As(err, &e) {
			return false
		}
		// Extended result codes are on: SQLITE_CONSTRAINT_UNIQUE and _PRIMARYKEY.
		return e.Code() == sqliteConstraintUnique || e.Code() == sqliteConstraintPrimaryKey
	},
	isRetryable: func(err error) bool {
		var e *sqlite.Error
		if !errors.As(err, &e) {
			return false
		}
		primary := e.Code() & 0xff
		return primary == sqliteBusy || primary == sqliteLocked
	},
}

// SQLite result codes (https://sqlite.org/rescode.html).
const (
	sqliteBusy                 = 5
	sqliteLocked               = 6
	sqliteReadOnly             = 8
	sqliteCantOpen             = 14
	sqliteConstraintPrimaryKey = 1555
	sqliteConstraintUnique     = 2067
)

var postgresDialect = dialect{
	name:        "postgres",
	driver:      "pgx",
	skipLocked:  " FOR UPDATE SKIP LOCKED",
	forUpdate:   " FOR UPDATE",
	tableExists: `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1`,
	lockMigrations: func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, migrationLockID)
		if err != nil {
			return fmt.Errorf("lock schema_migrations: %w", err)
		}
		return nil
	},
	emailKey: `lower(email COLLATE "C")`,
	lockAddress: func(ctx context.Context, q queryer, key string) error {
		_, err := q.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, signupLockID, key)
		return err
	},
	numbered:   true,
	isConflict: func(err error) bool { return pgCode(err) == "23505" }, // unique_violation
	isRetryable: func(err error) bool {
		switch pgCode(err) {
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return true
		}
		return false
	},
}

// pgCode returns the SQLSTATE of a PostgreSQL error, or "".
func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// sqliteCode returns the (extended) SQLite result code of err, or 0.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}
