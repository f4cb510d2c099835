package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

const signupColumns = `id, email, email_key, username, name, language, password_hash, decoy, code_hash,
	started_at, ends_at, created_at, expires_at, attempts, verified_at, done_at`

func scanSignup(row interface{ Scan(...any) error }) (store.Signup, error) {
	var s store.Signup
	var started, ends, created, expires, verified, done int64
	err := row.Scan(&s.ID, &s.Email, &s.EmailKey, &s.Username, &s.Name, &s.Language, &s.PasswordHash, &s.Decoy, &s.CodeHash,
		&started, &ends, &created, &expires, &s.Attempts, &verified, &done)
	s.CodeHash = nilIfEmpty(s.CodeHash)
	s.StartedAt, s.EndsAt, s.CreatedAt, s.ExpiresAt = fromMicros(started), fromMicros(ends), fromMicros(created), fromMicros(expires)
	s.VerifiedAt, s.DoneAt = fromMicros(verified), fromMicros(done)
	return s, err
}

// CreateSignup inserts s and fills its ID and EmailKey (and CreatedAt when zero).
func (db *DB) CreateSignup(ctx context.Context, s *store.Signup) error {
	created := db.orNow(s.CreatedAt)
	key := store.EmailKey(s.Email)
	err := db.q.QueryRowContext(ctx, `INSERT INTO signups
		(email, email_key, username, name, language, password_hash, decoy, code_hash,
		 started_at, ends_at, created_at, expires_at, attempts, verified_at, done_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`,
		s.Email, key, s.Username, s.Name, s.Language, s.PasswordHash, s.Decoy, nonNil(s.CodeHash),
		toMicros(s.StartedAt), toMicros(s.EndsAt), toMicros(created), toMicros(s.ExpiresAt), s.Attempts,
		toMicros(s.VerifiedAt), toMicros(s.DoneAt)).Scan(&s.ID)
	if err != nil {
		return fmt.Errorf("create signup: %w", err)
	}
	s.EmailKey, s.CreatedAt = key, created
	return nil
}

// GetSignup returns the signup with id, or store.ErrNotFound.
func (db *DB) GetSignup(ctx context.Context, id int64) (store.Signup, error) {
	s, err := scanSignup(db.q.QueryRowContext(ctx, `SELECT `+signupColumns+` FROM signups WHERE id = $1`, id))
	if err != nil {
		return store.Signup{}, fmt.Errorf("get signup %d: %w", id, notFoundOr(err))
	}
	return s, nil
}

// SignupTimesSince returns the creation times of the address's signups created at or after
// since, oldest first.
func (db *DB) SignupTimesSince(ctx context.Context, email string, since time.Time) ([]time.Time, error) {
	rows, err := db.q.QueryContext(ctx, `SELECT created_at FROM signups WHERE email_key = $1 AND created_at >= $2
		ORDER BY created_at, id`, store.EmailKey(email), toMicros(since))
	if err != nil {
		return nil, fmt.Errorf("list signups of an address: %w", err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var us int64
		if err := rows.Scan(&us); err != nil {
			return nil, fmt.Errorf("list signups of an address: %w", err)
		}
		out = append(out, fromMicros(us))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list signups of an address: %w", err)
	}
	return out, nil
}

// LockSignupAddress locks the address's key until the transaction ends (PostgreSQL: an
// advisory transaction lock; SQLite's IMMEDIATE write transactions are exclusive already).
// Outside a transaction it returns store.ErrNoTransaction.
func (db *DB) LockSignupAddress(ctx context.Context, email string) error {
	if db.tx == nil {
		return fmt.Errorf("lock signup address: %w", store.ErrNoTransaction)
	}
	if err := db.d.lockAddress(ctx, db.q, store.EmailKey(email)); err != nil {
		return fmt.Errorf("lock signup address: %w", err)
	}
	return nil
}

// AddSignupAttempt increments the signup's attempts and returns the new value.
func (db *DB) AddSignupAttempt(ctx context.Context, id int64) (int, error) {
	var n int
	err := db.q.QueryRowContext(ctx, `UPDATE signups SET attempts = attempts + 1 WHERE id = $1 RETURNING attempts`, id).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("add attempt to signup %d: %w", id, notFoundOr(err))
	}
	return n, nil
}

// VerifySignup marks the code of an unverified, unfinished signup entered, in one conditional
// UPDATE, and reports whether this call did.
func (db *DB) VerifySignup(ctx context.Context, id int64, at time.Time) (bool, error) {
	if at.IsZero() {
		return false, errors.New("verify signup: zero time")
	}
	return db.changeSignup(ctx, "verify", id, `UPDATE signups SET verified_at = $1, attempts = 0
		WHERE id = $2 AND verified_at = 0 AND done_at = 0`, toMicros(at), id)
}

// SetSignupUsername replaces the username of a verified, unfinished signup.
func (db *DB) SetSignupUsername(ctx context.Context, id int64, username string) error {
	ok, err := db.changeSignup(ctx, "set the username of", id, `UPDATE signups SET username = $1
		WHERE id = $2 AND verified_at <> 0 AND done_at = 0`, username, id)
	if err == nil && !ok {
		err = fmt.Errorf("set the username of signup %d: not verified, or finished", id)
	}
	return err
}

// FinishSignup marks an unfinished signup done and drops its password hash, in one
// conditional UPDATE, and reports whether this call did.
func (db *DB) FinishSignup(ctx context.Context, id int64, at time.Time) (bool, error) {
	if at.IsZero() {
		return false, errors.New("finish signup: zero time")
	}
	return db.changeSignup(ctx, "finish", id, `UPDATE signups SET done_at = $1, password_hash = ''
		WHERE id = $2 AND done_at = 0`, toMicros(at), id)
}

// changeSignup runs a conditional UPDATE of signup id and reports whether it changed the row;
// a signup that does not exist is store.ErrNotFound.
func (db *DB) changeSignup(ctx context.Context, what string, id int64, query string, args ...any) (bool, error) {
	res, err := db.q.ExecContext(ctx, query, args...)
	if err != nil {
		return false, fmt.Errorf("%s signup %d: %w", what, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("%s signup %d: %w", what, id, err)
	}
	if n == 1 {
		return true, nil
	}
	var exists int
	if err := db.q.QueryRowContext(ctx, `SELECT 1 FROM signups WHERE id = $1`, id).Scan(&exists); err != nil {
		return false, fmt.Errorf("%s signup %d: %w", what, id, notFoundOr(err))
	}
	return false, nil
}

// SweepSignups drops the password hashes of ended registrations and deletes the signups
// created before cutoff.
func (db *DB) SweepSignups(ctx context.Context, now, cutoff time.Time) (int64, error) {
	if _, err := db.q.ExecContext(ctx, `UPDATE signups SET password_hash = '' WHERE ends_at <= $1 AND password_hash <> ''`,
		toMicros(now)); err != nil {
		return 0, fmt.Errorf("sweep signups: %w", err)
	}
	res, err := db.q.ExecContext(ctx, `DELETE FROM signups WHERE created_at < $1`, toMicros(cutoff))
	if err != nil {
		return 0, fmt.Errorf("sweep signups: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sweep signups: %w", err)
	}
	return n, nil
}

// GetAccountByEmail returns the oldest account whose address has the EmailKey of email, or
// store.ErrNotFound. The comparison is the accounts_email_key index's expression.
func (db *DB) GetAccountByEmail(ctx context.Context, email string) (store.Account, error) {
	a, err := scanAccount(db.q.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE `+db.d.emailKey+` = $1
		ORDER BY id LIMIT 1`, store.EmailKey(email)))
	if err != nil {
		return store.Account{}, fmt.Errorf("get account by e-mail address: %w", notFoundOr(err))
	}
	return a, nil
}
