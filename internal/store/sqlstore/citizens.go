package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// bulkRows is how many rows one multi-row statement writes or looks up: few statements for a
// large import, and at most some 6,000 placeholders per statement (SQLite allows 32,766,
// PostgreSQL 65,535). SQLite's are plain ? (see dialect.numbered).
const bulkRows = 500

// placeholders returns "(?, ?, ?), (?, ?, ?)" (SQLite) or "($1, $2, $3), ($4, $5, $6)"
// (PostgreSQL) for rows rows of cols columns, numbered from first.
func (db *DB) placeholders(first, rows, cols int) string {
	var sb strings.Builder
	n := first
	for r := range rows {
		if r > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for c := range cols {
			if c > 0 {
				sb.WriteString(", ")
			}
			db.param(&sb, n)
			n++
		}
		sb.WriteByte(')')
	}
	return sb.String()
}

// param writes the placeholder of the n-th argument of a bulk statement.
func (db *DB) param(sb *strings.Builder, n int) {
	if !db.d.numbered {
		sb.WriteByte('?')
		return
	}
	sb.WriteByte('$')
	sb.WriteString(strconv.Itoa(n))
}

// list returns "?, ?, …" or "$first, …" with n placeholders.
func (db *DB) list(first, n int) string {
	var sb strings.Builder
	for i := range n {
		if i > 0 {
			sb.WriteString(", ")
		}
		db.param(&sb, first+i)
	}
	return sb.String()
}

// chunks calls fn with consecutive slices of at most bulkRows elements of s.
func chunks[T any](s []T, fn func(part []T) error) error {
	for len(s) > 0 {
		n := min(len(s), bulkRows)
		if err := fn(s[:n]); err != nil {
			return err
		}
		s = s[n:]
	}
	return nil
}

// InsertAccounts inserts the accounts whose username is not taken, filling their ID and times;
// the others keep ID 0. An insert that conflicts does nothing (ON CONFLICT … DO NOTHING), so a
// username taken by another transaction meanwhile is skipped too, never an error.
func (db *DB) InsertAccounts(ctx context.Context, accts []store.Account) error {
	const cols = 9
	stamp := db.now()
	return chunks(accts, func(part []store.Account) error {
		args := make([]any, 0, len(part)*cols)
		byKey := make(map[string]int, len(part)) // username key → index in part of its first account
		for i := range part {
			a := &part[i]
			a.ID = 0
			created := stamp
			if !a.CreatedAt.IsZero() {
				created = db.orNow(a.CreatedAt)
			}
			updated := created
			if !a.UpdatedAt.IsZero() {
				updated = db.orNow(a.UpdatedAt)
			}
			a.CreatedAt, a.UpdatedAt = created, updated
			key := usernameKey(a.Username)
			if _, dup := byKey[key]; !dup {
				byKey[key] = i
			}
			args = append(args, a.Username, key, a.Name, a.Email, a.Language, a.PasswordHash, hashParams(a.PasswordHash),
				toMicros(created), toMicros(updated))
		}
		rows, err := db.q.QueryContext(ctx, `INSERT INTO accounts
			(username, username_key, name, email, language, password_hash, password_params, created_at, updated_at)
			VALUES `+db.placeholders(1, len(part), cols)+`
			ON CONFLICT (username_key) DO NOTHING RETURNING id, username_key`, args...)
		if err != nil {
			return fmt.Errorf("insert %d accounts: %w", len(part), err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var key string
			if err := rows.Scan(&id, &key); err != nil {
				return fmt.Errorf("insert %d accounts: %w", len(part), err)
			}
			if i, ok := byKey[key]; ok {
				part[i].ID = id
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("insert %d accounts: %w", len(part), err)
		}
		return nil
	})
}

// TakenUsernames returns the usernames of the list that are taken, case-insensitively.
func (db *DB) TakenUsernames(ctx context.Context, usernames []string) ([]string, error) {
	var out []string
	err := chunks(usernames, func(part []string) error {
		args := make([]any, len(part))
		for i, u := range part {
			args[i] = usernameKey(u)
		}
		taken, err := db.strings(ctx, `SELECT username_key FROM accounts WHERE username_key IN (`+db.list(1, len(part))+`)`, args...)
		if err != nil {
			return fmt.Errorf("taken usernames: %w", err)
		}
		for _, u := range part {
			if taken[usernameKey(u)] {
				out = append(out, u)
			}
		}
		return nil
	})
	return out, err
}

// strings runs a query of one text column and returns its values as a set.
func (db *DB) strings(ctx context.Context, q string, args ...any) (map[string]bool, error) {
	rows, err := db.q.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	set := map[string]bool{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		set[s] = true
	}
	return set, rows.Err()
}

// InsertKeys inserts keys with multi-row statements; a serial taken gives store.ErrConflict.
func (db *DB) InsertKeys(ctx context.Context, keys []store.Key) error {
	const cols = 11
	stamp := db.now()
	return chunks(keys, func(part []store.Key) error {
		args := make([]any, 0, len(part)*cols)
		for _, k := range part {
			created := stamp
			if !k.CreatedAt.IsZero() {
				created = db.orNow(k.CreatedAt)
			}
			args = append(args, k.AccountID, k.Kind, string(k.Status), k.Serial, nonNil(k.Data), k.Counter, toMicros(created),
				toMicros(k.ActivatedAt), toMicros(k.DeactivatedAt), k.DeactivationCause, toMicros(k.LastUsedAt))
		}
		_, err := db.q.ExecContext(ctx, `INSERT INTO keys
			(account_id, kind, status, serial, data, counter, created_at, activated_at, deactivated_at,
			 deactivation_cause, last_used_at)
			VALUES `+db.placeholders(1, len(part), cols), args...)
		if err != nil {
			return fmt.Errorf("insert %d keys: %w", len(part), db.conflictOr(err))
		}
		return nil
	})
}

// TakenSerials returns the serials of the list that a key of kind has.
func (db *DB) TakenSerials(ctx context.Context, kind string, serials []string) ([]string, error) {
	var out []string
	err := chunks(serials, func(part []string) error {
		args := make([]any, 0, len(part)+1)
		args = append(args, kind)
		for _, s := range part {
			args = append(args, s)
		}
		taken, err := db.strings(ctx, `SELECT serial FROM keys WHERE kind = `+db.list(1, 1)+` AND serial IN (`+db.list(2, len(part))+`)`, args...)
		if err != nil {
			return fmt.Errorf("taken serials: %w", err)
		}
		for _, s := range part {
			if taken[s] {
				out = append(out, s)
			}
		}
		return nil
	})
	return out, err
}

// AppendAudits appends events with multi-row statements.
func (db *DB) AppendAudits(ctx context.Context, events []store.AuditEvent) error {
	const cols = 9
	return chunks(events, func(part []store.AuditEvent) error {
		args := make([]any, 0, len(part)*cols)
		for _, e := range part {
			detail := e.Detail
			if detail == nil {
				detail = map[string]string{}
			}
			b, err := json.Marshal(detail)
			if err != nil {
				return fmt.Errorf("append audit event %s: %w", e.Type, err)
			}
			args = append(args, toMicros(db.orNow(e.Time)), e.Type, e.AccountID, e.KeyKind, e.KeyID, e.Reason, e.IP, e.Actor, string(b))
		}
		if _, err := db.q.ExecContext(ctx, `INSERT INTO audit_events
			(time, type, account_id, key_kind, key_id, reason, ip, actor, detail)
			VALUES `+db.placeholders(1, len(part), cols), args...); err != nil {
			return fmt.Errorf("append %d audit events: %w", len(part), err)
		}
		return nil
	})
}

// ListAccountAudit returns the account's audit events after afterID, oldest first (the index
// audit_events_account serves it).
func (db *DB) ListAccountAudit(ctx context.Context, accountID, afterID int64, limit int) ([]store.AuditEvent, error) {
	rows, err := db.q.QueryContext(ctx, `SELECT id, time, type, account_id, key_kind, key_id, reason, ip, actor, detail
		FROM audit_events WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3`, accountID, afterID, limitOrAll(limit))
	if err != nil {
		return nil, fmt.Errorf("list audit events of account %d: %w", accountID, err)
	}
	out, err := scanAuditEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("list audit events of account %d: %w", accountID, err)
	}
	return out, nil
}

// ListAccountMessages returns the outbox messages to the account, and those without an account
// to its address (the registration's), oldest first.
func (db *DB) ListAccountMessages(ctx context.Context, accountID int64) ([]store.Message, error) {
	msgIDs, _, err := db.accountRegistrationRows(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("list messages of account %d: %w", accountID, err)
	}
	rows, err := db.q.QueryContext(ctx, `SELECT `+messageColumns+` FROM outbox WHERE account_id = $1 ORDER BY id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list messages of account %d: %w", accountID, err)
	}
	out, err := scanMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("list messages of account %d: %w", accountID, err)
	}
	for _, id := range msgIDs {
		rows, err := db.q.QueryContext(ctx, `SELECT `+messageColumns+` FROM outbox WHERE id = $1`, id)
		if err != nil {
			return nil, fmt.Errorf("list messages of account %d: %w", accountID, err)
		}
		ms, err := scanMessages(rows)
		if err != nil {
			return nil, fmt.Errorf("list messages of account %d: %w", accountID, err)
		}
		out = append(out, ms...)
	}
	slices.SortFunc(out, func(a, b store.Message) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// ListAccountSignups returns the registrations with the account's e-mail address or username,
// oldest first.
func (db *DB) ListAccountSignups(ctx context.Context, accountID int64) ([]store.Signup, error) {
	_, ids, err := db.accountRegistrationRows(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("list registrations of account %d: %w", accountID, err)
	}
	out := make([]store.Signup, 0, len(ids))
	for _, id := range ids {
		su, err := db.GetSignup(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("list registrations of account %d: %w", accountID, err)
		}
		out = append(out, su)
	}
	return out, nil
}

// accountRegistrationRows is registrationRows of the account with id; none when there is no
// such account.
func (db *DB) accountRegistrationRows(ctx context.Context, id int64) (msgIDs, signupIDs []int64, err error) {
	a, err := db.GetAccount(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return db.registrationRows(ctx, a)
}

// registrationRows returns the ids, in order, of the rows about a citizen that were written
// before their account existed, so carry no account_id: the outbox messages without an account
// to their address (the registration's code) and the registrations with their address or
// username. Both are matched here rather than in SQL, with the keys the rest of the store uses
// (store.EmailKey, usernameKey): the registrations are swept after a day, and messages without
// an account are few, so the scans are short.
func (db *DB) registrationRows(ctx context.Context, a store.Account) (msgIDs, signupIDs []int64, err error) {
	email, user := store.EmailKey(a.Email), usernameKey(a.Username)
	match := func(q string, keep func(addr, name string) bool) ([]int64, error) {
		rows, err := db.q.QueryContext(ctx, q)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var ids []int64
		for rows.Next() {
			var id int64
			var addr, name string
			if err := rows.Scan(&id, &addr, &name); err != nil {
				return nil, err
			}
			if keep(addr, name) {
				ids = append(ids, id)
			}
		}
		return ids, rows.Err()
	}
	msgIDs, err = match(`SELECT id, to_address, '' FROM outbox WHERE account_id = 0 ORDER BY id`,
		func(addr, _ string) bool { return email != "" && store.EmailKey(addr) == email })
	if err != nil {
		return nil, nil, fmt.Errorf("registration e-mails: %w", err)
	}
	signupIDs, err = match(`SELECT id, email, username FROM signups ORDER BY id`,
		func(addr, name string) bool {
			return (email != "" && store.EmailKey(addr) == email) || usernameKey(name) == user
		})
	if err != nil {
		return nil, nil, fmt.Errorf("registrations: %w", err)
	}
	return msgIDs, signupIDs, nil
}

// ListAccountSessions returns the account's sessions, oldest first.
func (db *DB) ListAccountSessions(ctx context.Context, accountID int64) ([]store.Session, error) {
	rows, err := db.q.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE account_id = $1 ORDER BY created_at, id_hash`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list sessions of account %d: %w", accountID, err)
	}
	defer rows.Close()
	var out []store.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("list sessions of account %d: %w", accountID, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions of account %d: %w", accountID, err)
	}
	return out, nil
}

// ListAccountCodes returns the account's one-time codes, oldest first.
func (db *DB) ListAccountCodes(ctx context.Context, accountID int64) ([]store.Code, error) {
	rows, err := db.q.QueryContext(ctx, `SELECT `+codeColumns+` FROM codes WHERE account_id = $1 ORDER BY id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list codes of account %d: %w", accountID, err)
	}
	defer rows.Close()
	var out []store.Code
	for rows.Next() {
		c, err := scanCode(rows)
		if err != nil {
			return nil, fmt.Errorf("list codes of account %d: %w", accountID, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list codes of account %d: %w", accountID, err)
	}
	return out, nil
}

// accountRows are the tables whose rows are about one account (account_id), deleted with it,
// children before the account they reference. Audit events are not among them: they are kept,
// pseudonymised. A table added with an account_id column belongs here, or must be said to be
// kept (the sqlstore test TestDeleteAccountLeavesNoRow lists every such column).
var accountRows = []string{"sessions", "codes", "keys", "outbox", "oidc_auth_requests", "account_roles", "reminders"}

// accountDetailKeys are the audit detail keys whose value is an account ID, pseudonymised with
// the account's events (a logon.failure with reason other_account names the citizen the
// refused step-up was bound to). A new one belongs here, or the ID stays behind a deletion.
var accountDetailKeys = []string{"bound_account"}

// DeleteAccount removes the account and its rows, and pseudonymises its audit events, in one
// transaction (the caller's, or its own).
func (db *DB) DeleteAccount(ctx context.Context, id, pseudonym int64) error {
	if pseudonym >= 0 {
		return fmt.Errorf("delete account %d: pseudonym %d is not negative", id, pseudonym)
	}
	return db.inTx(ctx, func(tx *DB) error {
		if err := tx.LockAccount(ctx, id); err != nil {
			return fmt.Errorf("delete account %d: %w", id, err)
		}
		a, err := tx.GetAccount(ctx, id)
		if err != nil {
			return fmt.Errorf("delete account %d: %w", id, err)
		}
		msgIDs, signupIDs, err := tx.registrationRows(ctx, a)
		if err != nil {
			return fmt.Errorf("delete account %d: %w", id, err)
		}
		for _, table := range accountRows {
			if _, err := tx.q.ExecContext(ctx, `DELETE FROM `+table+` WHERE account_id = $1`, id); err != nil {
				return fmt.Errorf("delete account %d: %s: %w", id, table, err)
			}
		}
		for _, del := range []struct {
			table string
			ids   []int64
		}{{"outbox", msgIDs}, {"signups", signupIDs}} {
			for _, rowID := range del.ids {
				if _, err := tx.q.ExecContext(ctx, `DELETE FROM `+del.table+` WHERE id = $1`, rowID); err != nil {
					return fmt.Errorf("delete account %d: %s: %w", id, del.table, err)
				}
			}
		}
		if _, err := tx.q.ExecContext(ctx, `UPDATE audit_events SET account_id = $1 WHERE account_id = $2`, pseudonym, id); err != nil {
			return fmt.Errorf("delete account %d: pseudonymise audit events: %w", id, err)
		}
		// Another citizen's event may name this account in its detail: a step-up bound to it
		// that was tried with the other's password (logon.failure, other_account). The
		// detail is JSON of a map[string]string, so the value is exactly "<id>".
		for _, key := range accountDetailKeys {
			from, to := fmt.Sprintf(`"%s":"%d"`, key, id), fmt.Sprintf(`"%s":"%d"`, key, pseudonym)
			if _, err := tx.q.ExecContext(ctx, `UPDATE audit_events SET detail = replace(detail, $1, $2)
				WHERE detail LIKE $3`, from, to, "%"+from+"%"); err != nil {
				return fmt.Errorf("delete account %d: pseudonymise audit details: %w", id, err)
			}
		}
		res, err := tx.q.ExecContext(ctx, `DELETE FROM accounts WHERE id = $1`, id)
		if err == nil {
			err = affectedOne(res)
		}
		if err != nil {
			return fmt.Errorf("delete account %d: %w", id, err)
		}
		return nil
	})
}

// scanAuditEvents reads audit event rows and closes them.
func scanAuditEvents(rows *sql.Rows) ([]store.AuditEvent, error) {
	defer rows.Close()
	var out []store.AuditEvent
	for rows.Next() {
		var e store.AuditEvent
		var at int64
		var detail string
		if err := rows.Scan(&e.ID, &at, &e.Type, &e.AccountID, &e.KeyKind, &e.KeyID, &e.Reason, &e.IP, &e.Actor, &detail); err != nil {
			return nil, err
		}
		e.Time = fromMicros(at)
		if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
			return nil, fmt.Errorf("decode detail of event %d: %w", e.ID, err)
		}
		if len(e.Detail) == 0 {
			e.Detail = nil
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
