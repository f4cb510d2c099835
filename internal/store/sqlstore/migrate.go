package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one versioned schema change for one dialect.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the dialect's migrations in version order. Versions must be 1, 2, 3, …
// without gaps, and every version must exist for every dialect, so that a schema change is never
// made for one database and forgotten for the other.
func loadMigrations(dialectName string) ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	byDialect := map[string]map[int]migration{}
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), ".sql")
		if !ok {
			continue
		}
		stem, dia, ok := cutLast(base, ".")
		if !ok {
			return nil, fmt.Errorf("migration %s: want NNNN_name.<dialect>.sql", e.Name())
		}
		num, name, ok := strings.Cut(stem, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || len(num) != 4 || version < 1 || name == "" {
			return nil, fmt.Errorf("migration %s: want NNNN_name.<dialect>.sql", e.Name())
		}
		if dia != sqliteDialect.name && dia != postgresDialect.name {
			return nil, fmt.Errorf("migration %s: unknown dialect %q", e.Name(), dia)
		}
		body, err := fs.ReadFile(migrationFiles, "migrations/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		if byDialect[dia] == nil {
			byDialect[dia] = map[int]migration{}
		}
		if prev, dup := byDialect[dia][version]; dup {
			return nil, fmt.Errorf("migration %s: version %d already used by %s", e.Name(), version, prev.name)
		}
		byDialect[dia][version] = migration{version: version, name: name, sql: string(body)}
	}
	lite, pg := byDialect[sqliteDialect.name], byDialect[postgresDialect.name]
	for v, m := range lite {
		if p, ok := pg[v]; !ok || p.name != m.name {
			return nil, fmt.Errorf("migration %04d_%s: no matching %s file", v, m.name, postgresDialect.name)
		}
	}
	for v, m := range pg {
		if l, ok := lite[v]; !ok || l.name != m.name {
			return nil, fmt.Errorf("migration %04d_%s: no matching %s file", v, m.name, sqliteDialect.name)
		}
	}
	var out []migration
	for _, m := range byDialect[dialectName] {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %04d_%s: versions must be 1, 2, 3, … without gaps", m.version, m.name)
		}
	}
	return out, nil
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// Migrate brings the schema up to date. It is idempotent and safe to run from several nodes at
// once: all pending migrations are applied in one transaction that first takes a lock (an
// advisory lock on PostgreSQL, the write lock on SQLite), so a second node waits and then finds
// nothing left to do. Each applied version is recorded in schema_migrations.
func (db *DB) Migrate(ctx context.Context) error { return db.migrate(ctx, 0) }

// migrate applies the pending migrations up to version upTo (0: all of them).
func (db *DB) migrate(ctx context.Context, upTo int) error {
	if db.tx != nil {
		return errors.New("migrate: not allowed inside a transaction")
	}
	migs, err := loadMigrations(db.d.name)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if upTo > 0 && upTo < len(migs) {
		migs = migs[:upTo]
	}
	err = db.Tx(ctx, func(s store.Store) error {
		tx := s.(*DB).tx
		if err := db.d.lockMigrations(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER NOT NULL PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at BIGINT  NOT NULL
		)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var current sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if int(current.Int64) > len(migs) {
			return fmt.Errorf("database schema version %d is newer than this program knows (%d): upgrade sleutelbos", current.Int64, len(migs))
		}
		for _, m := range migs[current.Int64:] {
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("apply migration %04d_%s: %w", m.version, m.name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, toMicros(time.Now())); err != nil {
				return fmt.Errorf("record migration %04d_%s: %w", m.version, m.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return db.explain("migrate", err)
	}
	return nil
}

// SchemaVersion returns the highest applied migration version (0 for an empty database).
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var exists int
	if err := db.q.QueryRowContext(ctx, db.d.tableExists, "schema_migrations").Scan(&exists); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	if exists == 0 {
		return 0, nil
	}
	var v sql.NullInt64
	if err := db.q.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return int(v.Int64), nil
}
