package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// GrantRole gives the account a role; false when it held it already.
func (db *DB) GrantRole(ctx context.Context, g store.RoleGrant) (bool, error) {
	var granted bool
	err := db.inTx(ctx, func(tx *DB) error {
		var id int64
		if err := tx.q.QueryRowContext(ctx, `SELECT id FROM accounts WHERE id = $1`, g.AccountID).Scan(&id); err != nil {
			return notFoundOr(err)
		}
		res, err := tx.q.ExecContext(ctx, `INSERT INTO account_roles (account_id, role, granted_at, granted_by)
			VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, role) DO NOTHING`,
			g.AccountID, g.Role, toMicros(db.orNow(g.GrantedAt)), g.GrantedBy)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		granted = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("grant role %s to account %d: %w", g.Role, g.AccountID, err)
	}
	return granted, nil
}

// RevokeRole takes the role from the account; false when it did not hold it.
func (db *DB) RevokeRole(ctx context.Context, accountID int64, role string) (bool, error) {
	res, err := db.q.ExecContext(ctx, `DELETE FROM account_roles WHERE account_id = $1 AND role = $2`, accountID, role)
	if err != nil {
		return false, fmt.Errorf("revoke role %s of account %d: %w", role, accountID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("revoke role %s of account %d: %w", role, accountID, err)
	}
	return n == 1, nil
}

// HasRole reports whether the account holds role.
func (db *DB) HasRole(ctx context.Context, accountID int64, role string) (bool, error) {
	var n int
	err := db.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM account_roles WHERE account_id = $1 AND role = $2`, accountID, role).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("role %s of account %d: %w", role, accountID, err)
	}
	return n > 0, nil
}

// ListRoles returns the grants of role, oldest first.
func (db *DB) ListRoles(ctx context.Context, role string) ([]store.RoleGrant, error) {
	rows, err := db.q.QueryContext(ctx, `SELECT r.account_id, a.username, r.role, r.granted_at, r.granted_by
		FROM account_roles r JOIN accounts a ON a.id = r.account_id
		WHERE r.role = $1 ORDER BY r.granted_at, r.account_id`, role)
	if err != nil {
		return nil, fmt.Errorf("list role %s: %w", role, err)
	}
	defer rows.Close()
	var out []store.RoleGrant
	for rows.Next() {
		var g store.RoleGrant
		var at int64
		if err := rows.Scan(&g.AccountID, &g.Username, &g.Role, &at, &g.GrantedBy); err != nil {
			return nil, fmt.Errorf("list role %s: %w", role, err)
		}
		g.GrantedAt = fromMicros(at)
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list role %s: %w", role, err)
	}
	return out, nil
}

// detailField is the SQL expression of an audit event's Detail field (stored as a JSON
// object), NULL when absent. field is a constant of the caller's, checked here all the same:
// it becomes part of the statement.
func (db *DB) detailField(field string) string {
	for _, r := range field {
		if (r < 'a' || r > 'z') && r != '_' {
			panic(fmt.Sprintf("sqlstore: detail field %q is not a plain name", field))
		}
	}
	if db.d == &postgresDialect {
		return `((detail::jsonb) ->> '` + field + `')`
	}
	return `json_extract(detail, '$.` + field + `')`
}

// numbered returns n placeholders numbered from first: "$3, $4".
func numbered(first, n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = "$" + strconv.Itoa(first+i)
	}
	return strings.Join(parts, ", ")
}

// atRiskWhere is the condition on keys k that makes its account at risk in c: the key is an
// active key of c.Kind and the account has no active key of c.Others. Its placeholders start
// at first; args are appended to args.
func atRiskWhere(c store.CampaignKeys, first int, args []any) (string, []any) {
	where := `k.kind = $` + strconv.Itoa(first) + ` AND k.status = 'active'`
	args = append(args, c.Kind)
	if len(c.Others) > 0 {
		where += ` AND NOT EXISTS (SELECT 1 FROM keys o WHERE o.account_id = k.account_id
			AND o.status = 'active' AND o.kind IN (` + numbered(first+1, len(c.Others)) + `))`
		for _, o := range c.Others {
			args = append(args, o)
		}
	}
	return where, args
}

// CountByLastUse counts the citizens with an active key of kind per bucket of last use.
func (db *DB) CountByLastUse(ctx context.Context, kind string, bounds []time.Time) ([]int64, error) {
	var sb strings.Builder
	args := []any{kind}
	sb.WriteString(`SELECT CASE WHEN m = 0 THEN 0`)
	for i, b := range bounds {
		if i > 0 && !b.Before(bounds[i-1]) {
			return nil, fmt.Errorf("count keys of %s by last use: bounds not in descending order", kind)
		}
		args = append(args, toMicros(b))
		fmt.Fprintf(&sb, ` WHEN m >= $%d THEN %d`, len(args), i+1)
	}
	fmt.Fprintf(&sb, ` ELSE %d END AS bucket, COUNT(*)
		FROM (SELECT account_id, MAX(last_used_at) AS m FROM keys
			WHERE kind = $1 AND status = 'active' GROUP BY account_id) t
		GROUP BY bucket`, len(bounds)+1)
	rows, err := db.q.QueryContext(ctx, sb.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("count keys of %s by last use: %w", kind, err)
	}
	defer rows.Close()
	out := make([]int64, len(bounds)+2)
	for rows.Next() {
		var bucket int
		var n int64
		if err := rows.Scan(&bucket, &n); err != nil {
			return nil, fmt.Errorf("count keys of %s by last use: %w", kind, err)
		}
		out[bucket] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count keys of %s by last use: %w", kind, err)
	}
	return out, nil
}

// CountAtRisk counts the citizens at risk in c. The holders are grouped in index order (a
// COUNT(DISTINCT …) made SQLite sort them again); PostgreSQL answers the NOT EXISTS with a hash
// anti-join, SQLite with a probe of keys_account_status_kind per holder.
func (db *DB) CountAtRisk(ctx context.Context, c store.CampaignKeys) (int64, error) {
	where, args := atRiskWhere(c, 1, nil)
	var n int64
	if err := db.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT k.account_id FROM keys k WHERE `+where+`
		GROUP BY k.account_id) t`, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count citizens at risk (%s): %w", c.Kind, err)
	}
	return n, nil
}

// ListAtRisk returns the citizens at risk among the next window holders of c.Kind.
func (db *DB) ListAtRisk(ctx context.Context, c store.CampaignKeys, afterID int64, window int) ([]store.AtRisk, int64, error) {
	return db.listAtRisk(ctx, c, 0, afterID, window)
}

// UnremindedAtRisk is ListAtRisk without those the round reminded.
func (db *DB) UnremindedAtRisk(ctx context.Context, roundID int64, c store.CampaignKeys, afterID int64, window int) ([]store.AtRisk, int64, error) {
	return db.listAtRisk(ctx, c, roundID, afterID, window)
}

// listAtRisk reads a window of the kind's holders in account order (an index-only scan of
// keys_kind_status_account that stops after window accounts) and says of each whether it is
// at risk (and, with a round, not reminded), probing keys_account_status_kind and reminders
// per account. A NOT EXISTS in the WHERE clause would let PostgreSQL plan a hash anti-join
// over every key before the LIMIT: the window keeps a page's work bounded on both databases.
func (db *DB) listAtRisk(ctx context.Context, c store.CampaignKeys, roundID, afterID int64, window int) ([]store.AtRisk, int64, error) {
	args := []any{c.Kind, afterID, limitOrAll(window)}
	safe := "0"
	if len(c.Others) > 0 {
		safe = `CASE WHEN EXISTS (SELECT 1 FROM keys o WHERE o.account_id = t.account_id AND o.status = 'active'
			AND o.kind IN (` + numbered(len(args)+1, len(c.Others)) + `)) THEN 1 ELSE 0 END`
		for _, o := range c.Others {
			args = append(args, o)
		}
	}
	reminded := "0"
	if roundID != 0 {
		args = append(args, roundID)
		reminded = `CASE WHEN EXISTS (SELECT 1 FROM reminders r WHERE r.round_id = $` + strconv.Itoa(len(args)) +
			` AND r.account_id = t.account_id) THEN 1 ELSE 0 END`
	}
	rows, err := db.q.QueryContext(ctx, `SELECT a.id, a.username, a.name, a.email, a.language, t.m, `+safe+`, `+reminded+`
		FROM (SELECT k.account_id, MAX(k.last_used_at) AS m FROM keys k
			WHERE k.kind = $1 AND k.status = 'active' AND k.account_id > $2
			GROUP BY k.account_id ORDER BY k.account_id LIMIT $3) t
		JOIN accounts a ON a.id = t.account_id
		ORDER BY a.id`, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list citizens at risk (%s): %w", c.Kind, err)
	}
	defer rows.Close()
	var out []store.AtRisk
	var last int64
	for rows.Next() {
		var r store.AtRisk
		var m int64
		var safe, reminded int
		if err := rows.Scan(&r.AccountID, &r.Username, &r.Name, &r.Email, &r.Language, &m, &safe, &reminded); err != nil {
			return nil, 0, fmt.Errorf("list citizens at risk (%s): %w", c.Kind, err)
		}
		last = r.AccountID
		if safe == 1 || reminded == 1 {
			continue
		}
		r.LastUsedAt = fromMicros(m)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list citizens at risk (%s): %w", c.Kind, err)
	}
	return out, last, nil
}

// CountEvents counts the kind's audit events of types per type and answer: an index-only scan
// of audit_events_kind_choice (the answer is the generated column detail_choice).
func (db *DB) CountEvents(ctx context.Context, kind string, types []string) ([]store.EventCount, error) {
	if len(types) == 0 {
		return nil, nil
	}
	args := []any{kind}
	for _, t := range types {
		args = append(args, t)
	}
	rows, err := db.q.QueryContext(ctx, `SELECT type, detail_choice, COUNT(*)
		FROM audit_events
		WHERE type IN (`+numbered(2, len(types))+`) AND key_kind = $1
		GROUP BY type, detail_choice ORDER BY type, detail_choice`, args...)
	if err != nil {
		return nil, fmt.Errorf("count audit events of %s: %w", kind, err)
	}
	defer rows.Close()
	var out []store.EventCount
	for rows.Next() {
		var c store.EventCount
		var v sql.NullString
		if err := rows.Scan(&c.Type, &v, &c.Events); err != nil {
			return nil, fmt.Errorf("count audit events of %s: %w", kind, err)
		}
		c.Value = v.String
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count audit events of %s: %w", kind, err)
	}
	return out, nil
}

// CountMigrationsByHour counts the migrations away from kind per hour and target kind.
func (db *DB) CountMigrationsByHour(ctx context.Context, kind string) ([]store.HourCount, error) {
	rows, err := db.q.QueryContext(ctx, `SELECT time / 3600000000 AS h, `+db.detailField("replaced_by")+` AS v, COUNT(*)
		FROM audit_events
		WHERE type = 'key.deactivated' AND key_kind = $1 AND `+db.detailField("cause")+` = 'migration'
		GROUP BY h, v ORDER BY h, v`, kind)
	if err != nil {
		return nil, fmt.Errorf("count migrations from %s: %w", kind, err)
	}
	defer rows.Close()
	var out []store.HourCount
	for rows.Next() {
		var c store.HourCount
		var v sql.NullString
		if err := rows.Scan(&c.Hour, &v, &c.Events); err != nil {
			return nil, fmt.Errorf("count migrations from %s: %w", kind, err)
		}
		c.Value = v.String
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count migrations from %s: %w", kind, err)
	}
	return out, nil
}

// LatestReminderRound returns the kind's newest round with its count of reminders.
func (db *DB) LatestReminderRound(ctx context.Context, kind string) (store.ReminderRound, error) {
	var r store.ReminderRound
	var started, finished, disabled int64
	err := db.q.QueryRowContext(ctx, `SELECT id, kind, number, started_at, started_by, finished_at, disabled_from,
			(SELECT COUNT(*) FROM reminders m WHERE m.round_id = reminder_rounds.id)
		FROM reminder_rounds WHERE kind = $1 ORDER BY number DESC LIMIT 1`, kind).
		Scan(&r.ID, &r.Kind, &r.Number, &started, &r.StartedBy, &finished, &disabled, &r.Reminded)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return r, store.ErrNotFound
		}
		return r, fmt.Errorf("latest reminder round of %s: %w", kind, err)
	}
	r.StartedAt, r.FinishedAt, r.DisabledFrom = fromMicros(started), fromMicros(finished), fromMicros(disabled)
	return r, nil
}

// CreateReminderRound inserts r; ErrConflict when its number is taken.
func (db *DB) CreateReminderRound(ctx context.Context, r *store.ReminderRound) error {
	r.StartedAt = db.orNow(r.StartedAt)
	err := db.q.QueryRowContext(ctx, `INSERT INTO reminder_rounds (kind, number, started_at, started_by, finished_at, disabled_from)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		r.Kind, r.Number, toMicros(r.StartedAt), r.StartedBy, toMicros(r.FinishedAt), toMicros(r.DisabledFrom)).Scan(&r.ID)
	if err != nil {
		return fmt.Errorf("create reminder round %d of %s: %w", r.Number, r.Kind, db.conflictOr(err))
	}
	return nil
}

// FinishReminderRound marks the round finished, once.
func (db *DB) FinishReminderRound(ctx context.Context, id int64, at time.Time) (bool, error) {
	res, err := db.q.ExecContext(ctx, `UPDATE reminder_rounds SET finished_at = $1 WHERE id = $2 AND finished_at = 0`,
		toMicros(db.orNow(at)), id)
	if err != nil {
		return false, fmt.Errorf("finish reminder round %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("finish reminder round %d: %w", id, err)
	}
	return n == 1, nil
}

// RecordReminder records a reminder of the round; false when it was recorded before.
func (db *DB) RecordReminder(ctx context.Context, roundID, accountID int64, at time.Time) (bool, error) {
	res, err := db.q.ExecContext(ctx, `INSERT INTO reminders (round_id, account_id, sent_at) VALUES ($1, $2, $3)
		ON CONFLICT (round_id, account_id) DO NOTHING`, roundID, accountID, toMicros(db.orNow(at)))
	if err != nil {
		return false, fmt.Errorf("record reminder of round %d to account %d: %w", roundID, accountID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record reminder of round %d to account %d: %w", roundID, accountID, err)
	}
	return n == 1, nil
}
