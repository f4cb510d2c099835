package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

const policyColumns = `kind, activation_closed_from, migration_prompt_from, disabled_from, unused_months, updated_at`

func scanPolicy(row interface{ Scan(...any) error }) (store.PhaseoutPolicy, error) {
	var p store.PhaseoutPolicy
	var closed, prompt, disabled, updated int64
	err := row.Scan(&p.Kind, &closed, &prompt, &disabled, &p.UnusedMonths, &updated)
	p.ActivationClosedFrom, p.MigrationPromptFrom, p.DisabledFrom = fromMicros(closed), fromMicros(prompt), fromMicros(disabled)
	p.UpdatedAt = fromMicros(updated)
	return p, err
}

// PutPhaseoutPolicy inserts p or replaces the policy of p.Kind (UpdatedAt: now when zero).
func (db *DB) PutPhaseoutPolicy(ctx context.Context, p store.PhaseoutPolicy) error {
	_, err := db.q.ExecContext(ctx, `INSERT INTO phaseout_policies (`+policyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (kind) DO UPDATE SET activation_closed_from = excluded.activation_closed_from,
			migration_prompt_from = excluded.migration_prompt_from, disabled_from = excluded.disabled_from,
			unused_months = excluded.unused_months, updated_at = excluded.updated_at`,
		p.Kind, toMicros(p.ActivationClosedFrom), toMicros(p.MigrationPromptFrom), toMicros(p.DisabledFrom),
		p.UnusedMonths, toMicros(db.orNow(p.UpdatedAt)))
	if err != nil {
		return fmt.Errorf("put phase-out policy of %s: %w", p.Kind, err)
	}
	return nil
}

// GetPhaseoutPolicy returns the kind's policy, or store.ErrNotFound.
func (db *DB) GetPhaseoutPolicy(ctx context.Context, kind string) (store.PhaseoutPolicy, error) {
	p, err := scanPolicy(db.q.QueryRowContext(ctx, `SELECT `+policyColumns+` FROM phaseout_policies WHERE kind = $1`, kind))
	if err != nil {
		return store.PhaseoutPolicy{}, fmt.Errorf("get phase-out policy of %s: %w", kind, notFoundOr(err))
	}
	return p, nil
}

// ListPhaseoutPolicies returns every policy, ordered by kind.
func (db *DB) ListPhaseoutPolicies(ctx context.Context) ([]store.PhaseoutPolicy, error) {
	rows, err := db.q.QueryContext(ctx, `SELECT `+policyColumns+` FROM phaseout_policies ORDER BY kind`)
	if err != nil {
		return nil, fmt.Errorf("list phase-out policies: %w", err)
	}
	defer rows.Close()
	var out []store.PhaseoutPolicy
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, fmt.Errorf("list phase-out policies: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list phase-out policies: %w", err)
	}
	return out, nil
}

// DeletePhaseoutPolicy removes the kind's policy; store.ErrNotFound when it has none.
func (db *DB) DeletePhaseoutPolicy(ctx context.Context, kind string) error {
	res, err := db.q.ExecContext(ctx, `DELETE FROM phaseout_policies WHERE kind = $1`, kind)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("delete phase-out policy of %s: %w", kind, err)
	}
	return nil
}

// AcquireJobLease takes or renews the lease on job for owner; one statement, so concurrent
// acquisitions are decided by the row: the insert of one conflicts with the other's, whose
// conditional update then finds the lease held.
func (db *DB) AcquireJobLease(ctx context.Context, job, owner string, now, until time.Time) (bool, error) {
	res, err := db.q.ExecContext(ctx, `INSERT INTO job_leases (job, owner, lease_until) VALUES ($1, $2, $3)
		ON CONFLICT (job) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
		WHERE job_leases.lease_until <= $4 OR job_leases.owner = excluded.owner`,
		job, owner, toMicros(until), toMicros(now))
	if err != nil {
		return false, fmt.Errorf("acquire the lease on job %s: %w", job, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("acquire the lease on job %s: %w", job, err)
	}
	return n == 1, nil
}

// ReleaseJobLease ends owner's lease on job.
func (db *DB) ReleaseJobLease(ctx context.Context, job, owner string) error {
	if _, err := db.q.ExecContext(ctx, `DELETE FROM job_leases WHERE job = $1 AND owner = $2`, job, owner); err != nil {
		return fmt.Errorf("release the lease on job %s: %w", job, err)
	}
	return nil
}

// ListActiveKeysOfKind returns up to limit active keys of kind with ID > afterID, by ID.
func (db *DB) ListActiveKeysOfKind(ctx context.Context, kind string, afterID int64, limit int) ([]store.Key, error) {
	return db.listKeysWhere(ctx, "list active keys of kind "+kind,
		`kind = $1 AND status = $2 AND id > $3 ORDER BY id LIMIT $4`,
		kind, string(store.KeyActive), afterID, limitOrAll(limit))
}

// ListUnusedKeys returns up to limit active keys of kind with ID > afterID, by ID, last used
// (or, never used, activated) before usedBefore.
func (db *DB) ListUnusedKeys(ctx context.Context, kind string, usedBefore time.Time, afterID int64, limit int) ([]store.Key, error) {
	return db.listKeysWhere(ctx, "list unused keys of kind "+kind,
		`kind = $1 AND status = $2 AND id > $3
		AND (CASE WHEN last_used_at > 0 THEN last_used_at ELSE activated_at END) < $4 ORDER BY id LIMIT $5`,
		kind, string(store.KeyActive), afterID, toMicros(usedBefore), limitOrAll(limit))
}

// MarkUnusedWarning records the warning for deadline unless one for a deadline at or after
// due is recorded already.
func (db *DB) MarkUnusedWarning(ctx context.Context, keyID int64, due, deadline time.Time) (bool, error) {
	res, err := db.q.ExecContext(ctx, `UPDATE keys SET unused_warned_for = $1 WHERE id = $2 AND unused_warned_for < $3`,
		toMicros(deadline), keyID, toMicros(due))
	if err != nil {
		return false, fmt.Errorf("record the unused-key warning of key %d: %w", keyID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record the unused-key warning of key %d: %w", keyID, err)
	}
	return n == 1, nil
}

// RestoreExpiredKeys makes kind's keys expired for cause active again, in one statement.
func (db *DB) RestoreExpiredKeys(ctx context.Context, kind, cause string) ([]store.Key, error) {
	rows, err := db.q.QueryContext(ctx, `UPDATE keys SET status = $1, deactivated_at = 0, deactivation_cause = ''
		WHERE kind = $2 AND status = $3 AND deactivation_cause = $4 RETURNING `+keyColumns,
		string(store.KeyActive), kind, string(store.KeyExpired), cause)
	if err != nil {
		return nil, fmt.Errorf("restore expired %s keys: %w", kind, err)
	}
	defer rows.Close()
	var out []store.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("restore expired %s keys: %w", kind, err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("restore expired %s keys: %w", kind, err)
	}
	return out, nil
}

// LockPhaseoutPolicies locks the policies until the transaction ends (PostgreSQL: an advisory
// transaction lock; SQLite's IMMEDIATE write transactions are exclusive already).
func (db *DB) LockPhaseoutPolicies(ctx context.Context) error {
	if db.tx == nil {
		return fmt.Errorf("lock phase-out policies: %w", store.ErrNoTransaction)
	}
	if err := db.d.lockAddress(ctx, db.q, phaseoutLockKey); err != nil {
		return fmt.Errorf("lock phase-out policies: %w", err)
	}
	return nil
}

// phaseoutLockKey is the advisory lock key of LockPhaseoutPolicies, among the signup address
// locks: an address key always holds an @, so it never collides with one (a hash collision
// would only make a signup wait for a policy change).
const phaseoutLockKey = "phaseout-policies"

// listKeysWhere runs a key query with the given WHERE clause (and ordering).
func (db *DB) listKeysWhere(ctx context.Context, what, where string, args ...any) ([]store.Key, error) {
	rows, err := db.q.QueryContext(ctx, `SELECT `+keyColumns+` FROM keys WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []store.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// CountStranded counts the accounts with an active key of kind and no active key of a kind in
// others.
func (db *DB) CountStranded(ctx context.Context, kind string, others []string) (int64, error) {
	args := []any{kind, string(store.KeyActive)}
	q := `SELECT COUNT(DISTINCT k.account_id) FROM keys k WHERE k.kind = $1 AND k.status = $2`
	if len(others) > 0 {
		in := make([]string, len(others))
		for i, o := range others {
			args = append(args, o)
			in[i] = fmt.Sprintf("$%d", len(args))
		}
		q += ` AND NOT EXISTS (SELECT 1 FROM keys o WHERE o.account_id = k.account_id AND o.status = $2
			AND o.kind IN (` + strings.Join(in, ", ") + `))`
	}
	var n int64
	if err := db.q.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count citizens with only a %s key: %w", kind, err)
	}
	return n, nil
}
