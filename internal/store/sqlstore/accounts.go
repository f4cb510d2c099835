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

// hashParams is what a password hash says about its own cost: the hash without its salt and
// digest. PHC strings ("$argon2id$v=19$m=19456,t=2,p=1$salt$digest", "$pbkdf2-sha256$i=…$salt$
// digest") and Django's ("pbkdf2_sha256$600000$salt$digest") lose their last two fields, bcrypt
// ("$2b$12$" + salt and digest in one field) its last one. A hash of no such shape (none at all)
// has no parameters. The store keeps it beside the hash, indexed, for PasswordHashParams.
func hashParams(hash string) string {
	fields := strings.Split(hash, "$")
	switch {
	case len(fields) == 4 && fields[0] == "" && strings.HasPrefix(fields[1], "2"):
		return strings.Join(fields[:3], "$")
	case len(fields) >= 4:
		return strings.Join(fields[:len(fields)-2], "$")
	}
	return ""
}

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
	created := db.orNow(a.CreatedAt)
	updated := created
	if !a.UpdatedAt.IsZero() {
		updated = db.orNow(a.UpdatedAt)
	}
	err := db.q.QueryRowContext(ctx, `INSERT INTO accounts
		(username, username_key, name, email, language, password_hash, password_params, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		a.Username, usernameKey(a.Username), a.Name, a.Email, a.Language, a.PasswordHash, hashParams(a.PasswordHash),
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
	res, err := db.q.ExecContext(ctx, `UPDATE accounts SET password_hash = $1, password_params = $2, updated_at = $3 WHERE id = $4`,
		hash, hashParams(hash), toMicros(now), id)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("update password hash of account %d: %w", id, err)
	}
	return nil
}

// PasswordHashParams returns the distinct parameters of the stored password hashes, in order.
// It walks the accounts_password_params index from one distinct value to the next (a "skip
// scan" as a recursive query), so it costs one index probe per parameter set in use — a
// handful — whether there are a thousand accounts or a million.
func (db *DB) PasswordHashParams(ctx context.Context) ([]string, error) {
	rows, err := db.q.QueryContext(ctx, `WITH RECURSIVE params (p) AS (
			SELECT MIN(password_params) FROM accounts WHERE password_params > ''
			UNION ALL
			SELECT (SELECT MIN(password_params) FROM accounts WHERE password_params > params.p)
			FROM params WHERE params.p IS NOT NULL
		)
		SELECT p FROM params WHERE p IS NOT NULL ORDER BY p`)
	if err != nil {
		return nil, fmt.Errorf("password hash parameters: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("password hash parameters: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("password hash parameters: %w", err)
	}
	return out, nil
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
