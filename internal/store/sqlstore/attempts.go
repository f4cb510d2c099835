package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// GetAttempt returns the counter of scope; a scope never seen gives a zero Attempt with Scope set.
func (db *DB) GetAttempt(ctx context.Context, scope string) (store.Attempt, error) {
	a := store.Attempt{Scope: scope}
	var throttled, updated int64
	err := db.q.QueryRowContext(ctx, `SELECT failures, throttled_until, updated_at FROM attempts WHERE scope = $1`, scope).
		Scan(&a.Failures, &throttled, &updated)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return a, nil
		}
		return store.Attempt{}, fmt.Errorf("get attempts of %s: %w", scope, err)
	}
	a.ThrottledUntil, a.UpdatedAt = fromMicros(throttled), fromMicros(updated)
	return a, nil
}

// AddFailure increments the counter of scope with one upsert, then stores the throttled-until
// instant that throttle computes from the new count, both in one transaction (the caller's, when
// there is one). Concurrent calls on all nodes are counted exactly: the upsert locks the row
// until the transaction ends. throttle may run more than once when the transaction is retried.
func (db *DB) AddFailure(ctx context.Context, scope string, now time.Time, throttle func(failures int) time.Time) (store.Attempt, error) {
	var a store.Attempt
	err := db.inTx(ctx, func(db *DB) error {
		a = store.Attempt{Scope: scope, UpdatedAt: fromMicros(toMicros(now))}
		err := db.q.QueryRowContext(ctx, `INSERT INTO attempts (scope, failures, throttled_until, updated_at)
			VALUES ($1, 1, 0, $2)
			ON CONFLICT (scope) DO UPDATE SET failures = attempts.failures + 1, updated_at = excluded.updated_at
			RETURNING failures`, scope, toMicros(now)).Scan(&a.Failures)
		if err != nil {
			return err
		}
		if throttle != nil {
			a.ThrottledUntil = fromMicros(toMicros(throttle(a.Failures)))
		}
		_, err = db.q.ExecContext(ctx, `UPDATE attempts SET throttled_until = $1 WHERE scope = $2`,
			toMicros(a.ThrottledUntil), scope)
		return err
	})
	if err != nil {
		return store.Attempt{}, fmt.Errorf("add failure to %s: %w", scope, err)
	}
	return a, nil
}

// ResetAttempts clears the counter of scope (no error when there is none).
func (db *DB) ResetAttempts(ctx context.Context, scope string) error {
	if _, err := db.q.ExecContext(ctx, `DELETE FROM attempts WHERE scope = $1`, scope); err != nil {
		return fmt.Errorf("reset attempts of %s: %w", scope, err)
	}
	return nil
}
