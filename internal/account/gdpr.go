package account

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/password"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// The two data-protection requests an operator is asked about (GDPR articles 15 and 17):
// everything held about a citizen, and erasure. Export writes the account, its keys, sessions,
// codes, e-mails (with the text of those still held, but never of one that carries a code) and
// registrations — never a secret: no password hash (only its format), no key data, no code
// hashes — and its audit events, as one JSON document. Delete removes the account with
// everything about it (the registration's e-mail and rows too, which predate the account and
// so carry no account ID) in one transaction and keeps the audit events under a pseudonym: a keyed hash of the account ID, negative so it is never a live account's ID, and
// the same for all of one citizen's events, so the trail of what happened stays whole and
// linkable, but no longer says whose it was. The deletion itself is audited in the same
// transaction, under the same pseudonym, with the operator's reason.

// ExportStore is what Export reads.
type ExportStore interface {
	GetAccountByUsername(ctx context.Context, username string) (store.Account, error)
	ListKeys(ctx context.Context, accountID int64) ([]store.Key, error)
	ListAccountSessions(ctx context.Context, accountID int64) ([]store.Session, error)
	ListAccountCodes(ctx context.Context, accountID int64) ([]store.Code, error)
	ListAccountMessages(ctx context.Context, accountID int64) ([]store.Message, error)
	ListAccountSignups(ctx context.Context, accountID int64) ([]store.Signup, error)
	ListAccountAudit(ctx context.Context, accountID, afterID int64, limit int) ([]store.AuditEvent, error)
}

var _ ExportStore = store.Store(nil)

// ExportFormat names the export's layout; it changes when a field changes meaning.
const ExportFormat = "sleutelbos-citizen-export/1"

type exportAccount struct {
	ID        int64     `json:"id"`
	Username  string    `json:"username"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Language  string    `json:"language"`
	Password  string    `json:"password_format"` // the hash's format only: none, argon2id, bcrypt, …
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type exportKey struct {
	ID                int64     `json:"id"`
	Kind              string    `json:"kind"`
	Status            string    `json:"status"`
	Serial            string    `json:"serial,omitempty"`
	CreatedAt         time.Time `json:"created_at"`
	ActivatedAt       time.Time `json:"activated_at,omitzero"`
	DeactivatedAt     time.Time `json:"deactivated_at,omitzero"`
	DeactivationCause string    `json:"deactivation_cause,omitempty"`
	LastUsedAt        time.Time `json:"last_used_at,omitzero"`
}

type exportSession struct {
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	AuthTime   time.Time `json:"logged_on_at,omitzero"`
	Level      string    `json:"level,omitempty"`
	Methods    []string  `json:"methods,omitempty"`
}

type exportCode struct {
	Purpose   string    `json:"purpose"`
	SentTo    string    `json:"sent_to,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Attempts  int       `json:"wrong_attempts"`
	UsedAt    time.Time `json:"used_at,omitzero"`
}

type exportMessage struct {
	ID        int64     `json:"id"`
	MessageID string    `json:"message_id"`
	Template  string    `json:"template"`
	Language  string    `json:"language"`
	To        string    `json:"to"`
	ToName    string    `json:"to_name,omitempty"`
	Subject   string    `json:"subject"`
	State     string    `json:"state"`
	Attempts  int       `json:"delivery_attempts"`
	LastError string    `json:"last_error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	SentAt    time.Time `json:"sent_at,omitzero"`
	// TextBody is the message's text while the outbox still holds it (bodies are dropped once
	// sent). One that carries a code is withheld: the code may still be good.
	TextBody     string `json:"text_body,omitempty"`
	BodyWithheld bool   `json:"text_body_withheld,omitempty"`
}

// exportSignup is a self-registration with the citizen's address or username.
type exportSignup struct {
	Email      string    `json:"email"`
	Username   string    `json:"username"`
	Name       string    `json:"name"`
	Language   string    `json:"language"`
	StartedAt  time.Time `json:"started_at"`
	SentAt     time.Time `json:"code_sent_at"`
	ExpiresAt  time.Time `json:"code_expires_at"`
	Attempts   int       `json:"wrong_attempts"`
	VerifiedAt time.Time `json:"verified_at,omitzero"`
	DoneAt     time.Time `json:"done_at,omitzero"`
}

type exportEvent struct {
	ID      int64             `json:"id"`
	Time    time.Time         `json:"time"`
	Type    string            `json:"type"`
	KeyKind string            `json:"key_kind,omitempty"`
	KeyID   int64             `json:"key_id,omitempty"`
	Reason  string            `json:"reason,omitempty"`
	IP      string            `json:"ip,omitempty"`
	Actor   string            `json:"actor,omitempty"`
	Detail  map[string]string `json:"detail,omitempty"`
}

// exportPage is how many audit events Export reads at once: a citizen's audit trail is
// written as it is read, however long.
const exportPage = 1000

// Export writes everything held about the citizen called username to w as one JSON object
// (ExportFormat), audit events last, streamed. store.ErrNotFound (wrapped) when there is no such
// citizen.
func Export(ctx context.Context, st ExportStore, w io.Writer, username string, now time.Time) error {
	a, err := st.GetAccountByUsername(ctx, username)
	if err != nil {
		return fmt.Errorf("export %q: %w", username, err)
	}
	ks, err := st.ListKeys(ctx, a.ID)
	if err != nil {
		return fmt.Errorf("export %q: %w", username, err)
	}
	sessions, err := st.ListAccountSessions(ctx, a.ID)
	if err != nil {
		return fmt.Errorf("export %q: %w", username, err)
	}
	codes, err := st.ListAccountCodes(ctx, a.ID)
	if err != nil {
		return fmt.Errorf("export %q: %w", username, err)
	}
	msgs, err := st.ListAccountMessages(ctx, a.ID)
	if err != nil {
		return fmt.Errorf("export %q: %w", username, err)
	}
	signups, err := st.ListAccountSignups(ctx, a.ID)
	if err != nil {
		return fmt.Errorf("export %q: %w", username, err)
	}
	info, err := password.Inspect(a.PasswordHash)
	if err != nil {
		info.Format = "unreadable"
	}
	head := struct {
		Format   string          `json:"format"`
		Exported time.Time       `json:"exported_at"`
		Account  exportAccount   `json:"account"`
		Keys     []exportKey     `json:"keys"`
		Sessions []exportSession `json:"sessions"`
		Codes    []exportCode    `json:"codes"`
		Messages []exportMessage `json:"emails"`
		Signups  []exportSignup  `json:"registrations"`
	}{
		Format: ExportFormat, Exported: now.UTC(),
		Account: exportAccount{ID: a.ID, Username: a.Username, Name: a.Name, Email: a.Email, Language: a.Language,
			Password: info.Format, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt},
		Keys: []exportKey{}, Sessions: []exportSession{}, Codes: []exportCode{}, Messages: []exportMessage{},
		Signups: []exportSignup{},
	}
	for _, k := range ks {
		head.Keys = append(head.Keys, exportKey{ID: k.ID, Kind: k.Kind, Status: string(k.Status), Serial: k.Serial, CreatedAt: k.CreatedAt,
			ActivatedAt: k.ActivatedAt, DeactivatedAt: k.DeactivatedAt, DeactivationCause: k.DeactivationCause, LastUsedAt: k.LastUsedAt})
	}
	for _, s := range sessions {
		head.Sessions = append(head.Sessions, exportSession{CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt, AuthTime: s.AuthTime, Level: s.LoA, Methods: s.AMR})
	}
	for _, c := range codes {
		head.Codes = append(head.Codes, exportCode{Purpose: string(c.Purpose), SentTo: c.Target, CreatedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt,
			Attempts: c.Attempts, UsedAt: c.UsedAt})
	}
	for _, m := range msgs {
		em := exportMessage{ID: m.ID, MessageID: m.MessageID, Template: m.Template, Language: m.Language,
			To: m.ToAddress, ToName: m.ToName, Subject: m.Subject, State: string(m.State), Attempts: m.Attempts, LastError: m.LastError,
			CreatedAt: m.CreatedAt, SentAt: m.SentAt}
		if m.SecretUntil.IsZero() {
			em.TextBody = m.TextBody
		} else {
			em.BodyWithheld = m.TextBody != "" || m.HTMLBody != ""
		}
		head.Messages = append(head.Messages, em)
	}
	for _, su := range signups {
		head.Signups = append(head.Signups, exportSignup{Email: su.Email, Username: su.Username, Name: su.Name, Language: su.Language,
			StartedAt: su.StartedAt, SentAt: su.CreatedAt, ExpiresAt: su.ExpiresAt, Attempts: su.Attempts, VerifiedAt: su.VerifiedAt,
			DoneAt: su.DoneAt})
	}
	b, err := json.MarshalIndent(head, "", "  ")
	if err != nil {
		return fmt.Errorf("export %q: %w", username, err)
	}
	// The head without its closing brace, then the audit events as its last member.
	b = b[:len(b)-2]
	if _, err := fmt.Fprintf(w, "%s,\n  \"audit_events\": [", b); err != nil {
		return fmt.Errorf("export %q: %w", username, err)
	}
	var after int64
	first := true
	for {
		page, err := st.ListAccountAudit(ctx, a.ID, after, exportPage)
		if err != nil {
			return fmt.Errorf("export %q: %w", username, err)
		}
		for _, e := range page {
			b, err := json.Marshal(exportEvent{ID: e.ID, Time: e.Time, Type: e.Type, KeyKind: e.KeyKind, KeyID: e.KeyID,
				Reason: e.Reason, IP: e.IP, Actor: e.Actor, Detail: e.Detail})
			if err != nil {
				return fmt.Errorf("export %q: %w", username, err)
			}
			sep := ",\n    "
			if first {
				sep, first = "\n    ", false
			}
			if _, err := fmt.Fprintf(w, "%s%s", sep, b); err != nil {
				return fmt.Errorf("export %q: %w", username, err)
			}
			after = e.ID
		}
		if len(page) < exportPage {
			break
		}
	}
	end := "\n  ]\n}\n"
	if first {
		end = "]\n}\n"
	}
	if _, err := io.WriteString(w, end); err != nil {
		return fmt.Errorf("export %q: %w", username, err)
	}
	return nil
}

// deleteStore is what Delete takes, inside its transaction.
type deleteStore interface {
	GetAccountByUsername(ctx context.Context, username string) (store.Account, error)
	DeleteAccount(ctx context.Context, id, pseudonym int64) error
	audit.Appender
}

var _ deleteStore = store.Store(nil)

// ErrNoReason is returned by Delete without a reason: a deletion is always explained.
var ErrNoReason = errors.New("a deletion needs a reason (--reason \"…\"): it is kept in the audit log")

// pseudonymDomain separates account pseudonyms from every other use of the hasher.
const pseudonymDomain = "account-pseudonym"

// Pseudonym returns the number a deleted account's audit events carry instead of its ID: the
// first 62 bits of a keyed hash of the ID, negated and minus one, so it is negative, the same
// for every event of the account, and cannot be computed back from the ID without the hash key.
func Pseudonym(h *secrets.Hasher, accountID int64) int64 {
	sum := h.Sum(pseudonymDomain, strconv.FormatInt(accountID, 10))
	return -int64(binary.BigEndian.Uint64(sum[:8])>>2) - 1
}

// Deleted is what Delete removed.
type Deleted struct {
	Username  string
	AccountID int64
	Pseudonym int64
}

// Delete removes the citizen called username — account, keys, codes, sessions, e-mails,
// registrations — and pseudonymises its audit events (and the account ID in other events'
// details), recording an account.deleted event with reason and actor,
// all in one transaction. ErrNoReason without a reason; store.ErrNotFound (wrapped) when there
// is no such citizen.
func Delete(ctx context.Context, st store.Transactor, h *secrets.Hasher, a Auditor, username, reason, actor string) (Deleted, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Deleted{}, ErrNoReason
	}
	var d Deleted
	err := store.InTx(ctx, st, func(tx deleteStore) error {
		acct, err := tx.GetAccountByUsername(ctx, username)
		if err != nil {
			return err
		}
		d = Deleted{Username: acct.Username, AccountID: acct.ID, Pseudonym: Pseudonym(h, acct.ID)}
		if err := tx.DeleteAccount(ctx, acct.ID, d.Pseudonym); err != nil {
			return err
		}
		return a.Record(ctx, tx, store.AuditEvent{Type: audit.AccountDeleted, AccountID: d.Pseudonym, Actor: actor, Reason: reason})
	})
	if err != nil {
		return Deleted{}, fmt.Errorf("delete %q: %w", username, err)
	}
	return d, nil
}
