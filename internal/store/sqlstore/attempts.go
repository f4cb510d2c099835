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

// ReserveAttempt counts one attempt in scope unless it is throttled at now, in one
// transaction (the caller's, when there is one): the row is created if missing, locked (FOR
// UPDATE on PostgreSQL; SQLite's IMMEDIATE transactions are exclusive), judged and updated, so
// concurrent reservations on all nodes are serialized. throttle may run more than once when the
// transaction is retried.
func (db *DB) ReserveAttempt(ctx context.Context, scope string, now time.Time, throttle func(failures int) time.Time) (store.Attempt, bool, error) {
	var a store.Attempt
	var ok bool
	err := db.inTx(ctx, func(db *DB) error {
		if _, err := db.q.ExecContext(ctx, `INSERT INTO attempts (scope, failures, throttled_until, updated_at)
			VALUES ($1, 0, 0, $2) ON CONFLICT (scope) DO NOTHING`, scope, toMicros(now)); err != nil {
			return err
		}
		a = store.Attempt{Scope: scope}
		var throttled, updated int64
		if err := db.q.QueryRowContext(ctx, `SELECT failures, throttled_until, updated_at FROM attempts WHERE scope = $1`+db.d.forUpdate,
			scope).Scan(&a.Failures, &throttled, &updated); err != nil {
			return err
		}
		a.ThrottledUntil, a.UpdatedAt = fromMicros(throttled), fromMicros(updated)
		if now.Before(a.ThrottledUntil) {
			ok = false
			return nil
		}
		ok = true
		a.Failures++
		a.UpdatedAt = fromMicros(toMicros(now))
		a.ThrottledUntil = time.Time{}
		if throttle != nil {
			a.ThrottledUntil = fromMicros(toMicros(throttle(a.Failures)))
		}
		_, err := db.q.ExecContext(ctx, `UPDATE attempts SET failures = $1, throttled_until = $2, updated_at = $3 WHERE scope = $4`,
			a.Failures, toMicros(a.ThrottledUntil), toMicros(now), scope)
		return err
	})
	if err != nil {
		return store.Attempt{}, false, fmt.Errorf("reserve attempt in %s: %w", scope, err)
	}
	return a, ok, nil
}

// ReleaseAttempt takes one reserved attempt of scope back, never below zero.
func (db *DB) ReleaseAttempt(ctx context.Context, scope string) error {
	if _, err := db.q.ExecContext(ctx, `UPDATE attempts SET failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END
		WHERE scope = $1`, scope); err != nil {
		return fmt.Errorf("release attempt in %s: %w", scope, err)
	}
	return nil
}

// ResetAttempts clears the counter of scope (no error when there is none).
func (db *DB) ResetAttempts(ctx context.Context, scope string) error {
	if _, err := db.q.ExecContext(ctx, `DELETE FROM attempts WHERE scope = $1`, scope); err != nil {
		return fmt.Errorf("reset attempts of %s: %w", scope, err)
	}
	return nil
}
