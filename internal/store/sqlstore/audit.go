package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// AppendAudit appends e and fills its ID (and Time when zero). Detail is stored as a JSON object.
func (db *DB) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	detail := e.Detail
	if detail == nil {
		detail = map[string]string{}
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("append audit event %s: %w", e.Type, err)
	}
	at := db.orNow(e.Time)
	err = db.q.QueryRowContext(ctx, `INSERT INTO audit_events
		(time, type, account_id, key_kind, key_id, reason, ip, actor, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		toMicros(at), e.Type, e.AccountID, e.KeyKind, e.KeyID, e.Reason, e.IP, e.Actor, string(b)).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("append audit event %s: %w", e.Type, err)
	}
	e.Time = at
	return nil
}

// ListAudit returns up to limit events with ID > afterID, oldest first (limit <= 0: all).
func (db *DB) ListAudit(ctx context.Context, afterID int64, limit int) ([]store.AuditEvent, error) {
	rows, err := db.q.QueryContext(ctx, `SELECT id, time, type, account_id, key_kind, key_id, reason, ip, actor, detail
		FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limitOrAll(limit))
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	var out []store.AuditEvent
	for rows.Next() {
		var e store.AuditEvent
		var at int64
		var detail string
		if err := rows.Scan(&e.ID, &at, &e.Type, &e.AccountID, &e.KeyKind, &e.KeyID, &e.Reason, &e.IP, &e.Actor, &detail); err != nil {
			return nil, fmt.Errorf("list audit events: %w", err)
		}
		e.Time = fromMicros(at)
		if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
			return nil, fmt.Errorf("list audit events: decode detail of event %d: %w", e.ID, err)
		}
		if len(e.Detail) == 0 {
			e.Detail = nil
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return out, nil
}

// RecentAccountAudit returns up to limit of the account's newest events whose type starts with
// typePrefix (any when empty), newest first: the index on (account_id, id) read backwards.
func (db *DB) RecentAccountAudit(ctx context.Context, accountID int64, typePrefix string, limit int) ([]store.AuditEvent, error) {
	// LIKE's own wildcards in the prefix are taken literally.
	pattern := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(typePrefix) + "%"
	rows, err := db.q.QueryContext(ctx, `SELECT id, time, type, account_id, key_kind, key_id, reason, ip, actor, detail
		FROM audit_events WHERE account_id = $1 AND type LIKE $2 ESCAPE '\' ORDER BY id DESC LIMIT $3`,
		accountID, pattern, limitOrAll(limit))
	if err != nil {
		return nil, fmt.Errorf("recent audit events of account %d: %w", accountID, err)
	}
	out, err := scanAuditEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("recent audit events of account %d: %w", accountID, err)
	}
	return out, nil
}
