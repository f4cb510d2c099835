package store

import (
	"context"
	"strings"
	"time"
)

// Signup is one e-mail of a self-registration (internal/signup): the registration the citizen
// filled in, waiting for the code sent to its address, and that code. It is not an account:
// the account only exists once the code was entered. "Send a new code" writes a new Signup
// with the same registration and a new code, and finishes the one it replaces, so every
// e-mail sent has its row, and the rows of one address say how many e-mails it got lately
// (the per-address limits).
//
// A decoy is the registration of an address an account already has: the e-mail sent there
// says that someone tried to register with it, and carries no code; CodeHash is random, and no
// answer is ever right. Everything else about it is a signup like any other, so the citizen's
// side of the registration looks the same either way.
type Signup struct {
	ID int64
	// Email is the address as typed; EmailKey (filled by the store) is its key for the
	// per-address limits: EmailKey(Email).
	Email, EmailKey string
	Username, Name  string
	Language        string
	// PasswordHash is the argon2id hash of the chosen password (never the password); emptied
	// when the signup is finished or the registration ended.
	PasswordHash string
	Decoy        bool
	// CodeHash is the keyed hash of the code e-mailed (random for a decoy).
	CodeHash []byte
	// StartedAt is when the registration began (its first e-mail), EndsAt when it ends: a
	// code entered after it does not create the account.
	StartedAt, EndsAt time.Time
	// CreatedAt is when this code was sent, ExpiresAt when it stops being valid.
	CreatedAt, ExpiresAt time.Time
	// Attempts counts wrong answers to the code (once it is verified: usernames tried).
	Attempts int
	// VerifiedAt is when the right code was entered (zero: not yet).
	VerifiedAt time.Time
	// DoneAt is when the signup was finished: its account was created, or a newer code
	// replaced it, or the citizen stopped. A finished signup changes no more.
	DoneAt time.Time
}

// EmailKey is the key an e-mail address is compared by: ASCII letters in lower case, all else
// as it is. Domains are case-insensitive, and people type the local part in any case; other
// letters are left alone so that SQLite and PostgreSQL (whose lower() differ beyond ASCII)
// compare alike.
func EmailKey(addr string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, addr)
}

// Signups stores self-registrations awaiting their code.
type Signups interface {
	// CreateSignup inserts s, filling ID and EmailKey.
	CreateSignup(ctx context.Context, s *Signup) error
	// GetSignup returns the signup with id, or ErrNotFound.
	GetSignup(ctx context.Context, id int64) (Signup, error)
	// SignupTimesSince returns the creation times of the signups of the address (by EmailKey)
	// created at or after since, oldest first: how many e-mails it got, and when the oldest of
	// them leaves a window.
	SignupTimesSince(ctx context.Context, email string, since time.Time) ([]time.Time, error)
	// LockSignupAddress, inside Tx, makes concurrent transactions that lock the same address
	// (by EmailKey) wait until this one ends, so a count-then-insert of its e-mails holds
	// across nodes. ErrNoTransaction outside Tx.
	LockSignupAddress(ctx context.Context, email string) error
	// AddSignupAttempt increments the signup's Attempts and returns the new value, or
	// ErrNotFound.
	AddSignupAttempt(ctx context.Context, id int64) (int, error)
	// VerifySignup records that the right code was entered (VerifiedAt = at, Attempts back to
	// 0) and reports whether this call did: false when it was verified or finished before.
	// ErrNotFound when there is no such signup.
	VerifySignup(ctx context.Context, id int64, at time.Time) (bool, error)
	// SetSignupUsername replaces the username of a verified, unfinished signup (the citizen
	// chose another); ErrNotFound when there is no such signup.
	SetSignupUsername(ctx context.Context, id int64, username string) error
	// FinishSignup marks the signup done at at and empties its password hash, and reports
	// whether this call did: of concurrent callers exactly one gets true. ErrNotFound when
	// there is no such signup.
	FinishSignup(ctx context.Context, id int64, at time.Time) (bool, error)
	// SweepSignups empties the password hash of every signup whose registration ended at or
	// before now, and deletes the signups created before cutoff (keep cutoff older than the
	// longest per-address window: the rows in it make its count). It returns how many it
	// deleted.
	SweepSignups(ctx context.Context, now, cutoff time.Time) (int64, error)
}
