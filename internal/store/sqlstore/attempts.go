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
	err := db.q.QueryRowContext(ctx, `SELECT failures, throttled_until, updated_at, refused, pending FROM attempts WHERE scope = $1`, scope).
		Scan(&a.Failures, &throttled, &updated, &a.Refused, &a.Pending)
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
// transaction (the caller's, when there is one). The first statement is an upsert that returns
// the row and keeps it locked until the transaction ends (PostgreSQL; SQLite's IMMEDIATE
// transactions are exclusive), so concurrent reservations on all nodes are serialized and a
// concurrent reset cannot slip between reading and writing. A refusal is counted in the same
// step, and a granted reservation takes the refusals of the throttle period before it. throttle
// may run more than once when the transaction is retried.
func (db *DB) ReserveAttempt(ctx context.Context, scope string, now time.Time, window time.Duration, throttle func(failures int) time.Time) (store.Attempt, bool, error) {
	return db.reserveAttempt(ctx, scope, now, window, throttle, false)
}

// BeginAttempt is ReserveAttempt for an attempt that stays in flight (Pending) until
// SettleAttempt or ResetAttempts; a refusal caused only by attempts in flight is not counted.
func (db *DB) BeginAttempt(ctx context.Context, scope string, now time.Time, window time.Duration, throttle func(failures int) time.Time) (store.Attempt, bool, error) {
	return db.reserveAttempt(ctx, scope, now, window, throttle, true)
}

func (db *DB) reserveAttempt(ctx context.Context, scope string, now time.Time, window time.Duration, throttle func(failures int) time.Time, inFlight bool) (store.Attempt, bool, error) {
	var a store.Attempt
	var ok bool
	err := db.inTx(ctx, func(db *DB) error {
		a = store.Attempt{Scope: scope}
		var throttled, updated int64
		if err := db.q.QueryRowContext(ctx, `INSERT INTO attempts (scope, failures, throttled_until, updated_at)
			VALUES ($1, 0, 0, $2)
			ON CONFLICT (scope) DO UPDATE SET scope = excluded.scope
			RETURNING failures, throttled_until, updated_at, refused, pending`, scope, toMicros(now)).Scan(&a.Failures, &throttled, &updated, &a.Refused, &a.Pending); err != nil {
			return err
		}
		a.ThrottledUntil, a.UpdatedAt = fromMicros(throttled), fromMicros(updated)
		stale := a.Pending > 0 && now.Sub(a.UpdatedAt) >= store.PendingAttemptTTL
		if stale {
			// Nothing is checked for that long: the requests that reserved them ended without
			// settling (a crash). They count as the failures they were reserved as.
			a.Pending = 0
		}
		if now.Before(a.ThrottledUntil) {
			ok = false
			if inFlight && a.Pending > 0 && (throttle == nil || !throttle(a.Failures-a.Pending).After(now)) {
				// Throttled only by attempts still being checked: not a refusal; the caller
				// waits for them to settle and tries again. Nothing to write.
				return nil
			}
			a.Refused++
			_, err := db.q.ExecContext(ctx, `UPDATE attempts SET refused = $1, pending = $2 WHERE scope = $3`, a.Refused, a.Pending, scope)
			return err
		}
		if window > 0 && a.Failures > 0 && now.Sub(a.UpdatedAt) >= window {
			a.Failures, a.Pending = 0, 0 // quiet for a whole window: forgotten
		}
		ok = true
		a.Failures++
		if inFlight {
			a.Pending++
		}
		a.UpdatedAt = fromMicros(toMicros(now))
		a.ThrottledUntil = time.Time{}
		if throttle != nil {
			a.ThrottledUntil = fromMicros(toMicros(throttle(a.Failures)))
		}
		// a.Refused, as read, goes back to the caller to report; the row starts the new period
		// with none.
		_, err := db.q.ExecContext(ctx, `UPDATE attempts SET failures = $1, throttled_until = $2, updated_at = $3, refused = 0, pending = $4 WHERE scope = $5`,
			a.Failures, toMicros(a.ThrottledUntil), toMicros(now), a.Pending, scope)
		return err
	})
	if err != nil {
		return store.Attempt{}, false, fmt.Errorf("reserve attempt: %w", err)
	}
	return a, ok, nil
}

// SettleAttempt ends one attempt in flight of scope (never below zero): it stays counted as a
// failure, or with withdraw it is taken back as ReleaseAttempt does.
func (db *DB) SettleAttempt(ctx context.Context, scope string, withdraw bool, threshold int) error {
	err := db.inTx(ctx, func(db *DB) error {
		if !withdraw {
			_, err := db.q.ExecContext(ctx, `UPDATE attempts SET pending = CASE WHEN pending > 0 THEN pending - 1 ELSE 0 END WHERE scope = $1`, scope)
			return err
		}
		return db.takeBack(ctx, scope, threshold, true)
	})
	if err != nil {
		return fmt.Errorf("settle attempt: %w", err)
	}
	return nil
}

// takeBack takes one counted attempt of scope back (never below zero), and with settle one in
// flight too; it lifts the throttle when fewer than threshold remain and removes a counter
// back at zero. It runs in db's transaction.
func (db *DB) takeBack(ctx context.Context, scope string, threshold int, settle bool) error {
	pending := "pending"
	if settle {
		pending = "CASE WHEN pending > 0 THEN pending - 1 ELSE 0 END"
	}
	// SET expressions read the row as it was: failures - 1 is the new count.
	if _, err := db.q.ExecContext(ctx, `UPDATE attempts SET
			pending = `+pending+`,
			failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END,
			throttled_until = CASE WHEN failures - 1 < $2 THEN 0 ELSE throttled_until END
		WHERE scope = $1`, scope, threshold); err != nil {
		return err
	}
	_, err := db.q.ExecContext(ctx, `DELETE FROM attempts WHERE scope = $1 AND failures = 0 AND throttled_until = 0 AND refused = 0`, scope)
	return err
}

// ReleaseAttempt takes one reserved attempt of scope back, never below zero, lifts the throttle
// when fewer than threshold remain and removes a counter back at zero.
func (db *DB) ReleaseAttempt(ctx context.Context, scope string, threshold int) error {
	err := db.inTx(ctx, func(db *DB) error {
		return db.takeBack(ctx, scope, threshold, false)
	})
	if err != nil {
		return fmt.Errorf("release attempt: %w", err)
	}
	return nil
}

// ResetAttempts clears the counter of scope (no error when there is none). A counter with
// unreported refusals keeps them, with no failures and no throttle, until they are taken.
func (db *DB) ResetAttempts(ctx context.Context, scope string) error {
	err := db.inTx(ctx, func(db *DB) error {
		if _, err := db.q.ExecContext(ctx, `DELETE FROM attempts WHERE scope = $1 AND refused = 0`, scope); err != nil {
			return err
		}
		_, err := db.q.ExecContext(ctx, `UPDATE attempts SET failures = 0, throttled_until = 0, pending = 0 WHERE scope = $1`, scope)
		return err
	})
	if err != nil {
		return fmt.Errorf("reset attempts of %s: %w", scope, err)
	}
	return nil
}

// TakeEndedRefusals returns the counters with unreported refusals whose throttle ended at or
// before now and resets their refusals, in one transaction that locks the rows it reads
// (PostgreSQL re-reads a row a concurrent reservation changed, and skips it when that one took
// the count; SQLite's write transactions exclude each other), so no count is taken twice.
func (db *DB) TakeEndedRefusals(ctx context.Context, now time.Time, limit int) ([]store.Attempt, error) {
	var out []store.Attempt
	err := db.inTx(ctx, func(db *DB) error {
		out = nil
		rows, err := db.q.QueryContext(ctx, `SELECT scope, failures, throttled_until, updated_at, refused FROM attempts
			WHERE refused > 0 AND throttled_until <= $1 ORDER BY throttled_until, scope LIMIT $2`+db.d.forUpdate,
			toMicros(now), limitOrAll(limit))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a store.Attempt
			var throttled, updated int64
			if err := rows.Scan(&a.Scope, &a.Failures, &throttled, &updated, &a.Refused); err != nil {
				return err
			}
			a.ThrottledUntil, a.UpdatedAt = fromMicros(throttled), fromMicros(updated)
			out = append(out, a)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		for _, a := range out {
			if _, err := db.q.ExecContext(ctx, `UPDATE attempts SET refused = 0 WHERE scope = $1`, a.Scope); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("take ended refusals: %w", err)
	}
	return out, nil
}

// DeleteAttemptsBefore removes counters last changed before cutoff and not throttled at cutoff.
func (db *DB) DeleteAttemptsBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := db.q.ExecContext(ctx, `DELETE FROM attempts WHERE updated_at < $1 AND throttled_until <= $1 AND refused = 0`, toMicros(cutoff))
	if err != nil {
		return 0, fmt.Errorf("delete old attempts: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete old attempts: %w", err)
	}
	return n, nil
}
