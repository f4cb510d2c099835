package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

const codeColumns = `id, account_id, purpose, hash, target, created_at, expires_at, attempts, used_at`

func scanCode(row interface{ Scan(...any) error }) (store.Code, error) {
	var c store.Code
	var purpose string
	var created, expires, used int64
	err := row.Scan(&c.ID, &c.AccountID, &purpose, &c.Hash, &c.Target, &created, &expires, &c.Attempts, &used)
	c.Purpose = store.CodePurpose(purpose)
	c.Hash = nilIfEmpty(c.Hash)
	c.CreatedAt, c.ExpiresAt, c.UsedAt = fromMicros(created), fromMicros(expires), fromMicros(used)
	return c, err
}

// CreateCode inserts c and fills its ID (and CreatedAt when zero).
func (db *DB) CreateCode(ctx context.Context, c *store.Code) error {
	created := db.orNow(c.CreatedAt)
	err := db.q.QueryRowContext(ctx, `INSERT INTO codes
		(account_id, purpose, hash, target, created_at, expires_at, attempts, used_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		c.AccountID, string(c.Purpose), nonNil(c.Hash), c.Target, toMicros(created), toMicros(c.ExpiresAt),
		c.Attempts, toMicros(c.UsedAt)).Scan(&c.ID)
	if err != nil {
		return fmt.Errorf("create %s code for account %d: %w", c.Purpose, c.AccountID, err)
	}
	c.CreatedAt = created
	return nil
}

// LatestCode returns the newest code of purpose for the account, used or not, or
// store.ErrNotFound.
func (db *DB) LatestCode(ctx context.Context, accountID int64, purpose store.CodePurpose) (store.Code, error) {
	c, err := scanCode(db.q.QueryRowContext(ctx, `SELECT `+codeColumns+` FROM codes
		WHERE account_id = $1 AND purpose = $2 ORDER BY created_at DESC, id DESC LIMIT 1`,
		accountID, string(purpose)))
	if err != nil {
		return store.Code{}, fmt.Errorf("latest %s code of account %d: %w", purpose, accountID, notFoundOr(err))
	}
	return c, nil
}

// CodeTimesSince returns the creation times of the account's codes of purpose created at or
// after since, oldest first.
func (db *DB) CodeTimesSince(ctx context.Context, accountID int64, purpose store.CodePurpose, since time.Time) ([]time.Time, error) {
	rows, err := db.q.QueryContext(ctx, `SELECT created_at FROM codes WHERE account_id = $1 AND purpose = $2 AND created_at >= $3
		ORDER BY created_at, id`, accountID, string(purpose), toMicros(since))
	if err != nil {
		return nil, fmt.Errorf("list %s codes of account %d: %w", purpose, accountID, err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var us int64
		if err := rows.Scan(&us); err != nil {
			return nil, fmt.Errorf("list %s codes of account %d: %w", purpose, accountID, err)
		}
		out = append(out, fromMicros(us))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s codes of account %d: %w", purpose, accountID, err)
	}
	return out, nil
}

// AddCodeAttempt increments the code's wrong-guess counter and returns the new value, or
// store.ErrNotFound.
func (db *DB) AddCodeAttempt(ctx context.Context, id int64) (int, error) {
	var n int
	err := db.q.QueryRowContext(ctx, `UPDATE codes SET attempts = attempts + 1 WHERE id = $1 RETURNING attempts`, id).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("add attempt to code %d: %w", id, notFoundOr(err))
	}
	return n, nil
}

// UseCode marks the code used at at in one conditional UPDATE and reports whether this call did
// it: of several concurrent callers exactly one gets true. A missing code gives store.ErrNotFound.
func (db *DB) UseCode(ctx context.Context, id int64, at time.Time) (bool, error) {
	if at.IsZero() {
		return false, errors.New("use code: zero time")
	}
	res, err := db.q.ExecContext(ctx, `UPDATE codes SET used_at = $1 WHERE id = $2 AND used_at = 0`, toMicros(at), id)
	if err != nil {
		return false, fmt.Errorf("use code %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("use code %d: %w", id, err)
	}
	if n == 1 {
		return true, nil
	}
	var exists int
	if err := db.q.QueryRowContext(ctx, `SELECT 1 FROM codes WHERE id = $1`, id).Scan(&exists); err != nil {
		return false, fmt.Errorf("use code %d: %w", id, notFoundOr(err))
	}
	return false, nil
}

// DeleteCodesBefore removes the codes that expired, or were used, before cutoff.
func (db *DB) DeleteCodesBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	c := toMicros(cutoff)
	res, err := db.q.ExecContext(ctx, `DELETE FROM codes WHERE expires_at < $1 OR (used_at <> 0 AND used_at < $1)`, c)
	if err != nil {
		return 0, fmt.Errorf("delete codes before %s: %w", cutoff.UTC().Format(time.RFC3339), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete codes before %s: %w", cutoff.UTC().Format(time.RFC3339), err)
	}
	return n, nil
}
