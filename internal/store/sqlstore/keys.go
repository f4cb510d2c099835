package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

const keyColumns = `id, account_id, kind, status, serial, data, counter, created_at, activated_at,
	deactivated_at, deactivation_cause, last_used_at, unused_warned_for`

func scanKey(row interface{ Scan(...any) error }) (store.Key, error) {
	var k store.Key
	var status string
	var created, activated, deactivated, lastUsed, warned int64
	err := row.Scan(&k.ID, &k.AccountID, &k.Kind, &status, &k.Serial, &k.Data, &k.Counter, &created, &activated,
		&deactivated, &k.DeactivationCause, &lastUsed, &warned)
	k.Status = store.KeyStatus(status)
	k.Data = nilIfEmpty(k.Data)
	k.CreatedAt, k.ActivatedAt = fromMicros(created), fromMicros(activated)
	k.DeactivatedAt, k.LastUsedAt = fromMicros(deactivated), fromMicros(lastUsed)
	k.UnusedWarnedFor = fromMicros(warned)
	return k, err
}

// CreateKey inserts k and fills its ID (and CreatedAt when zero). A serial already used by a key
// of the same kind gives store.ErrConflict; an empty serial is never a conflict.
func (db *DB) CreateKey(ctx context.Context, k *store.Key) error {
	created := db.orNow(k.CreatedAt)
	err := db.q.QueryRowContext(ctx, `INSERT INTO keys
		(account_id, kind, status, serial, data, counter, created_at, activated_at, deactivated_at,
		 deactivation_cause, last_used_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		k.AccountID, k.Kind, string(k.Status), k.Serial, nonNil(k.Data), k.Counter, toMicros(created),
		toMicros(k.ActivatedAt), toMicros(k.DeactivatedAt), k.DeactivationCause, toMicros(k.LastUsedAt)).Scan(&k.ID)
	if err != nil {
		return fmt.Errorf("create %s key for account %d: %w", k.Kind, k.AccountID, db.conflictOr(err))
	}
	k.CreatedAt = created
	return nil
}

// GetKey returns the key with id, or store.ErrNotFound.
func (db *DB) GetKey(ctx context.Context, id int64) (store.Key, error) {
	k, err := scanKey(db.q.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM keys WHERE id = $1`, id))
	if err != nil {
		return store.Key{}, fmt.Errorf("get key %d: %w", id, notFoundOr(err))
	}
	return k, nil
}

// ListKeys returns the account's keys, oldest first.
func (db *DB) ListKeys(ctx context.Context, accountID int64) ([]store.Key, error) {
	rows, err := db.q.QueryContext(ctx, `SELECT `+keyColumns+` FROM keys WHERE account_id = $1 ORDER BY id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list keys of account %d: %w", accountID, err)
	}
	defer rows.Close()
	var out []store.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list keys of account %d: %w", accountID, err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list keys of account %d: %w", accountID, err)
	}
	return out, nil
}

// statusUpdate is the UPDATE that moves a key to status: activation stamps activated_at and
// clears the deactivation; anything else records when and why. where adds conditions.
func statusUpdate(status store.KeyStatus, cause string, at time.Time, id int64, where string, extra ...any) (string, []any) {
	if status == store.KeyActive {
		return `UPDATE keys SET status = $1, activated_at = $2, deactivated_at = 0, deactivation_cause = '' WHERE id = $3` + where,
			append([]any{string(status), toMicros(at), id}, extra...)
	}
	return `UPDATE keys SET status = $1, deactivated_at = $2, deactivation_cause = $3 WHERE id = $4` + where,
		append([]any{string(status), toMicros(at), cause, id}, extra...)
}

// SetKeyStatus sets the status of key id; store.ErrNotFound when it does not exist.
func (db *DB) SetKeyStatus(ctx context.Context, id int64, status store.KeyStatus, cause string, at time.Time) error {
	q, args := statusUpdate(status, cause, at, id, "")
	res, err := db.q.ExecContext(ctx, q, args...)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("set status of key %d to %s: %w", id, status, err)
	}
	return nil
}

// TransitionKey moves key id from from to to and reports whether it was in from.
func (db *DB) TransitionKey(ctx context.Context, id int64, from, to store.KeyStatus, cause string, at time.Time) (bool, error) {
	where := " AND status = $4"
	if to != store.KeyActive {
		where = " AND status = $5"
	}
	q, args := statusUpdate(to, cause, at, id, where, string(from))
	res, err := db.q.ExecContext(ctx, q, args...)
	if err != nil {
		return false, fmt.Errorf("move key %d from %s to %s: %w", id, from, to, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("move key %d from %s to %s: %w", id, from, to, err)
	}
	return n == 1, nil
}

// SetKeyCounter stores counter unconditionally; store.ErrNotFound when the key does not exist.
func (db *DB) SetKeyCounter(ctx context.Context, id int64, counter int64) error {
	res, err := db.q.ExecContext(ctx, `UPDATE keys SET counter = $1 WHERE id = $2`, counter, id)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("set counter of key %d: %w", id, err)
	}
	return nil
}

// AdvanceKeyCounter sets the counter to to when it is below to, in one conditional UPDATE, and
// reports whether it did: of several concurrent callers with the same to, exactly one gets true.
// A missing key gives store.ErrNotFound.
func (db *DB) AdvanceKeyCounter(ctx context.Context, id int64, to int64) (bool, error) {
	res, err := db.q.ExecContext(ctx, `UPDATE keys SET counter = $1 WHERE id = $2 AND counter < $1`, to, id)
	if err != nil {
		return false, fmt.Errorf("advance counter of key %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("advance counter of key %d: %w", id, err)
	}
	if n == 1 {
		return true, nil
	}
	if _, err := db.GetKey(ctx, id); err != nil {
		return false, fmt.Errorf("advance counter: %w", err)
	}
	return false, nil
}

// TouchKey records a successful use at at; store.ErrNotFound when the key does not exist.
func (db *DB) TouchKey(ctx context.Context, id int64, at time.Time) error {
	res, err := db.q.ExecContext(ctx, `UPDATE keys SET last_used_at = $1 WHERE id = $2`, toMicros(at), id)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("touch key %d: %w", id, err)
	}
	return nil
}
