package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

const sessionColumns = `id_hash, account_id, created_at, last_seen_at, auth_time, loa, amr, data`

func scanSession(row interface{ Scan(...any) error }) (store.Session, error) {
	var s store.Session
	var created, lastSeen, authTime int64
	var amr string
	if err := row.Scan(&s.IDHash, &s.AccountID, &created, &lastSeen, &authTime, &s.LoA, &amr, &s.Data); err != nil {
		return store.Session{}, err
	}
	s.CreatedAt, s.LastSeenAt, s.AuthTime = fromMicros(created), fromMicros(lastSeen), fromMicros(authTime)
	s.Data = nilIfEmpty(s.Data)
	if err := json.Unmarshal([]byte(amr), &s.AMR); err != nil {
		return store.Session{}, fmt.Errorf("decode amr: %w", err)
	}
	if len(s.AMR) == 0 {
		s.AMR = nil
	}
	return s, nil
}

func encodeAMR(amr []string) (string, error) {
	if amr == nil {
		amr = []string{}
	}
	b, err := json.Marshal(amr)
	return string(b), err
}

// CreateSession inserts s (CreatedAt and LastSeenAt default to now when zero); store.ErrConflict
// when a session with the same IDHash exists.
func (db *DB) CreateSession(ctx context.Context, s *store.Session) error {
	amr, err := encodeAMR(s.AMR)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	created := db.orNow(s.CreatedAt)
	lastSeen := created
	if !s.LastSeenAt.IsZero() {
		lastSeen = db.orNow(s.LastSeenAt)
	}
	_, err = db.q.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		s.IDHash, s.AccountID, toMicros(created), toMicros(lastSeen), toMicros(s.AuthTime), s.LoA, amr, nonNil(s.Data))
	if err != nil {
		return fmt.Errorf("create session: %w", db.conflictOr(err))
	}
	s.CreatedAt, s.LastSeenAt = created, lastSeen
	return nil
}

// GetSession returns the session with idHash, or store.ErrNotFound.
func (db *DB) GetSession(ctx context.Context, idHash []byte) (store.Session, error) {
	s, err := scanSession(db.q.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id_hash = $1`, idHash))
	if err != nil {
		return store.Session{}, fmt.Errorf("get session: %w", notFoundOr(err))
	}
	return s, nil
}

// UpdateSession overwrites every field of the session with s.IDHash; store.ErrNotFound when it
// does not exist.
func (db *DB) UpdateSession(ctx context.Context, s *store.Session) error {
	amr, err := encodeAMR(s.AMR)
	if err != nil {
		return fmt.Errorf("update session: %w", err)
	}
	res, err := db.q.ExecContext(ctx, `UPDATE sessions SET account_id = $1, created_at = $2, last_seen_at = $3,
		auth_time = $4, loa = $5, amr = $6, data = $7 WHERE id_hash = $8`,
		s.AccountID, toMicros(s.CreatedAt), toMicros(s.LastSeenAt), toMicros(s.AuthTime), s.LoA, amr, nonNil(s.Data), s.IDHash)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("update session: %w", err)
	}
	return nil
}

// TouchSession sets LastSeenAt; store.ErrNotFound when the session does not exist.
func (db *DB) TouchSession(ctx context.Context, idHash []byte, at time.Time) error {
	res, err := db.q.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2`, toMicros(at), idHash)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession removes the session; store.ErrNotFound when it does not exist (already
// rotated, ended or swept). A concurrent deletion waits for the row lock (PostgreSQL) or the
// write lock (SQLite) and then finds nothing, so exactly one of them succeeds.
func (db *DB) DeleteSession(ctx context.Context, idHash []byte) error {
	res, err := db.q.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = $1`, idHash)
	if err == nil {
		err = affectedOne(res)
	}
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteSessionsBefore removes sessions last seen before idleCutoff or created before absCutoff
// and returns how many it removed.
func (db *DB) DeleteSessionsBefore(ctx context.Context, idleCutoff, absCutoff time.Time) (int64, error) {
	res, err := db.q.ExecContext(ctx, `DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2`,
		toMicros(idleCutoff), toMicros(absCutoff))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return n, nil
}

// DeleteAccountSessions removes every session logged on as the account and returns how many it
// removed. Account 0 (the pre-logon sessions) is refused: they belong to nobody.
func (db *DB) DeleteAccountSessions(ctx context.Context, accountID int64) (int64, error) {
	if accountID <= 0 {
		return 0, fmt.Errorf("delete sessions of account %d: not an account", accountID)
	}
	res, err := db.q.ExecContext(ctx, `DELETE FROM sessions WHERE account_id = $1`, accountID)
	if err != nil {
		return 0, fmt.Errorf("delete sessions of account %d: %w", accountID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete sessions of account %d: %w", accountID, err)
	}
	return n, nil
}
