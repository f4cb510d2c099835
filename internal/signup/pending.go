package signup

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Pending is a registration in progress as the browser's session keeps it: which e-mail (the
// store's Signup) the code to enter belongs to, and what the pages show. It holds no secret —
// the password is only in the store, hashed, and the code only in the e-mail. The Service
// moves it; the web layer stores it (JSON).
type Pending struct {
	id        int64
	address   string
	username  string
	sentAt    time.Time
	expiresAt time.Time
	endsAt    time.Time
	verified  bool
}

// Address returns the e-mail address typed (the pages show it masked).
func (p *Pending) Address() string { return p.address }

// Username returns the username the account will have.
func (p *Pending) Username() string { return p.username }

// SentAt returns when the last code was sent.
func (p *Pending) SentAt() time.Time { return p.sentAt }

// CodeExpiresAt returns when the last code stops being valid.
func (p *Pending) CodeExpiresAt() time.Time { return p.expiresAt }

// EndsAt returns when the registration ends: after it, no code creates the account.
func (p *Pending) EndsAt() time.Time { return p.endsAt }

// Verified reports whether the right code was entered (the address is the citizen's).
func (p *Pending) Verified() bool { return p.verified }

// Ended reports whether the registration is over at now.
func (p *Pending) Ended(now time.Time) bool { return !now.Before(p.endsAt) }

type pendingSnapshot struct {
	ID        int64     `json:"id"`
	Address   string    `json:"address"`
	Username  string    `json:"username"`
	SentAt    time.Time `json:"sent_at"`
	ExpiresAt time.Time `json:"expires_at"`
	EndsAt    time.Time `json:"ends_at"`
	Verified  bool      `json:"verified,omitempty"`
}

// MarshalJSON stores the registration in progress.
func (p *Pending) MarshalJSON() ([]byte, error) {
	return json.Marshal(pendingSnapshot{ID: p.id, Address: p.address, Username: p.username, SentAt: p.sentAt,
		ExpiresAt: p.expiresAt, EndsAt: p.endsAt, Verified: p.verified})
}

// UnmarshalJSON restores a registration in progress, refusing an incomplete one.
func (p *Pending) UnmarshalJSON(b []byte) error {
	var s pendingSnapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("registration in progress: %w", err)
	}
	if s.ID <= 0 || s.Address == "" || s.Username == "" || s.EndsAt.IsZero() {
		return errors.New("registration in progress: e-mail, address, username or end missing")
	}
	*p = Pending{id: s.ID, address: s.Address, username: s.Username, sentAt: s.SentAt, expiresAt: s.ExpiresAt,
		endsAt: s.EndsAt, verified: s.Verified}
	return nil
}
