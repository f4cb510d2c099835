package helpdesk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/phaseout"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Audit event types of the helpdesk. Every event names the agent (Detail["agent"], their
// username) and, for an action, its reason (Reason).
const (
	// Viewed: an agent looked a citizen up (Detail["query"]: "username" or "email").
	Viewed = "helpdesk.viewed"
	// Action: an agent changed something; Detail["action"] says what (lift_password,
	// lift_code, unlock, deactivate, resend, recovery_code).
	Action = "helpdesk.action"
)

// The actions, as Detail["action"] of an Action event names them.
const (
	ActionLiftPassword = "lift_password"
	ActionLiftCode     = "lift_code"
	ActionUnlock       = "unlock"
	ActionDeactivate   = "deactivate"
	ActionResend       = "resend"
	ActionRecoveryCode = "recovery_code"
)

// Config holds the helpdesk's rules.
type Config struct {
	// RecoveryValidity is how long a recovery code works (SPEC §10: 72 hours).
	RecoveryValidity time.Duration
	// Recent is how many logons, e-mails and audit events the console shows.
	Recent int
	// Location is the time zone the console's explanations write times in (FormatInstant),
	// the one its pages show (web.Config.Location); nil: Europe/Brussels (SPEC §5), or UTC
	// where the system has no zone data.
	Location *time.Location
}

// DefaultConfig returns 72 hours, the 20 most recent entries and Europe/Brussels.
func DefaultConfig() Config { return Config{RecoveryValidity: 72 * time.Hour, Recent: 20} }

// brussels is the default Location.
func brussels() *time.Location {
	loc, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		return time.UTC
	}
	return loc
}

// MaxReason bounds the reason an agent gives (characters).
const MaxReason = 500

// Store is what the console reads, and where its changes start.
type Store interface {
	GetAccount(ctx context.Context, id int64) (store.Account, error)
	GetAccountByUsername(ctx context.Context, username string) (store.Account, error)
	GetAccountByEmail(ctx context.Context, email string) (store.Account, error)
	ListKeys(ctx context.Context, accountID int64) ([]store.Key, error)
	GetAttempt(ctx context.Context, scope string) (store.Attempt, error)
	RecentAccountAudit(ctx context.Context, accountID int64, typePrefix string, limit int) ([]store.AuditEvent, error)
	RecentAccountMessages(ctx context.Context, accountID int64, template string, limit int) ([]store.Message, error)
	HasRole(ctx context.Context, accountID int64, role string) (bool, error)
	audit.Appender
	store.Transactor
}

// actionStore is what an action writes, in one transaction.
type actionStore interface {
	LockAccount(ctx context.Context, id int64) error
	GetKey(ctx context.Context, id int64) (store.Key, error)
	TransitionKey(ctx context.Context, id int64, from, to store.KeyStatus, cause string, at time.Time) (bool, error)
	GetAttempt(ctx context.Context, scope string) (store.Attempt, error)
	ResetAttempts(ctx context.Context, scope string) error
	GetMessage(ctx context.Context, id int64) (store.Message, error)
	RequeueMessage(ctx context.Context, id int64, now time.Time) error
	CreateCode(ctx context.Context, c *store.Code) error
	HasRole(ctx context.Context, accountID int64, role string) (bool, error)
	mail.Outbox
	audit.Appender
}

var (
	_ Store       = store.Store(nil)
	_ actionStore = store.Store(nil)
)

// Logons diagnoses logons and names the password throttle (*login.Service).
type Logons interface {
	Diagnose(ctx context.Context, accountID int64, kind string, min keys.Level) (login.Diagnosis, error)
	PasswordScope(username string) attempts.Scope
}

// PhaseOuts gives a kind's phase-out policy (*phaseout.Policies).
type PhaseOuts interface {
	Get(kind string) (phaseout.Policy, bool)
}

// Mailer renders a template into the outbox it is given (*mail.Composer).
type Mailer interface {
	Enqueue(ctx context.Context, ob mail.Outbox, to mail.Recipient, template string, data map[string]any) error
}

// Auditor records audit events (*audit.Recorder).
type Auditor interface {
	Record(ctx context.Context, st audit.Appender, e store.AuditEvent) error
}

// Deps are the parts a Service works with.
type Deps struct {
	Store  Store
	Logons Logons
	Kinds  *keys.Registry
	// PhaseOuts may be nil (no phase-out dates are named then).
	PhaseOuts PhaseOuts
	Mailer    Mailer
	Audit     Auditor
	// Hasher makes the keyed hashes of recovery codes.
	Hasher *secrets.Hasher
	Now    func() time.Time
	// Rand draws recovery codes (crypto/rand.Reader in production).
	Rand io.Reader
	Log  *slog.Logger
}

// Service is the helpdesk console. It is safe for concurrent use.
type Service struct {
	cfg Config
	d   Deps
	log *slog.Logger
}

// New returns a Service.
func New(cfg Config, d Deps) (*Service, error) {
	if cfg.RecoveryValidity < time.Hour || cfg.Recent < 1 {
		return nil, fmt.Errorf("helpdesk: recovery validity %s (at least 1h) and recent %d (at least 1)", cfg.RecoveryValidity, cfg.Recent)
	}
	if d.Store == nil || d.Logons == nil || d.Kinds == nil || d.Mailer == nil || d.Audit == nil || d.Hasher == nil ||
		d.Now == nil || d.Rand == nil {
		return nil, errors.New("helpdesk: every dependency but PhaseOuts and Log must be set")
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Location == nil {
		cfg.Location = brussels()
	}
	return &Service{cfg: cfg, d: d, log: log}, nil
}

// Config returns the rules in effect.
func (s *Service) Config() Config { return s.cfg }

// Agent is the helpdesk agent making a request.
type Agent struct {
	AccountID int64
	Username  string
	IP        string
}

// Errors an agent may see.
var (
	ErrNotFound      = i18n.NewError("helpdesk.error.not_found")
	ErrQueryEmpty    = i18n.NewError("helpdesk.error.query_empty")
	ErrReasonMissing = i18n.NewError("helpdesk.error.reason_missing")
	ErrReasonLong    = i18n.NewError("helpdesk.error.reason_long", MaxReason)
	ErrOwnAccount    = i18n.NewError("helpdesk.error.own_account")
	// ErrPrivileged refuses every action on an account holding a role (operator, helpdesk):
	// a recovery code for it would hand its consoles to the agent; an operator of the
	// machine recovers it with `sleutelbos admin`.
	ErrPrivileged    = i18n.NewError("helpdesk.error.privileged")
	ErrNoSuchKey     = i18n.NewError("helpdesk.error.no_such_key")
	ErrNoSuchMessage = i18n.NewError("helpdesk.error.no_such_message")
	ErrNotThrottled  = i18n.NewError("helpdesk.error.not_throttled")
	ErrNotLocked     = i18n.NewError("helpdesk.error.not_locked")
	ErrNotActive     = i18n.NewError("helpdesk.error.not_active")
	ErrNotFailed     = i18n.NewError("helpdesk.error.not_failed")
	ErrSecretGone    = i18n.NewError("helpdesk.error.secret_gone")
)

// Find returns the citizen whose username is query, or whose e-mail address it is (with an
// @), exactly (letter case aside); the agent saw them, which is audited. ErrNotFound,
// ErrQueryEmpty.
func (s *Service) Find(ctx context.Context, agent Agent, query string) (store.Account, error) {
	query = strings.TrimSpace(query)
	if query == "" {
		return store.Account{}, ErrQueryEmpty
	}
	by := "username"
	var acct store.Account
	var err error
	if strings.Contains(query, "@") {
		by = "email"
		acct, err = s.d.Store.GetAccountByEmail(ctx, query)
	} else {
		acct, err = s.d.Store.GetAccountByUsername(ctx, query)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Account{}, ErrNotFound
	case err != nil:
		return store.Account{}, fmt.Errorf("find citizen: %w", err)
	}
	s.record(ctx, store.AuditEvent{Type: Viewed, AccountID: acct.ID, IP: agent.IP, Actor: audit.ActorHelpdesk,
		Detail: map[string]string{"agent": agent.Username, "query": by}})
	return acct, nil
}

// KeyLine is one key as the console shows it, with its code throttle.
type KeyLine struct {
	store.Key
	Level keys.Level
	// Failures are the consecutive wrong codes counted; ThrottledUntil is set while the key's
	// codes are refused.
	Failures       int
	ThrottledUntil time.Time
}

// View is everything the console shows of one citizen.
type View struct {
	Account store.Account
	Keys    []KeyLine
	// Password is the throttle counter of wrong passwords typed with the username.
	Password store.Attempt
	// Logons are the recent logon events (success, failure, throttled), newest first.
	Logons []store.AuditEvent
	// Messages are the recent e-mails, newest first.
	Messages []store.Message
	// Audit is the recent audit trail, newest first.
	Audit []store.AuditEvent
	// Privileged is set when the account holds a role (PrivilegedRoles): the console takes
	// no action on it (ErrPrivileged).
	Privileged bool
}

// PrivilegedRoles are the roles whose holders the helpdesk may look up but not act on.
var PrivilegedRoles = []string{store.RoleOperator, store.RoleHelpdesk}

// roleHolder is where privileged reads the roles (the store, or a transaction).
type roleHolder interface {
	HasRole(ctx context.Context, accountID int64, role string) (bool, error)
}

// privileged reports whether accountID holds any of PrivilegedRoles.
func privileged(ctx context.Context, st roleHolder, accountID int64) (bool, error) {
	for _, role := range PrivilegedRoles {
		ok, err := st.HasRole(ctx, accountID, role)
		if err != nil {
			return false, fmt.Errorf("roles of %d: %w", accountID, err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// Citizen gathers the console's view of the citizen accountID. ErrNotFound.
func (s *Service) Citizen(ctx context.Context, accountID int64) (View, error) {
	acct, err := s.citizen(ctx, accountID)
	if err != nil {
		return View{}, err
	}
	v := View{Account: acct}
	if v.Privileged, err = privileged(ctx, s.d.Store, acct.ID); err != nil {
		return View{}, fmt.Errorf("citizen view: %w", err)
	}
	if v.Password, err = s.d.Store.GetAttempt(ctx, string(s.d.Logons.PasswordScope(acct.Username))); err != nil {
		return View{}, fmt.Errorf("citizen view: %w", err)
	}
	ks, err := s.d.Store.ListKeys(ctx, acct.ID)
	if err != nil {
		return View{}, fmt.Errorf("citizen view: %w", err)
	}
	for _, k := range ks {
		a, err := s.d.Store.GetAttempt(ctx, string(attempts.FactorScope(k.ID)))
		if err != nil {
			return View{}, fmt.Errorf("citizen view: %w", err)
		}
		l := KeyLine{Key: k, Failures: a.Failures}
		if a.ThrottledUntil.After(s.d.Now()) {
			l.ThrottledUntil = a.ThrottledUntil
		}
		if kind, ok := s.d.Kinds.Get(k.Kind); ok {
			l.Level = kind.Level()
		}
		l.Data = nil // a kind's private data never leaves here
		v.Keys = append(v.Keys, l)
	}
	if v.Logons, err = s.d.Store.RecentAccountAudit(ctx, acct.ID, "logon.", s.cfg.Recent); err != nil {
		return View{}, fmt.Errorf("citizen view: %w", err)
	}
	if v.Audit, err = s.d.Store.RecentAccountAudit(ctx, acct.ID, "", s.cfg.Recent); err != nil {
		return View{}, fmt.Errorf("citizen view: %w", err)
	}
	ms, err := s.d.Store.RecentAccountMessages(ctx, acct.ID, "", s.cfg.Recent)
	if err != nil {
		return View{}, fmt.Errorf("citizen view: %w", err)
	}
	for _, m := range ms {
		m.TextBody, m.HTMLBody = "", "" // codes stay with the citizen
		v.Messages = append(v.Messages, m)
	}
	return v, nil
}

// citizen loads the account a request names; a forged id is ErrNotFound.
func (s *Service) citizen(ctx context.Context, accountID int64) (store.Account, error) {
	acct, err := s.d.Store.GetAccount(ctx, accountID)
	switch {
	case errors.Is(err, store.ErrNotFound) || accountID <= 0:
		return store.Account{}, ErrNotFound
	case err != nil:
		return store.Account{}, fmt.Errorf("load citizen %d: %w", accountID, err)
	}
	return acct, nil
}

// record writes an audit event on its own; a failure is logged.
func (s *Service) record(ctx context.Context, e store.AuditEvent) {
	if err := s.d.Audit.Record(ctx, s.d.Store, e); err != nil {
		s.log.Warn("record audit event", "type", e.Type, "err", err)
	}
}

// checkReason trims reason and checks it is given and not too long.
func checkReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return "", ErrReasonMissing
	case utf8.RuneCountInString(reason) > MaxReason:
		return "", ErrReasonLong
	}
	return reason, nil
}

// itoa formats an id for the audit log.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }
