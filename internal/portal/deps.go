package portal

import (
	"context"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Store is the storage the portal reads outside its transactions. Tx runs fn in one database
// transaction; fn gets the backend's store bound to that transaction, which the portal hands on
// to the key kinds, the mailer and the audit recorder (each takes what it needs) and otherwise
// uses only for the methods listed here.
type Store interface {
	keys.CodeStore
	GetAccount(ctx context.Context, id int64) (store.Account, error)
	ListKeys(ctx context.Context, accountID int64) ([]store.Key, error)
	GetKey(ctx context.Context, id int64) (store.Key, error)
	Tx(ctx context.Context, fn func(store.Store) error) error
}

// Codes issues and checks e-mailed one-time codes (internal/keys/emailcode): the
// verification code of a new e-mail address.
type Codes interface {
	Issue(ctx context.Context, st store.Store, acct store.Account, purpose store.CodePurpose, to string, template string) (store.Code, error)
	Check(ctx context.Context, st keys.CodeStore, acct store.Account, purpose store.CodePurpose, codeID int64, answer string) error
}

// Mailer renders a template in the recipient's language into the outbox it is given (the
// transaction of the change). *mail.Composer implements it.
type Mailer interface {
	Enqueue(ctx context.Context, ob store.Outbox, to mail.Recipient, template string, data map[string]any) error
}

// Limiter counts attempts and throttles (internal/attempts): every registration code and
// e-mail change code is reserved before it is compared.
type Limiter interface {
	Reserve(ctx context.Context, scope attempts.Scope) (store.Attempt, error)
	Release(ctx context.Context, scope attempts.Scope) error
	Succeed(ctx context.Context, scope attempts.Scope) error
}

// Auditor records audit events (internal/audit).
type Auditor interface {
	Record(ctx context.Context, st store.Audit, e store.AuditEvent) error
}

// KindPolicy says, per key kind, whether new keys may be activated and whether existing ones
// still log on: the phase-out policy (SPEC §5) plugs in here.
type KindPolicy interface {
	// ActivationOpen reports whether citizens may activate a new key of kind at now.
	ActivationOpen(kind string, now time.Time) bool
	// Disabled reports whether keys of kind no longer log on at now (they are expired).
	Disabled(kind string, now time.Time) bool
	// PhaseOut returns the phase-out dates of kind, when it is being phased out.
	PhaseOut(kind string) (PhaseOut, bool)
}

// PhaseOut is the phase-out of a key kind: activation closed, the migration prompt shown, then
// the kind switched off.
type PhaseOut struct {
	ActivationClosedFrom time.Time
	MigrationPromptFrom  time.Time
	DisabledFrom         time.Time
}

// AllOpen is the KindPolicy with nothing phased out: every kind may be activated and logs on.
type AllOpen struct{}

// ActivationOpen returns true.
func (AllOpen) ActivationOpen(string, time.Time) bool { return true }

// Disabled returns false.
func (AllOpen) Disabled(string, time.Time) bool { return false }

// PhaseOut reports no phase-out.
func (AllOpen) PhaseOut(string) (PhaseOut, bool) { return PhaseOut{}, false }

var _ KindPolicy = AllOpen{}
