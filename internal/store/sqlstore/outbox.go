package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

const messageColumns = `id, message_id, account_id, template, language, to_address, to_name, subject, text_body,
	html_body, state, attempts, next_attempt_at, lease_owner, lease_until, last_error, created_at, sent_at, secret_until`

func scanMessage(row interface{ Scan(...any) error }) (store.Message, error) {
	var m store.Message
	var state string
	var next, leaseUntil, created, sent, secretUntil int64
	err := row.Scan(&m.ID, &m.MessageID, &m.AccountID, &m.Template, &m.Language, &m.ToAddress, &m.ToName, &m.Subject,
		&m.TextBody, &m.HTMLBody, &state, &m.Attempts, &next, &m.LeaseOwner, &leaseUntil, &m.LastError, &created, &sent,
		&secretUntil)
	m.State = store.MessageState(state)
	m.NextAttemptAt, m.LeaseUntil = fromMicros(next), fromMicros(leaseUntil)
	m.CreatedAt, m.SentAt, m.SecretUntil = fromMicros(created), fromMicros(sent), fromMicros(secretUntil)
	return m, err
}

func scanMessages(rows *sql.Rows) ([]store.Message, error) {
	defer rows.Close()
	var out []store.Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Enqueue inserts m and fills its ID, its CreatedAt when zero and its State (pending unless set,
// e.g. to held). A zero NextAttemptAt makes the message due at once. Call it inside the
// transaction of the change that caused the message, so that both or neither are kept.
func (db *DB) Enqueue(ctx context.Context, m *store.Message) error {
	created := db.orNow(m.CreatedAt)
	state := m.State
	if state == "" {
		state = store.MessagePending
	}
	err := db.q.QueryRowContext(ctx, `INSERT INTO outbox
		(message_id, account_id, template, language, to_address, to_name, subject, text_body, html_body,
		 state, attempts, next_attempt_at, lease_owner, lease_until, last_error, created_at, sent_at, secret_until)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING id`,
		m.MessageID, m.AccountID, m.Template, m.Language, m.ToAddress, m.ToName, m.Subject, m.TextBody, m.HTMLBody,
		string(state), m.Attempts, toMicros(m.NextAttemptAt), m.LeaseOwner, toMicros(m.LeaseUntil), m.LastError,
		toMicros(created), toMicros(m.SentAt), toMicros(m.SecretUntil)).Scan(&m.ID)
	if err != nil {
		return fmt.Errorf("enqueue %s message: %w", m.Template, err)
	}
	m.CreatedAt, m.State = created, state
	return nil
}

// ClaimMessages leases up to limit due messages to owner until leaseUntil and returns them in
// the order they fell due. Due are pending messages with NextAttemptAt <= now and sending
// messages whose lease ended (LeaseUntil <= now: their worker died). Each claim counts as a
// delivery attempt: Attempts is incremented.
//
// It is one statement: a MATERIALIZED common table expression picks the due ids (on PostgreSQL
// FOR UPDATE SKIP LOCKED, so concurrent claimers on other nodes pass over each other's rows), and
// the UPDATE takes them. On SQLite the statement holds the single write lock.
func (db *DB) ClaimMessages(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]store.Message, error) {
	if owner == "" {
		return nil, errors.New("claim messages: empty owner")
	}
	if limit <= 0 {
		return nil, nil
	}
	rows, err := db.q.QueryContext(ctx, `WITH due AS MATERIALIZED (
			SELECT id FROM outbox
			WHERE (state = 'pending' AND next_attempt_at <= $1) OR (state = 'sending' AND lease_until <= $1)
			ORDER BY next_attempt_at, id
			LIMIT $2`+db.d.skipLocked+`
		)
		UPDATE outbox SET state = 'sending', lease_owner = $3, lease_until = $4, attempts = attempts + 1
		WHERE id IN (SELECT id FROM due)
		RETURNING `+messageColumns,
		toMicros(now), limit, owner, toMicros(leaseUntil))
	if err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	msgs, err := scanMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	sort.Slice(msgs, func(i, j int) bool {
		if !msgs[i].NextAttemptAt.Equal(msgs[j].NextAttemptAt) {
			return msgs[i].NextAttemptAt.Before(msgs[j].NextAttemptAt)
		}
		return msgs[i].ID < msgs[j].ID
	})
	return msgs, nil
}

// leased runs an UPDATE that applies only while owner holds the lease of message id, and turns
// "no row" into store.ErrNotFound.
func (db *DB) leased(ctx context.Context, op string, id int64, q string, args ...any) error {
	res, err := db.q.ExecContext(ctx, q, args...)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("%s message %d: %w", op, id, err)
	}
	return nil
}

// MarkSent records delivery at at and drops the bodies, which may hold a code. store.ErrNotFound
// unless owner holds the lease.
func (db *DB) MarkSent(ctx context.Context, id int64, owner string, at time.Time) error {
	return db.leased(ctx, "mark sent", id, `UPDATE outbox SET state = 'sent', sent_at = $1, lease_owner = '', lease_until = 0,
		last_error = '', text_body = '', html_body = '' WHERE id = $2 AND lease_owner = $3 AND state = 'sending'`, toMicros(at), id, owner)
}

// RetryLater puts the message back to pending until next, keeping lastErr. store.ErrNotFound
// unless owner holds the lease.
func (db *DB) RetryLater(ctx context.Context, id int64, owner string, next time.Time, lastErr string) error {
	return db.leased(ctx, "retry", id, `UPDATE outbox SET state = 'pending', next_attempt_at = $1, last_error = $2,
		lease_owner = '', lease_until = 0 WHERE id = $3 AND lease_owner = $4 AND state = 'sending'`,
		toMicros(next), lastErr, id, owner)
}

// MarkFailed gives up on the message, keeping lastErr, and drops the bodies of a message that
// carries a code: it must never be sent again, and its code must not stay readable.
// store.ErrNotFound unless owner holds the lease.
func (db *DB) MarkFailed(ctx context.Context, id int64, owner string, lastErr string) error {
	return db.leased(ctx, "mark failed", id, `UPDATE outbox SET state = 'failed', last_error = $1, lease_owner = '',
		lease_until = 0,
		text_body = CASE WHEN secret_until <> 0 THEN '' ELSE text_body END,
		html_body = CASE WHEN secret_until <> 0 THEN '' ELSE html_body END
		WHERE id = $2 AND lease_owner = $3 AND state = 'sending'`, lastErr, id, owner)
}

// sendable is the condition on an outbox row that may still be sent: it carries no code, or
// its code is valid at $1 and its bodies are there.
const sendable = `(secret_until = 0 OR (secret_until > $1 AND (text_body <> '' OR html_body <> '')))`

// RequeueMessage puts a failed or held message back to pending, due at now, with its attempt
// count reset (the last error is kept until the next attempt). store.ErrNotFound when there is
// no such message; an error wrapping store.ErrConflict when it is in another state, and one
// wrapping store.ErrSecretGone when its code expired or its bodies were dropped.
func (db *DB) RequeueMessage(ctx context.Context, id int64, now time.Time) error {
	res, err := db.q.ExecContext(ctx, `UPDATE outbox SET state = 'pending', next_attempt_at = $1, attempts = 0,
		lease_owner = '', lease_until = 0 WHERE id = $2 AND state IN ('failed', 'held') AND `+sendable, toMicros(now), id)
	if err == nil {
		err = affectedOne(res)
	}
	if errors.Is(err, store.ErrNotFound) {
		m, getErr := db.GetMessage(ctx, id)
		if getErr != nil {
			return fmt.Errorf("requeue: %w", getErr)
		}
		if m.State != store.MessageFailed && m.State != store.MessageHeld {
			return fmt.Errorf("requeue message %d: it is %s, not failed or held: %w", id, m.State, store.ErrConflict)
		}
		return fmt.Errorf("requeue message %d: its code was valid until %s: %w", id,
			m.SecretUntil.UTC().Format(time.RFC3339), store.ErrSecretGone)
	}
	if err != nil {
		return fmt.Errorf("requeue message %d: %w", id, err)
	}
	return nil
}

// RequeueFailed puts every failed message that carries no code back to pending, due at now with
// its attempt count reset, and returns how many, and how many failed messages that carried a
// code it left (their bodies were dropped when they failed).
func (db *DB) RequeueFailed(ctx context.Context, now time.Time) (requeued, skipped int64, err error) {
	err = db.inTx(ctx, func(tx *DB) error {
		res, err := tx.q.ExecContext(ctx, `UPDATE outbox SET state = 'pending', next_attempt_at = $1, attempts = 0,
			lease_owner = '', lease_until = 0 WHERE state = 'failed' AND `+sendable, toMicros(now))
		if err != nil {
			return err
		}
		if requeued, err = res.RowsAffected(); err != nil {
			return err
		}
		return tx.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE state = 'failed'`).Scan(&skipped)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("requeue failed messages: %w", err)
	}
	return requeued, skipped, nil
}

// ExpireSecrets empties the bodies of the messages whose code expired at or before now, in any
// state, and fails those still pending, so a stale code is never sent nor kept. It returns how
// many messages it changed.
func (db *DB) ExpireSecrets(ctx context.Context, now time.Time) (int64, error) {
	res, err := db.q.ExecContext(ctx, `UPDATE outbox SET text_body = '', html_body = '',
		last_error = CASE WHEN state = 'pending' THEN $2 ELSE last_error END,
		state = CASE WHEN state = 'pending' THEN 'failed' ELSE state END
		WHERE secret_until <> 0 AND secret_until <= $1 AND (text_body <> '' OR html_body <> '')`,
		toMicros(now), store.CodeExpiredBeforeDelivery)
	if err != nil {
		return 0, fmt.Errorf("expire message codes: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("expire message codes: %w", err)
	}
	return n, nil
}

// GetMessage returns the message with id, or store.ErrNotFound.
func (db *DB) GetMessage(ctx context.Context, id int64) (store.Message, error) {
	m, err := scanMessage(db.q.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM outbox WHERE id = $1`, id))
	if err != nil {
		return store.Message{}, fmt.Errorf("get message %d: %w", id, notFoundOr(err))
	}
	return m, nil
}

// ListMessages returns up to limit messages, newest first (limit <= 0: all).
func (db *DB) ListMessages(ctx context.Context, limit int) ([]store.Message, error) {
	rows, err := db.q.QueryContext(ctx, `SELECT `+messageColumns+` FROM outbox ORDER BY id DESC LIMIT $1`, limitOrAll(limit))
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	msgs, err := scanMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	return msgs, nil
}

// RecentAccountMessages returns up to limit of the account's newest messages (of template, when
// not empty), newest first: the index on (account_id, id) read backwards.
func (db *DB) RecentAccountMessages(ctx context.Context, accountID int64, template string, limit int) ([]store.Message, error) {
	rows, err := db.q.QueryContext(ctx, `SELECT `+messageColumns+` FROM outbox
		WHERE account_id = $1 AND ($2 = '' OR template = $2) ORDER BY id DESC LIMIT $3`, accountID, template, limitOrAll(limit))
	if err != nil {
		return nil, fmt.Errorf("recent messages of account %d: %w", accountID, err)
	}
	msgs, err := scanMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("recent messages of account %d: %w", accountID, err)
	}
	return msgs, nil
}

// allStates are reported by OutboxStatus even when no message is in them.
var allStates = []store.MessageState{
	store.MessagePending, store.MessageSending, store.MessageSent, store.MessageFailed, store.MessageHeld,
}

// OutboxStatus counts messages per state (every known state is present, possibly 0) and gives
// the creation time of the oldest pending message.
func (db *DB) OutboxStatus(ctx context.Context) (store.OutboxStatus, error) {
	st := store.OutboxStatus{Counts: make(map[store.MessageState]int, len(allStates))}
	for _, s := range allStates {
		st.Counts[s] = 0
	}
	rows, err := db.q.QueryContext(ctx, `SELECT state, COUNT(*) FROM outbox GROUP BY state`)
	if err != nil {
		return store.OutboxStatus{}, fmt.Errorf("outbox status: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return store.OutboxStatus{}, fmt.Errorf("outbox status: %w", err)
		}
		st.Counts[store.MessageState(state)] = n
	}
	if err := rows.Err(); err != nil {
		return store.OutboxStatus{}, fmt.Errorf("outbox status: %w", err)
	}
	var oldest sql.NullInt64
	if err := db.q.QueryRowContext(ctx, `SELECT MIN(created_at) FROM outbox WHERE state = 'pending'`).Scan(&oldest); err != nil {
		return store.OutboxStatus{}, fmt.Errorf("outbox status: %w", err)
	}
	st.OldestPending = fromMicros(oldest.Int64)
	return st, nil
}
