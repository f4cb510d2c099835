package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"
)

// ErrNotFound is returned when a looked-up row does not exist. Compare with errors.Is.
var ErrNotFound = errors.New("not found")

// ErrNoTransaction is returned by a method that only means something inside Tx (LockAccount)
// when it is called outside one.
var ErrNoTransaction = errors.New("not in a transaction")

// ErrConflict is returned when a unique constraint (a username, a token card serial) is violated.
var ErrConflict = errors.New("conflict")

// ErrSecretGone is returned when an outbox message that carried a code cannot be sent again:
// the code expired, or its bodies were dropped when it failed for good.
var ErrSecretGone = errors.New("the message's code expired or its text was removed")

// Store is every aggregate's storage composed into one, for a backend to implement and the
// conformance suite (storetest) to check. No consumer takes it whole: each declares the few
// methods it uses as an interface of its own (see docs/ARCHITECTURE.md, "Storage"). A Store
// obtained inside Tx runs each call in that transaction; calling Tx on it again runs fn in the
// same transaction.
type Store interface {
	Accounts
	Keys
	Codes
	Sessions
	Attempts
	Audit
	Outbox
	Transactor
	Committer
	AuthRequests
	Clients
	SigningKeys
	Citizens
	Signups
	PhaseoutPolicies
	JobLeases
	KeysOfKind
	Roles
	Campaigns
	Reminders
	// Ping reports whether the database answers (for /readyz).
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// Transactor opens database transactions. A consumer that must write several rows together
// declares it in its narrow store interface and enters the transaction with InTx, which hands
// the consumer the transaction as another narrow interface of its own.
type Transactor interface {
	// Tx runs fn in one database transaction, committing when fn returns nil and rolling back
	// otherwise. Serialization failures and SQLite busy errors roll back and run fn again a few
	// times, so fn must have no effect outside the database that cannot be repeated. Called on
	// a Store bound to a transaction, Tx runs fn in that same transaction.
	Tx(ctx context.Context, fn func(Store) error) error
}

// Committer defers work that must only happen once a change is durable and visible to others
// (waking the mail worker for a message just enqueued).
type Committer interface {
	// AfterCommit runs fn after the transaction the store is bound to commits — after the
	// outermost Tx, for a nested one — and never when it rolls back or for an attempt that Tx
	// runs again. Outside a transaction, where every write is committed already, it runs fn at
	// once. fn runs on the goroutine that called Tx and must not block.
	AfterCommit(fn func())
}

// InTx runs fn in one transaction of t (t's own when t is bound to one), handing fn the
// transaction as S: the caller's narrow view of the store, an interface whose methods Store
// has. Declare `var _ S = store.Store(nil)` beside S so the compiler checks that; InTx fails
// without calling fn should the transaction not implement S after all.
func InTx[S any](ctx context.Context, t Transactor, fn func(S) error) error {
	return t.Tx(ctx, func(st Store) error {
		view, ok := st.(S)
		if !ok {
			return fmt.Errorf("store: the transaction %T does not implement %v", st, reflect.TypeFor[S]())
		}
		return fn(view)
	})
}

// Account is a citizen's account. Username is unique regardless of case; UsernameKey holds the
// case-folded form that the uniqueness rule applies to. PasswordHash may also be a hash
// imported from another system (bcrypt, PBKDF2: internal/password), or empty: no password, the
// forgotten-password flow is the citizen's way in.
type Account struct {
	ID           int64
	Username     string
	Name         string
	Email        string
	Language     string // nl, fr, de or en
	PasswordHash string // PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash); see above
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Accounts stores citizens' accounts.
type Accounts interface {
	// CreateAccount inserts a, filling ID, CreatedAt and UpdatedAt; ErrConflict when the username
	// (case-insensitively) is taken.
	CreateAccount(ctx context.Context, a *Account) error
	GetAccount(ctx context.Context, id int64) (Account, error)
	// GetAccountByUsername matches case-insensitively.
	GetAccountByUsername(ctx context.Context, username string) (Account, error)
	// GetAccountByEmail returns the oldest account whose e-mail address has the EmailKey of
	// email (ASCII letters in any case), or ErrNotFound.
	GetAccountByEmail(ctx context.Context, email string) (Account, error)
	ListAccounts(ctx context.Context, afterID int64, limit int) ([]Account, error)
	UpdatePasswordHash(ctx context.Context, id int64, hash string, now time.Time) error
	// PasswordHashParams returns the distinct parameter sets of the stored password hashes (each
	// hash without its salt and digest, e.g. "$argon2id$v=19$m=19456,t=2,p=1"; accounts without
	// a password have none), sorted. It stays cheap however many accounts there are: the logon
	// asks for it on every failed password, to make that failure cost what the dearest set in
	// use costs (no timing oracle for which usernames exist).
	PasswordHashParams(ctx context.Context) ([]string, error)
	UpdateProfile(ctx context.Context, id int64, name, email, language string, now time.Time) error
	// LockAccount, inside Tx, makes concurrent transactions that also lock the account wait
	// until this one ends, so a check-then-write on the account's codes or keys (a resend limit,
	// "never the last key") holds across nodes. ErrNotFound when the account does not exist;
	// ErrNoTransaction outside Tx, where a lock would end with the statement and hold nothing.
	LockAccount(ctx context.Context, id int64) error
}

// KeyStatus is the state of one digital key.
type KeyStatus string

// Key states. Only active keys log on.
const (
	KeyActive      KeyStatus = "active"
	KeyDeactivated KeyStatus = "deactivated"
	KeyExpired     KeyStatus = "expired"
	KeyLocked      KeyStatus = "locked"
)

// Key is one digital key of a citizen. Data is owned by the key kind (hashed card codes, an
// encrypted TOTP secret); the store never interprets it. Counter is a monotonic per-key number
// the kind may use (the last accepted TOTP step, the last asked card position).
type Key struct {
	ID                int64
	AccountID         int64
	Kind              string
	Status            KeyStatus
	Serial            string // token card serial; empty for other kinds
	Data              []byte
	Counter           int64
	CreatedAt         time.Time
	ActivatedAt       time.Time
	DeactivatedAt     time.Time // zero while active
	DeactivationCause string    // keys.Cause…: citizen, migration, helpdesk, lockout, unused, phase-out
	LastUsedAt        time.Time // zero when never used
	// UnusedWarnedFor is the deactivation deadline its citizen was last warned of as unused
	// (phase-out); zero when never warned. Set by MarkUnusedWarning only.
	UnusedWarnedFor time.Time
}

// Keys stores digital keys.
type Keys interface {
	// CreateKey inserts k, filling ID; ErrConflict when a tokencard serial already exists.
	CreateKey(ctx context.Context, k *Key) error
	GetKey(ctx context.Context, id int64) (Key, error)
	// ListKeys returns the account's keys, oldest first.
	ListKeys(ctx context.Context, accountID int64) ([]Key, error)
	// SetKeyStatus changes the status; cause and at are recorded when the key stops being active.
	SetKeyStatus(ctx context.Context, id int64, status KeyStatus, cause string, at time.Time) error
	// TransitionKey changes the status from from to to, recording cause and at like
	// SetKeyStatus, and reports whether the key was in from: concurrent transitions (a lockout
	// racing a deactivation) never overwrite each other.
	TransitionKey(ctx context.Context, id int64, from, to KeyStatus, cause string, at time.Time) (bool, error)
	// SetKeyCounter stores counter unconditionally (the last asked card position).
	SetKeyCounter(ctx context.Context, id int64, counter int64) error
	// AdvanceKeyCounter sets the counter to to only when it is currently below to, and reports
	// whether it did. Atomic across nodes: a TOTP step is accepted at most once.
	AdvanceKeyCounter(ctx context.Context, id int64, to int64) (bool, error)
	// TouchKey records a successful use.
	TouchKey(ctx context.Context, id int64, at time.Time) error
}

// CodePurpose says what a one-time code is for.
type CodePurpose string

// Code purposes.
const (
	CodeLogon        CodePurpose = "logon"        // emailcode key: second factor at logon
	CodeRegistration CodePurpose = "registration" // activation of an emailcode key
	CodeEmailChange  CodePurpose = "email_change" // verification of a new e-mail address
	// CodeEnrolment is the single-use token of a key activation in progress: nothing is sent,
	// its Target names the key kind, and it is used in the transaction that creates the key,
	// so two submissions of one activation never create two keys.
	CodeEnrolment CodePurpose = "enrolment"
	// CodeReset is the secret of a password reset link (internal/recovery): e-mailed, single
	// use, the newest superseding older ones.
	CodeReset CodePurpose = "password_reset"
	// CodeRecovery is a one-time recovery code a helpdesk agent issued (internal/helpdesk):
	// read out or posted to the citizen, single use, the newest superseding older ones; with
	// it the citizen sets a new password without a key.
	CodeRecovery CodePurpose = "recovery"
)

// Code is a one-time code sent to a citizen, stored as a keyed hash.
type Code struct {
	ID        int64
	AccountID int64
	Purpose   CodePurpose
	Hash      []byte
	Target    string // the address it was sent to (the new address for an e-mail change)
	CreatedAt time.Time
	ExpiresAt time.Time
	Attempts  int // wrong guesses so far
	UsedAt    time.Time
}

// Codes stores one-time codes.
type Codes interface {
	// CreateCode inserts c, filling ID.
	CreateCode(ctx context.Context, c *Code) error
	// LatestCode returns the newest code of that purpose for the account (used or not).
	LatestCode(ctx context.Context, accountID int64, purpose CodePurpose) (Code, error)
	// CodeTimesSince returns the creation times of the codes of that purpose created at or after
	// since, oldest first (resend limits: how many, and when the oldest leaves the window).
	CodeTimesSince(ctx context.Context, accountID int64, purpose CodePurpose, since time.Time) ([]time.Time, error)
	// AddCodeAttempt increments the wrong-guess counter and returns the new value.
	AddCodeAttempt(ctx context.Context, id int64) (int, error)
	// UseCode marks the code used; it reports false when it was already used (single use, atomic).
	UseCode(ctx context.Context, id int64, at time.Time) (bool, error)
	// DeleteCodesBefore removes the codes that stopped being valid before cutoff — expired
	// before it, or used before it — and returns how many it removed. Keep cutoff older than
	// the resend window: the codes CodeTimesSince reports must stay.
	DeleteCodesBefore(ctx context.Context, cutoff time.Time) (int64, error)
}

// Session is a server-side session. The cookie holds a random id; only its hash is stored.
// Data is owned by the web layer (the logon transaction, the wizard state).
type Session struct {
	IDHash     []byte
	AccountID  int64 // 0 before logon
	CreatedAt  time.Time
	LastSeenAt time.Time
	AuthTime   time.Time // zero before logon
	LoA        string    // level reached at logon; empty before
	AMR        []string  // RFC 8176 methods used
	Data       []byte
}

// Sessions stores server-side sessions.
type Sessions interface {
	CreateSession(ctx context.Context, s *Session) error
	GetSession(ctx context.Context, idHash []byte) (Session, error)
	// UpdateSession overwrites every field of the session with s.IDHash.
	UpdateSession(ctx context.Context, s *Session) error
	// TouchSession sets LastSeenAt.
	TouchSession(ctx context.Context, idHash []byte, at time.Time) error
	// DeleteSession removes the session; ErrNotFound when there is none (another request
	// already rotated, ended or swept it). Of concurrent deletions of one session exactly one
	// succeeds, so a rotation (create the new row, delete the old, in one Tx) that must fail
	// unless it removed the old row completes once.
	DeleteSession(ctx context.Context, idHash []byte) error
	// DeleteSessionsBefore removes sessions last seen before idleCutoff or created before
	// absCutoff, returning how many were removed.
	DeleteSessionsBefore(ctx context.Context, idleCutoff, absCutoff time.Time) (int64, error)
	// DeleteAccountSessions removes every session logged on as the account (a password reset
	// ends them all), returning how many were removed.
	DeleteAccountSessions(ctx context.Context, accountID int64) (int64, error)
}

// Attempt is the failure counter of one scope ("pwd:42", "key:7", "ip:logon:192.0.2.1").
type Attempt struct {
	Scope          string
	Failures       int // consecutive failures
	ThrottledUntil time.Time
	UpdatedAt      time.Time
	// Refused counts the requests refused while the scope was throttled that are not reported
	// yet (SPEC §8: refused requests are aggregated, not one audit row each). See
	// ReserveAttempt and TakeEndedRefusals for when it is reported and reset.
	Refused int
	// Pending counts the reservations among Failures still being checked (BeginAttempt):
	// Failures - Pending are the settled failures.
	Pending int
}

// PendingAttemptTTL is how long a reservation may stay in flight: once a scope has seen no
// reservation for that long, its attempts still pending count as the settled failures they were
// reserved as (the requests that made them ended without settling them: a crash). No check of
// a password or code takes nearly that long.
const PendingAttemptTTL = time.Minute

// Attempts stores failed-attempt counters. Counters live in the database so that all nodes agree.
type Attempts interface {
	// GetAttempt returns the counter; a scope never seen returns a zero Attempt with Scope set
	// and a nil error.
	GetAttempt(ctx context.Context, scope string) (Attempt, error)
	// ReserveAttempt counts one attempt in scope before it is made — unless scope is throttled
	// at now, in which case only Refused grows by one and ok is false; the returned Refused is
	// then the refusals of this throttle period so far, this one included (1: the first). When
	// the reservation is granted, the returned Refused is the refusals still unreported from
	// the throttle period before it, which the store resets to zero: the caller reports each
	// throttle period's refusals once. throttle computes the new throttled-until instant from
	// the new count. When window is positive, a count whose last
	// change is at least window old (and not throttled) starts again from zero. Reservations of
	// one scope are serialized on all nodes (the row is locked for the whole step), so a burst
	// of parallel attempts gets exactly as many tries as the policy allows: counting after the
	// check would let every request of the burst through.
	ReserveAttempt(ctx context.Context, scope string, now time.Time, window time.Duration, throttle func(failures int) time.Time) (a Attempt, ok bool, err error)
	// ReleaseAttempt takes one reserved attempt back (never below zero): an attempt that did not
	// fail should not count against a per-address limit. When fewer than threshold remain the
	// throttle is lifted; a counter back at zero with no unreported refusals is removed.
	ReleaseAttempt(ctx context.Context, scope string, threshold int) error
	// BeginAttempt is ReserveAttempt for an attempt that stays in flight until it is settled:
	// a granted reservation also adds one to Pending. When scope is throttled at now but its
	// settled failures alone (Failures - Pending) would not throttle it (throttle of that count
	// is not after now), ok is false, the refusal is not counted in Refused, and the caller may
	// wait for the attempts in flight and try again. Pending attempts of a scope with no
	// reservation for PendingAttemptTTL count as settled.
	BeginAttempt(ctx context.Context, scope string, now time.Time, window time.Duration, throttle func(failures int) time.Time) (a Attempt, ok bool, err error)
	// SettleAttempt ends one attempt in flight (Pending, never below zero): a failure stays
	// counted; withdraw takes it back as ReleaseAttempt does (nothing was compared, or a
	// per-address scope after a success).
	SettleAttempt(ctx context.Context, scope string, withdraw bool, threshold int) error
	// ResetAttempts clears the counter after a success (its unreported refusals stay until
	// they are reported).
	ResetAttempts(ctx context.Context, scope string) error
	// TakeEndedRefusals returns the counters with unreported refusals whose throttle is over
	// at now (ThrottledUntil at or before now), with their Refused, and resets those to zero in
	// the same step: a refusal count is taken once, here or by the next reservation, on every
	// node. At most limit counters are returned (0: no limit), oldest throttle first.
	TakeEndedRefusals(ctx context.Context, now time.Time, limit int) ([]Attempt, error)
	// DeleteAttemptsBefore removes counters last changed before cutoff that are not throttled
	// at cutoff and hold no unreported refusals, returning how many were removed.
	DeleteAttemptsBefore(ctx context.Context, cutoff time.Time) (int64, error)
}

// AuditEvent is one append-only audit record. It never holds a secret.
type AuditEvent struct {
	ID        int64
	Time      time.Time
	Type      string // e.g. logon.success, logon.failure, key.activated
	AccountID int64  // 0 when unknown (no user enumeration: failures for unknown users have 0)
	KeyKind   string
	KeyID     int64
	Reason    string
	IP        string
	Actor     string            // citizen, operator, system
	Detail    map[string]string // extra fields, stored as JSON
}

// Audit stores the append-only audit log.
type Audit interface {
	AppendAudit(ctx context.Context, e *AuditEvent) error
	// ListAudit returns events with ID > afterID, oldest first.
	ListAudit(ctx context.Context, afterID int64, limit int) ([]AuditEvent, error)
	// RecentAccountAudit returns the account's newest events, newest first: at most limit,
	// only those whose type starts with typePrefix ("logon.") when it is not empty. It reads
	// from the newest back, so it stays cheap however long the account's trail is.
	RecentAccountAudit(ctx context.Context, accountID int64, typePrefix string, limit int) ([]AuditEvent, error)
}

// MessageState is the delivery state of one outbox message.
type MessageState string

// Outbox message states.
const (
	MessagePending MessageState = "pending" // waiting for (re)delivery at NextAttemptAt
	MessageSending MessageState = "sending" // claimed by a worker until LeaseUntil
	MessageSent    MessageState = "sent"
	MessageFailed  MessageState = "failed" // permanent failure; LastError holds the server's answer
	MessageHeld    MessageState = "held"   // no SMTP server configured: kept for the dev mailbox
)

// Message is one e-mail in the durable outbox, rendered when it is enqueued.
type Message struct {
	ID            int64
	MessageID     string // RFC 5322 Message-ID, stable across retries
	AccountID     int64
	Template      string
	Language      string
	ToAddress     string
	ToName        string
	Subject       string
	TextBody      string
	HTMLBody      string
	State         MessageState
	Attempts      int
	NextAttemptAt time.Time
	LeaseOwner    string
	LeaseUntil    time.Time
	LastError     string
	CreatedAt     time.Time
	SentAt        time.Time
	// SecretUntil is when the code the message carries stops being valid; zero when it
	// carries none. A code-bearing message loses its bodies when it fails for good or its
	// code expires (ExpireSecrets), and is never sent after that.
	SecretUntil time.Time
}

// CodeExpiredBeforeDelivery is the LastError of a message that failed because the code it
// carried expired before it could be delivered.
const CodeExpiredBeforeDelivery = "the code expired before the message could be delivered"

// OutboxStatus summarises the outbox for `admin mail status`.
type OutboxStatus struct {
	Counts        map[MessageState]int
	OldestPending time.Time // zero when nothing is pending
}

// Outbox stores e-mail messages until they are delivered.
type Outbox interface {
	// Enqueue inserts m (fill ID, CreatedAt); call it inside the transaction of the change that
	// caused the message.
	Enqueue(ctx context.Context, m *Message) error
	// ClaimMessages leases up to limit due messages (pending with NextAttemptAt <= now, or
	// sending with an expired lease) to owner until leaseUntil. Two claimers never get the same
	// message while its lease holds (PostgreSQL: FOR UPDATE SKIP LOCKED).
	ClaimMessages(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]Message, error)
	// MarkSent, RetryLater and MarkFailed only apply while owner still holds the lease; they
	// return ErrNotFound otherwise. MarkSent also empties TextBody and HTMLBody: a delivered
	// message's code must not stay readable in the database (SPEC §8, codes only as hashes).
	// MarkFailed also empties the bodies of a message that carries a code (SecretUntil set):
	// nobody may send it again, and its code must not stay readable.
	MarkSent(ctx context.Context, id int64, owner string, at time.Time) error
	RetryLater(ctx context.Context, id int64, owner string, next time.Time, lastErr string) error
	MarkFailed(ctx context.Context, id int64, owner string, lastErr string) error
	// RequeueMessage puts a failed (or held) message back to pending now (admin mail retry).
	// ErrNotFound when there is no such message, ErrConflict when it is in another state,
	// ErrSecretGone when it carries a code that expired at or before now or whose bodies were
	// dropped.
	RequeueMessage(ctx context.Context, id int64, now time.Time) error
	// RequeueFailed puts every failed message that carries no code back to pending and returns
	// how many, and how many failed messages it skipped because they carried one (their bodies
	// were dropped when they failed).
	RequeueFailed(ctx context.Context, now time.Time) (requeued, skipped int64, err error)
	// ExpireSecrets empties the bodies of every message whose code expired at or before now, in
	// any state (held ones too), and fails those still pending ("code expired before
	// delivery"). It returns how many messages it changed.
	ExpireSecrets(ctx context.Context, now time.Time) (int64, error)
	GetMessage(ctx context.Context, id int64) (Message, error)
	// ListMessages returns the newest messages first (the development mailbox).
	ListMessages(ctx context.Context, limit int) ([]Message, error)
	// RecentAccountMessages returns the account's newest messages, newest first: at most
	// limit, only of template when it is not empty (the helpdesk console).
	RecentAccountMessages(ctx context.Context, accountID int64, template string, limit int) ([]Message, error)
	OutboxStatus(ctx context.Context) (OutboxStatus, error)
}
