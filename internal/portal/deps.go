package portal

import (
	"context"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Store is the storage the portal uses: the citizen's account and keys, what it hands the key
// kinds (keys.Store: codes checked one statement at a time, and transactions), the audit events
// of refusals, and transactions for every change, which see the store through keyStore,
// profileStore or enrolStore (store.InTx).
type Store interface {
	keys.Store
	GetAccount(ctx context.Context, id int64) (store.Account, error)
	ListKeys(ctx context.Context, accountID int64) ([]store.Key, error)
	GetKey(ctx context.Context, id int64) (store.Key, error)
	RecentAccountAudit(ctx context.Context, accountID int64, typePrefix string, limit int) ([]store.AuditEvent, error)
	audit.Appender
}

// keyStore is what a key change takes inside its transaction: the account lock, the citizen's
// keys, the activation's single-use token, and the e-mails and audit events that go with it.
type keyStore interface {
	LockAccount(ctx context.Context, id int64) error
	ListKeys(ctx context.Context, accountID int64) ([]store.Key, error)
	GetKey(ctx context.Context, id int64) (store.Key, error)
	CreateKey(ctx context.Context, k *store.Key) error
	TransitionKey(ctx context.Context, id int64, from, to store.KeyStatus, cause string, at time.Time) (bool, error)
	LatestCode(ctx context.Context, accountID int64, purpose store.CodePurpose) (store.Code, error)
	UseCode(ctx context.Context, id int64, at time.Time) (bool, error)
	mail.Outbox
	audit.Appender
}

// activationStore is what an activation takes inside its transaction: the registration code's
// check (keys.CodeStore) and the key's creation.
type activationStore interface {
	keyStore
	keys.CodeStore
}

// profileStore is what a change of the citizen's profile takes inside its transaction.
type profileStore interface {
	LockAccount(ctx context.Context, id int64) error
	GetAccount(ctx context.Context, id int64) (store.Account, error)
	UpdateProfile(ctx context.Context, id int64, name, email, language string, now time.Time) error
	mail.Outbox
	audit.Appender
}

// enrolStore is what beginning an activation or sending an e-mail change code takes inside its
// transaction: the account lock, what the kind needs (a registration code and its e-mail join
// the transaction) and the activation's token.
type enrolStore interface {
	keys.Store
	LockAccount(ctx context.Context, id int64) error
	CreateCode(ctx context.Context, c *store.Code) error
}

var (
	_ Store        = store.Store(nil)
	_ keyStore     = store.Store(nil)
	_ profileStore = store.Store(nil)
	_ enrolStore   = store.Store(nil)
)

// Codes issues and checks e-mailed one-time codes (internal/keys/emailcode): the
// verification code of a new e-mail address.
type Codes interface {
	Issue(ctx context.Context, st keys.Store, acct store.Account, purpose store.CodePurpose, to string, template string) (store.Code, error)
	Check(ctx context.Context, st keys.CodeStore, acct store.Account, purpose store.CodePurpose, codeID int64, answer string) error
}

// Mailer renders a template in the recipient's language into the outbox it is given (the
// transaction of the change). *mail.Composer implements it.
type Mailer interface {
	Enqueue(ctx context.Context, ob mail.Outbox, to mail.Recipient, template string, data map[string]any) error
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
	Record(ctx context.Context, st audit.Appender, e store.AuditEvent) error
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
