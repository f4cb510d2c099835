package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// usernameKey is the case-folded username that the uniqueness rule applies to. It is computed in
// Go so that SQLite (whose lower() only folds ASCII) and PostgreSQL agree.
func usernameKey(username string) string { return strings.ToLower(username) }

const accountColumns = `id, username, name, email, language, password_hash, created_at, updated_at`

func scanAccount(row interface{ Scan(...any) error }) (store.Account, error) {
	var a store.Account
	var created, updated int64
	err := row.Scan(&a.ID, &a.Username, &a.Name, &a.Email, &a.Language, &a.PasswordHash, &created, &updated)
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	return a, err
}

// CreateAccount inserts a and fills its ID. CreatedAt and UpdatedAt are kept when set (at
// microsecond precision) and set to now otherwise. A username taken in any letter case gives
// store.ErrConflict.
func (db *DB) CreateAccount(ctx context.Context, a *store.Account) error {
	created := orNow(a.CreatedAt)
	updated := created
	if !a.UpdatedAt.IsZero() {
		updated = orNow(a.UpdatedAt)
	}
	err := db.q.QueryRowContext(ctx, `INSERT INTO accounts
		(username, username_key, name, email, language, password_hash, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		a.Username, usernameKey(a.Username), a.Name, a.Email, a.Language, a.PasswordHash,
		toMicros(created), toMicros(updated)).Scan(&a.ID)
	if err != nil {
		return fmt.Errorf("create account %q: %w", a.Username, db.conflictOr(err))
	}
	a.CreatedAt, a.UpdatedAt = created, updated
	return nil
}

// GetAccount returns the account with id, or store.ErrNotFound.
func (db *DB) GetAccount(ctx context.Context, id int64) (store.Account, error) {
	a, err := scanAccount(db.q.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
	if err != nil {
		return store.Account{}, fmt.Errorf("get account %d: %w", id, notFoundOr(err))
	}
	return a, nil
}

// GetAccountByUsername returns the account whose username matches case-insensitively, or
// store.ErrNotFound.
func (db *DB) GetAccountByUsername(ctx context.Context, username string) (store.Account, error) {
	a, err := scanAccount(db.q.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE username_key = $1`,
		usernameKey(username)))
	if err != nil {
		return store.Account{}, fmt.Errorf("get account by username: %w", notFoundOr(err))
	}
	return a, nil
}

// ListAccounts returns up to limit accounts with ID > afterID in ID order (limit <= 0: all).
func (db *DB) ListAccounts(ctx context.Context, afterID int64, limit int) ([]store.Account, error) {
	rows, err := db.q.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id > $1 ORDER BY id LIMIT $2`,
		afterID, limitOrAll(limit))
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	var out []store.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("list accounts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return out, nil
}

// UpdatePasswordHash replaces the account's password hash; store.ErrNotFound when it does not
// exist.
func (db *DB) UpdatePasswordHash(ctx context.Context, id int64, hash string, now time.Time) error {
	res, err := db.q.ExecContext(ctx, `UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE id = $3`,
		hash, toMicros(now), id)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("update password hash of account %d: %w", id, err)
	}
	return nil
}

// UpdateProfile replaces the account's name, e-mail address and language; store.ErrNotFound when
// it does not exist.
func (db *DB) UpdateProfile(ctx context.Context, id int64, name, email, language string, now time.Time) error {
	res, err := db.q.ExecContext(ctx, `UPDATE accounts SET name = $1, email = $2, language = $3, updated_at = $4 WHERE id = $5`,
		name, email, language, toMicros(now), id)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("update profile of account %d: %w", id, err)
	}
	return nil
}

// LockAccount takes a row lock on the account until the transaction ends (PostgreSQL: SELECT …
// FOR UPDATE; SQLite's IMMEDIATE write transactions are exclusive already). Outside a
// transaction it returns store.ErrNoTransaction: the lock would end with the statement.
func (db *DB) LockAccount(ctx context.Context, id int64) error {
	if db.tx == nil {
		return fmt.Errorf("lock account %d: %w", id, store.ErrNoTransaction)
	}
	var got int64
	err := db.q.QueryRowContext(ctx, `SELECT id FROM accounts WHERE id = $1`+db.d.forUpdate, id).Scan(&got)
	if err != nil {
		return fmt.Errorf("lock account %d: %w", id, notFoundOr(err))
	}
	return nil
}
