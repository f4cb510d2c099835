package login

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/phaseout"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Step is where a logon transaction stands.
type Step string

// The steps of a logon.
const (
	StepChoose Step = "choose"
	// StepPrompt is the phase-out pop-up (SPEC §5) of a kind chosen during its prompt period,
	// before the password step.
	StepPrompt   Step = "prompt"
	StepPassword Step = "password"
	StepCode     Step = "code"
	StepDone     Step = "done"
)

// Transaction is one logon in progress. It holds no secret: the challenge's answer lives in the
// store (hashed) or with the citizen. Nor does it hold what was typed as the username — people
// sometimes type their password there, and the transaction is stored in the session row — only
// the account a correct password identified.
type Transaction struct {
	Step      Step            `json:"step"`
	MinLevel  keys.Level      `json:"min_level"`
	Kind      string          `json:"kind,omitempty"`
	Return    string          `json:"return,omitempty"`
	AccountID int64           `json:"account_id,omitempty"`
	KeyID     int64           `json:"key_id,omitempty"`
	Challenge *keys.Challenge `json:"challenge,omitempty"`
	StartedAt time.Time       `json:"started_at"`
	DoneAt    time.Time       `json:"done_at,omitempty"`

	// BoundAccountID, when set, is the only citizen this logon may log on: a step-up of a
	// logged-on session never silently becomes another citizen's logon.
	BoundAccountID int64 `json:"bound_account_id,omitempty"`
	// KnownAccountID is the account of the last password step, when it was right. Unlike
	// AccountID it survives Back, so the password form can offer that account's username again;
	// it proves nothing and is never used to log on.
	KnownAccountID int64 `json:"known_account_id,omitempty"`
	// ResendAt is set when the code step has no challenge yet because the kind had sent too many
	// codes lately: the citizen waits at the code step (the password stays accepted) and may ask
	// for a new code from then on, or choose another key.
	ResendAt time.Time `json:"resend_at,omitzero"`
	// Migrate is set when the citizen took the phase-out pop-up's "Activate a new digital key
	// now": the logon with the old key ends in the activation wizard, which deactivates that
	// key when the new one is active.
	Migrate bool `json:"migrate,omitempty"`
}

// Waiting reports whether tx is at the code step without a code: the kind's resend limit held
// it back (ResendAt says until when).
func (tx *Transaction) Waiting() bool { return tx.Step == StepCode && tx.Challenge == nil }

// Choice is a key kind offered on the chooser.
type Choice struct {
	Kind      string
	Level     keys.Level
	CanResend bool
}

// Client describes who is logging on, for throttling and the audit log.
type Client struct {
	IP        string
	UserAgent string
	// Device is the browser's device cookie when it has a valid one (the web layer checked its
	// signature), nil otherwise.
	Device *Device
}

// Device is a browser that logged a citizen on before, as its signed device cookie says (OWASP's
// "device cookies"). A password attempt for that citizen from that browser counts against the
// device's own failure budget instead of the username's, so an attacker who knows the username
// cannot lock the citizen out of their own browser; when the device's budget is spent (it is
// throttled), its attempts count like any other browser's until its throttle ends.
type Device struct {
	// Username is the username the device logged on with, folded (FoldUsername).
	Username string
	// ID is the cookie's random identifier; the device's failures are counted under it.
	ID string
}

// FoldUsername returns username as the logon compares and counts it: case-folded. A device
// cookie is bound to this form of the username.
func FoldUsername(username string) string { return strings.ToLower(username) }

// Result is a completed logon.
type Result struct {
	AccountID int64
	Kind      string
	// KeyID is the key the citizen logged on with (0 for the password kind).
	KeyID int64
	// Migrate: the citizen logs on to replace that key (the phase-out pop-up's first way).
	Migrate  bool
	Level    keys.Level
	AMR      []string
	AuthTime time.Time
}

// Errors a citizen may see.
var (
	// ErrBadCredentials is the one answer for an unknown username and a wrong password.
	ErrBadCredentials = i18n.NewError("login.error.bad_credentials")
	// ErrExpired: the transaction is older than its lifetime; start again.
	ErrExpired = i18n.NewError("login.error.expired")
	// ErrUnknownKind: the chosen kind is not offered here.
	ErrUnknownKind = i18n.NewError("login.error.unknown_kind")
	// ErrOutOfOrder: a step was submitted that the transaction is not at.
	ErrOutOfOrder = i18n.NewError("login.error.out_of_order")
	// ErrCannotResend: the kind has no "send a new code".
	ErrCannotResend = i18n.NewError("login.error.cannot_resend")
	// ErrOtherAccount: a logon bound to the logged-on citizen was given another citizen's
	// username and password (said only after the password was right).
	ErrOtherAccount = i18n.NewError("login.error.other_account")
	// ErrNoCode: a code was answered at a code step that has sent none yet (it is waiting out
	// the resend limit).
	ErrNoCode = i18n.NewError("login.error.no_code")
	// ErrNoUsername and ErrNoPassword: the password step was sent with the field empty. A
	// format error, not an attempt: nothing is counted or hashed. Both empty is both errors
	// (errors.Join), so the page can mark both fields.
	ErrNoUsername = i18n.NewError("login.error.no_username")
	ErrNoPassword = i18n.NewError("login.error.no_password")
	// ErrUnknownChoice: an answer to the phase-out pop-up that the pop-up does not offer (a
	// forged form).
	ErrUnknownChoice = i18n.NewError("login.error.unknown_choice")
)

// The answers to the phase-out pop-up (audit Detail "choice" of phaseout.choice).
const (
	ChoiceActivate = "activate"  // "Activate a new digital key now"
	ChoiceOtherKey = "other_key" // "I want to log in with another digital key"
	ChoiceClose    = "close"     // the pop-up's ×: go on with the old key, for now
)

// Phases tells the phase of a key kind's phase-out at an instant (phaseout.Policies).
type Phases interface {
	Phase(kind string, now time.Time) phaseout.Phase
}

// PhaseFunc adapts a function to Phases.
type PhaseFunc func(kind string, now time.Time) phaseout.Phase

// Phase calls f.
func (f PhaseFunc) Phase(kind string, now time.Time) phaseout.Phase { return f(kind, now) }

// NoKeyError says the citizen has no active key of the chosen kind (never had one,
// deactivated, expired). It is only returned after a correct password.
func NoKeyError(kind string) *i18n.LocalizedError {
	return i18n.NewError("login.error.no_key", i18n.Msg("key."+kind+".short"))
}

// KeyLockedError says the key of the chosen kind is locked after too many wrong codes.
func KeyLockedError(kind string) *i18n.LocalizedError {
	return i18n.NewError("login.error.key_locked", i18n.Msg("key."+kind+".short"))
}

// PasswordVerifier checks and hashes passwords (internal/password).
type PasswordVerifier interface {
	Verify(ctx context.Context, encoded, plain string) (ok, needsRehash bool, err error)
	Hash(ctx context.Context, plain string) (string, error)
	Equalize(ctx context.Context, plain string)
}

// Limiter counts attempts and throttles (internal/attempts). Every password or code check is
// reserved before it is made, so parallel guesses get no more tries than the policy allows.
type Limiter interface {
	Reserve(ctx context.Context, scope attempts.Scope) (store.Attempt, error)
	Release(ctx context.Context, scope attempts.Scope) error
	Succeed(ctx context.Context, scope attempts.Scope) error
	// Begin reserves an attempt whose outcome is reported (Fail, Succeed or Withdraw), waiting
	// for attempts in flight rather than refusing because of them (attempts.Limiter.Begin).
	Begin(ctx context.Context, scope attempts.Scope) (store.Attempt, error)
	Fail(ctx context.Context, scope attempts.Scope) error
	Withdraw(ctx context.Context, scope attempts.Scope) error
	// Peek reads a scope's counter and whether Reserve would refuse it now (Diagnose).
	Peek(ctx context.Context, scope attempts.Scope) (store.Attempt, error)
}

// ScopeHasher computes keyed hashes (secrets.Hasher).
type ScopeHasher interface {
	Sum(domain string, parts ...string) []byte
}

// Auditor records audit events (internal/audit).
type Auditor interface {
	Record(ctx context.Context, st audit.Appender, e store.AuditEvent) error
}

// Config holds the logon rules.
type Config struct {
	// Lifetime of a logon transaction (SPEC §8: 15 minutes).
	Lifetime time.Duration
	// LockAfter consecutive wrong codes lock a key (SPEC §8: 100).
	LockAfter int
}

// maxUsernameBytes bounds a typed username (usernames have at most 64 characters).
const maxUsernameBytes = 256

// DefaultConfig returns the SPEC defaults.
func DefaultConfig() Config {
	return Config{Lifetime: 15 * time.Minute, LockAfter: attempts.KeyLockoutFailures}
}

// Validate reports every invalid value.
func (c Config) Validate() error {
	var errs []error
	if c.Lifetime <= 0 {
		errs = append(errs, fmt.Errorf("logon transaction lifetime %s: must be positive", c.Lifetime))
	}
	if c.LockAfter < 1 {
		errs = append(errs, fmt.Errorf("key lockout after %d failures: must be at least 1", c.LockAfter))
	}
	return errors.Join(errs...)
}

// Store is the storage the logon flow uses: the account and its keys, the audit log, and what
// the key kinds need (keys.Store). Attempt counters go through the Limiters.
type Store interface {
	keys.Store
	GetAccount(ctx context.Context, id int64) (store.Account, error)
	GetAccountByUsername(ctx context.Context, username string) (store.Account, error)
	UpdatePasswordHash(ctx context.Context, id int64, hash string, now time.Time) error
	GetKey(ctx context.Context, id int64) (store.Key, error)
	ListKeys(ctx context.Context, accountID int64) ([]store.Key, error)
	TouchKey(ctx context.Context, id int64, at time.Time) error
	TransitionKey(ctx context.Context, id int64, from, to store.KeyStatus, cause string, at time.Time) (bool, error)
	TakeEndedRefusals(ctx context.Context, now time.Time, limit int) ([]store.Attempt, error)
	audit.Appender
}

var _ Store = store.Store(nil)

// Deps are the parts a Service works with.
type Deps struct {
	Store     Store
	Kinds     *keys.Registry
	Passwords PasswordVerifier
	// Limiter throttles per factor (password per typed username, codes per key); the code
	// factor's count of consecutive failures also locks the key at Config.LockAfter.
	Limiter Limiter
	// IPLimiter throttles per client address, with its own, looser policy.
	IPLimiter Limiter
	// ScopeHasher keys the hash that names a typed username's throttle counter: the counter
	// is stored, and what is typed as a username is sometimes a password.
	ScopeHasher ScopeHasher
	Audit       Auditor
	Now         func() time.Time
	// Phases is the phase-out policies (nil: nothing is phased out). A disabled kind is not
	// offered; choosing a kind in its prompt period shows the pop-up first.
	Phases Phases
	// Log receives what goes wrong without changing the outcome (nil: discarded).
	Log *slog.Logger
}

// Service runs logon transactions.
type Service struct {
	cfg       Config
	st        Store
	kinds     *keys.Registry
	passwords PasswordVerifier
	limiter   Limiter
	ipLimiter Limiter
	scopeHash ScopeHasher
	audit     Auditor
	now       func() time.Time
	phases    Phases
	log       *slog.Logger
}

// New returns a Service.
func New(cfg Config, d Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	if d.Store == nil || d.Kinds == nil || d.Passwords == nil || d.Limiter == nil || d.IPLimiter == nil || d.ScopeHasher == nil || d.Audit == nil || d.Now == nil {
		return nil, errors.New("login: every dependency must be set")
	}
	if _, ok := d.Kinds.Get(keys.Password); !ok {
		return nil, errors.New("login: the password kind must be registered")
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, st: d.Store, kinds: d.Kinds, passwords: d.Passwords, limiter: d.Limiter,
		ipLimiter: d.IPLimiter, scopeHash: d.ScopeHasher, audit: d.Audit, now: d.Now, phases: d.Phases, log: log}, nil
}

// Start begins a logon that must reach min; returnTo is where the citizen goes when done.
func (s *Service) Start(min keys.Level, returnTo string) *Transaction {
	if min < keys.LevelLow {
		min = keys.LevelLow
	}
	return &Transaction{Step: StepChoose, MinLevel: min, Return: returnTo, StartedAt: s.now()}
}

// StartFor begins a logon that must reach min and may only log on the citizen accountID: the
// step-up (or fresh logon) of a session that already belongs to that citizen.
func (s *Service) StartFor(min keys.Level, returnTo string, accountID int64) *Transaction {
	tx := s.Start(min, returnTo)
	tx.BoundAccountID = accountID
	return tx
}

// phase returns kind's phase-out phase now.
func (s *Service) phase(kind string) phaseout.Phase {
	if s.phases == nil {
		return phaseout.Normal
	}
	return s.phases.Phase(kind, s.now())
}

// offered reports whether the policy offers kind now: every kind until its disabled_from.
func (s *Service) offered(kind string) bool { return s.phase(kind) != phaseout.Disabled }

// ActivationClosed lists the kinds of tx's chooser whose activation is closed now (the
// chooser's side note, SPEC §3).
func (s *Service) ActivationClosed(tx *Transaction) []string {
	var out []string
	for _, c := range s.Choices(tx) {
		if s.phase(c.Kind) >= phaseout.ActivationClosed {
			out = append(out, c.Kind)
		}
	}
	return out
}

// Choices lists the kinds offered for tx: enabled, meeting its level, and offered by policy.
func (s *Service) Choices(tx *Transaction) []Choice {
	var out []Choice
	for _, k := range s.kinds.Meeting(tx.MinLevel) {
		if !s.offered(k.Name()) {
			continue
		}
		_, resend := k.(keys.Resender)
		out = append(out, Choice{Kind: k.Name(), Level: k.Level(), CanResend: resend})
	}
	return out
}

// Expired reports whether tx is older than the transaction lifetime.
func (s *Service) Expired(tx *Transaction) bool {
	return s.now().Sub(tx.StartedAt) >= s.cfg.Lifetime
}

// Choose picks the key kind; the transaction moves to the password step — or, for a kind in
// its phase-out's prompt period, to the pop-up (StepPrompt; the caller records it with
// PromptShown). Choosing again (the "other key" link) is allowed until the password is
// accepted.
func (s *Service) Choose(tx *Transaction, kind string) error {
	if s.Expired(tx) {
		return ErrExpired
	}
	if tx.Step != StepChoose && tx.Step != StepPassword && tx.Step != StepPrompt {
		return ErrOutOfOrder
	}
	for _, c := range s.Choices(tx) {
		if c.Kind == kind {
			// Nothing of an earlier attempt with another key (one that was locked) carries over.
			tx.Kind, tx.Step, tx.AccountID, tx.KeyID, tx.Challenge, tx.Migrate = kind, StepPassword, 0, 0, nil, false
			if s.phase(kind) == phaseout.Prompt {
				tx.Step = StepPrompt
			}
			return nil
		}
	}
	if k, ok := s.kinds.Get(kind); ok && k.Level() >= tx.MinLevel && !s.offered(kind) {
		// Switched off (SPEC §5): trying it gets the SPEC §3 message, which says nothing about
		// any account — it is the same for everyone.
		return NoKeyError(kind)
	}
	return ErrUnknownKind
}

// PromptShown records that tx's pop-up is shown (phaseout.prompt_shown): once per choice of
// the kind, whatever reloads the page.
func (s *Service) PromptShown(ctx context.Context, tx *Transaction, c Client) {
	if tx.Step != StepPrompt {
		return
	}
	s.record(ctx, store.AuditEvent{Type: audit.PhaseoutPromptShown, KeyKind: tx.Kind, IP: c.IP,
		Detail: map[string]string{"kind": tx.Kind}})
}

// Answer takes the citizen's answer to the phase-out pop-up: ChoiceActivate continues to the
// password step and ends the logon in the activation wizard (Migrate), ChoiceOtherKey goes
// back to the chooser, ChoiceClose continues with the old key. Anything else changes nothing
// and is ErrUnknownChoice, recorded as a logon failure (a forged form). When the kind was
// switched off since it was chosen, every answer but another key is told the citizen has no
// such key.
func (s *Service) Answer(ctx context.Context, tx *Transaction, choice string, c Client) error {
	if s.Expired(tx) {
		return ErrExpired
	}
	switch choice {
	case ChoiceActivate, ChoiceOtherKey, ChoiceClose:
	default:
		s.record(ctx, store.AuditEvent{Type: audit.LogonFailure, KeyKind: tx.Kind, Reason: audit.ReasonForged, IP: c.IP,
			Detail: map[string]string{"field": "choice"}})
		return ErrUnknownChoice
	}
	if tx.Step != StepPrompt {
		return ErrOutOfOrder
	}
	s.record(ctx, store.AuditEvent{Type: audit.PhaseoutChoice, KeyKind: tx.Kind, IP: c.IP,
		Detail: map[string]string{"kind": tx.Kind, "choice": choice}})
	switch {
	case choice == ChoiceOtherKey:
		s.Back(tx)
		return nil
	case !s.offered(tx.Kind):
		kind := tx.Kind
		s.Back(tx)
		return NoKeyError(kind)
	}
	tx.Step, tx.Migrate = StepPassword, choice == ChoiceActivate
	return nil
}

// Back returns tx to the chooser (a different key), forgetting any account it had reached.
func (s *Service) Back(tx *Transaction) {
	tx.Step, tx.Kind, tx.AccountID, tx.KeyID, tx.Challenge, tx.ResendAt, tx.Migrate = StepChoose, "", 0, 0, nil, time.Time{}, false
}

// SubmitPassword checks username and password. On success the transaction moves to the code
// step, or is done for the password kind.
func (s *Service) SubmitPassword(ctx context.Context, tx *Transaction, username, password string, c Client) error {
	if s.Expired(tx) {
		return ErrExpired
	}
	if tx.Step != StepPassword {
		return ErrOutOfOrder
	}
	username = strings.TrimSpace(username)
	// An empty field is a form left incomplete, not a guess: it is told as such and counts
	// against no throttle, and no hash runs for it (DESIGN: format errors are not attempts).
	// Whoever sends one learns nothing about any account.
	var missing []error
	if username == "" {
		missing = append(missing, ErrNoUsername)
	}
	if password == "" {
		missing = append(missing, ErrNoPassword)
	}
	if len(missing) > 0 {
		return errors.Join(missing...)
	}
	if strings.ContainsFunc(username, unicode.IsControl) {
		username = "" // no username has control characters (PostgreSQL even refuses NUL)
	}
	if len(username) > maxUsernameBytes {
		// Longer than any real username: keep the throttle scope bounded and treat it as
		// unknown (the lookup below finds nothing).
		username = username[:maxUsernameBytes]
	}
	tx.KnownAccountID = 0 // set again only when this password is right
	ipScope := attempts.IPScope("logon", c.IP)
	release, scope, err := s.reservePassword(ctx, tx, username, ipScope, c)
	if err != nil {
		return err
	}
	pw, err := s.checkPassword(ctx, username, password)
	if err != nil {
		release()
		return err
	}
	if pw.acct.ID == 0 || !pw.ok {
		s.settleFailed(ctx, reservation{s.ipLimiter, ipScope, true}, reservation{s.limiter, scope, true})
		s.record(ctx, store.AuditEvent{Type: audit.LogonFailure, AccountID: pw.acct.ID, KeyKind: tx.Kind,
			Reason: audit.ReasonBadCredentials, IP: c.IP, Detail: map[string]string{"factor": keys.Password}})
		return ErrBadCredentials
	}
	acct := pw.acct
	// Only the scope this attempt counted against is reset: a logon from the citizen's own
	// browser leaves the failures an attacker collected on the username where they are.
	if err := errors.Join(s.ipLimiter.Withdraw(ctx, ipScope), s.limiter.Succeed(ctx, scope)); err != nil {
		return fmt.Errorf("submit password: %w", err)
	}
	if tx.BoundAccountID != 0 && acct.ID != tx.BoundAccountID {
		s.record(ctx, store.AuditEvent{Type: audit.LogonFailure, AccountID: acct.ID, KeyKind: tx.Kind,
			Reason: audit.ReasonOtherAccount, IP: c.IP, Detail: map[string]string{"bound_account": fmt.Sprint(tx.BoundAccountID)}})
		return ErrOtherAccount
	}
	if pw.rehash {
		s.rehash(ctx, acct.ID, password)
	}
	tx.AccountID, tx.KnownAccountID = acct.ID, acct.ID
	return s.challenge(ctx, tx, acct, c)
}

// challenge moves tx, whose account acct is identified (by its password, or by a password
// reset link), to the code step of its kind: the kind's challenge begins, or the error says why
// not (no such key, the key is locked, too many codes lately). A kind without a challenge is
// done at once.
func (s *Service) challenge(ctx context.Context, tx *Transaction, acct store.Account, c Client) error {
	kind, ok := s.kinds.Get(tx.Kind)
	if !ok {
		return ErrUnknownKind
	}
	if !s.offered(tx.Kind) {
		// Switched off (phased out) since it was chosen: as if the citizen had no such key.
		tx.Step = StepChoose
		s.record(ctx, store.AuditEvent{Type: audit.LogonFailure, AccountID: acct.ID, KeyKind: tx.Kind, Reason: audit.ReasonKeyMissing, IP: c.IP})
		return NoKeyError(tx.Kind)
	}
	ch, isChallenger := kind.(keys.Challenger)
	if !isChallenger {
		return s.done(tx, 0)
	}
	key, err := s.activeKey(ctx, acct.ID, tx.Kind, c)
	if err != nil {
		// A locked key stays named in tx, so a code sent anyway is told it is locked.
		tx.Step, tx.KeyID = StepChoose, key.ID
		return err
	}
	challenge, err := ch.Begin(ctx, s.st, acct, key)
	if err != nil {
		var limit *keys.ResendLimitError
		if _, resender := kind.(keys.Resender); resender && errors.As(err, &limit) {
			// Too many codes lately (another logon, another tab): the password stays
			// accepted. The citizen waits at the code step, where "send a new code" works
			// once the wait is over, or chooses another key.
			tx.KeyID, tx.Challenge, tx.Step, tx.ResendAt = key.ID, nil, StepCode, s.now().Add(limit.Wait)
			return err
		}
		var le *i18n.LocalizedError
		if errors.As(err, &le) {
			return err // the citizen may choose another key
		}
		return fmt.Errorf("begin %s challenge: %w", tx.Kind, err)
	}
	if challenge.Repeated {
		// Someone (the citizen, or whoever holds the password and hopes for a question they
		// can answer) restarted the logon without answering the question asked before.
		s.record(ctx, store.AuditEvent{Type: audit.ChallengeRepeated, AccountID: acct.ID, KeyKind: tx.Kind, KeyID: key.ID,
			IP: c.IP, Detail: map[string]string{"asked": strings.Join(challenge.Args, " ")}})
	}
	tx.KeyID, tx.Challenge, tx.Step, tx.ResendAt = key.ID, &challenge, StepCode, time.Time{}
	return nil
}

// passwordScope names the throttle counter of a typed username: a keyed hash of it, case-folded
// (FoldUsername), so the stored scope cannot be reversed by hashing guesses without the key.
func (s *Service) passwordScope(username string) attempts.Scope {
	return attempts.PasswordScope(hex.EncodeToString(s.scopeHash.Sum("login.password-scope", FoldUsername(username))))
}

// reservePassword reserves a password attempt for the client's address and for the scope it
// counts against, which it returns: the device's own when the client's device cookie was issued
// for this username and the device's budget is not spent, the username's otherwise.
func (s *Service) reservePassword(ctx context.Context, tx *Transaction, username string, ipScope attempts.Scope, c Client) (func(), attempts.Scope, error) {
	if d := c.Device; d != nil && d.ID != "" && username != "" && d.Username == FoldUsername(username) {
		devScope := attempts.DeviceScope(d.ID)
		release, counts, err := s.reserve(ctx, tx, 0, 0, c, reservation{s.ipLimiter, ipScope, true}, reservation{s.limiter, devScope, true})
		if err == nil {
			return release, devScope, nil
		}
		if !errors.Is(err, attempts.ErrThrottled) || len(counts) < 2 {
			return nil, "", err // a database error, or the address is throttled
		}
		// The device's own budget is spent: until its throttle ends, it is a browser like any
		// other.
	}
	pwScope := s.passwordScope(username)
	release, _, err := s.reserve(ctx, tx, 0, 0, c, reservation{s.ipLimiter, ipScope, true}, reservation{s.limiter, pwScope, true})
	return release, pwScope, err
}

// rehash stores the password hashed with the current parameters. It is housekeeping: a failure
// is logged and the logon goes on (the old hash still verifies; the next logon tries again).
func (s *Service) rehash(ctx context.Context, accountID int64, password string) {
	h, err := s.passwords.Hash(ctx, password)
	if err == nil {
		err = s.st.UpdatePasswordHash(ctx, accountID, h, s.now())
	}
	if err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "rehash password on logon", slog.Int64("account_id", accountID), slog.String("err", err.Error()))
	}
}

type passwordCheck struct {
	acct       store.Account // zero ID when the username is unknown
	ok, rehash bool
}

// checkPassword verifies the password of username. An unknown username costs one hash too,
// so timing does not tell whether it exists.
func (s *Service) checkPassword(ctx context.Context, username, password string) (passwordCheck, error) {
	acct, err := s.st.GetAccountByUsername(ctx, username)
	switch {
	case errors.Is(err, store.ErrNotFound) || username == "":
		s.passwords.Equalize(ctx, password)
		return passwordCheck{}, nil
	case err != nil:
		return passwordCheck{}, fmt.Errorf("submit password: %w", err)
	}
	ok, rehash, err := s.passwords.Verify(ctx, acct.PasswordHash, password)
	if err != nil {
		return passwordCheck{}, fmt.Errorf("submit password: %w", err)
	}
	return passwordCheck{acct: acct, ok: ok, rehash: rehash}, nil
}

// reservation is one attempt to reserve before a check.
type reservation struct {
	limiter Limiter
	scope   attempts.Scope
	// inFlight: the check's outcome is reported (Limiter.Begin, then Fail, Succeed or
	// Withdraw), so parallel right answers never refuse each other. Off for a use counted
	// as it is made (a code request).
	inFlight bool
}

// settleFailed reports that the check the in-flight reservations rs guarded failed: they stay
// counted. A store error is logged: the failure is counted either way, and the reservation
// counts as settled once PendingAttemptTTL has passed.
func (s *Service) settleFailed(ctx context.Context, rs ...reservation) {
	for _, r := range rs {
		if err := r.limiter.Fail(context.WithoutCancel(ctx), r.scope); err != nil {
			s.log.Warn("settle attempt", "scope_kind", strings.SplitN(string(r.scope), ":", 2)[0], "err", err)
		}
	}
}

// reserve reserves an attempt in every scope, in order. When one is throttled it takes back the
// reservations already made and returns the throttle error; the audit log gets the first refusal
// of a throttle period, and the period's total once a reservation follows it. The
// returned release takes back all of them: for a check that failed for a reason that is not
// the citizen's (a database error). The counters after the reservations come back in order —
// on a refusal up to and including the refused scope's.
func (s *Service) reserve(ctx context.Context, tx *Transaction, accountID, keyID int64, c Client, rs ...reservation) (func(), []store.Attempt, error) {
	var done []reservation
	var counts []store.Attempt
	release := func() {
		for _, r := range done {
			if r.inFlight {
				_ = r.limiter.Withdraw(context.WithoutCancel(ctx), r.scope)
			} else {
				_ = r.limiter.Release(context.WithoutCancel(ctx), r.scope)
			}
		}
	}
	for _, r := range rs {
		reserve := r.limiter.Reserve
		if r.inFlight {
			reserve = r.limiter.Begin
		}
		a, err := reserve(ctx, r.scope)
		if err != nil {
			release()
			if errors.Is(err, attempts.ErrThrottled) && a.Refused == 1 {
				s.recordThrottle(ctx, store.AuditEvent{AccountID: accountID, KeyKind: tx.Kind, KeyID: keyID, IP: c.IP},
					a, audit.ReasonThrottleStarted)
			}
			return nil, append(counts, a), err
		}
		if a.Refused > 0 {
			// The refusals of the throttle period before this reservation, taken from the
			// counter by it: the period's summary. The request at hand has nothing to do with
			// them, so the event names only the scope.
			s.recordThrottle(ctx, store.AuditEvent{}, a, audit.ReasonThrottleEnded)
		}
		done, counts = append(done, r), append(counts, a)
	}
	return release, counts, nil
}

// recordThrottle records the logon.throttled event of a's throttle period (audit.Throttled), e
// carrying the request's account, key and address when there is one.
func (s *Service) recordThrottle(ctx context.Context, e store.AuditEvent, a store.Attempt, reason string) {
	s.record(ctx, audit.Throttled(e, a, reason))
}

// endedThrottlesBatch is how many ended throttle periods ReportEndedThrottles takes at once.
const endedThrottlesBatch = 500

// ReportEndedThrottles writes the summary event of every throttle period that is over and whose
// refusals no reservation has reported yet (the scope saw no request since). The serve sweeper
// calls it, so a period's total reaches the audit log even when nobody comes back.
func (s *Service) ReportEndedThrottles(ctx context.Context) (int, error) {
	n := 0
	for {
		as, err := s.st.TakeEndedRefusals(ctx, s.now(), endedThrottlesBatch)
		if err != nil {
			return n, fmt.Errorf("report ended throttles: %w", err)
		}
		for _, a := range as {
			s.recordThrottle(ctx, store.AuditEvent{}, a, audit.ReasonThrottleEnded)
		}
		n += len(as)
		if len(as) < endedThrottlesBatch {
			return n, nil
		}
	}
}

// activeKey finds the account's active key of kind, or the error the citizen sees — with the
// locked key when that is why. A citizen has one active key per kind (activating a kind
// replaces the active key of that kind), but should two ever be active — rows from before
// that rule, an import — the newest is the one used, so which key a code counts against never
// depends on the order rows come back in.
func (s *Service) activeKey(ctx context.Context, accountID int64, kind string, c Client) (store.Key, error) {
	ks, err := s.st.ListKeys(ctx, accountID)
	if err != nil {
		return store.Key{}, fmt.Errorf("list keys: %w", err)
	}
	active, locked := pickKey(ks, kind)
	if active.ID != 0 {
		return active, nil
	}
	reason, err := audit.ReasonKeyMissing, error(NoKeyError(kind))
	if locked.ID != 0 {
		reason, err = audit.ReasonKeyLocked, KeyLockedError(kind)
	}
	s.record(ctx, store.AuditEvent{Type: audit.LogonFailure, AccountID: accountID, KeyKind: kind, KeyID: locked.ID, Reason: reason, IP: c.IP})
	return locked, err
}

// pickKey finds among ks the active key of kind that a logon uses — the newest, should two
// be active — or else the newest locked one that stops it (zero Keys when there is neither).
// Diagnose asks it too.
func pickKey(ks []store.Key, kind string) (active, locked store.Key) {
	for _, k := range ks {
		if k.Kind != kind {
			continue
		}
		switch k.Status {
		case store.KeyActive:
			if active.ID == 0 || newer(k, active) {
				active = k
			}
		case store.KeyLocked:
			if locked.ID == 0 || newer(k, locked) {
				locked = k
			}
		}
	}
	if active.ID != 0 {
		return active, store.Key{}
	}
	return store.Key{}, locked
}

// newer reports whether a was activated after b (the larger id when at the same instant).
func newer(a, b store.Key) bool {
	if !a.ActivatedAt.Equal(b.ActivatedAt) {
		return a.ActivatedAt.After(b.ActivatedAt)
	}
	return a.ID > b.ID
}

// SubmitCode checks the answer to the key's challenge.
func (s *Service) SubmitCode(ctx context.Context, tx *Transaction, answer string, c Client) error {
	kind, key, acct, err := s.codeStep(ctx, tx, c)
	if err != nil {
		return err
	}
	if tx.Waiting() {
		return ErrNoCode
	}
	if ca, ok := kind.(keys.CodeAsker); ok {
		// The answer's shape is checked before anything is reserved: an empty answer, letters
		// or a wrong length are typing slips, not guesses, and count against no throttle.
		code, err := keys.NormalizeCode(answer, ca.CodeLength())
		if err != nil {
			return err
		}
		answer = code
	}
	factor, ipScope := attempts.FactorScope(key.ID), attempts.IPScope("code", c.IP)
	release, counts, err := s.reserve(ctx, tx, acct.ID, key.ID, c, reservation{s.ipLimiter, ipScope, true}, reservation{s.limiter, factor, true})
	if err != nil {
		if len(counts) == 2 && counts[1].Failures >= s.cfg.LockAfter {
			// The key's counter reached the lockout (the request that reached it may still be
			// on its way to locking the key): this answer, too, is told the key is locked.
			return s.lockKey(ctx, tx, acct.ID, key.ID, counts[1].Failures, c)
		}
		return err
	}
	verr := kind.Verify(ctx, s.st, acct, key, *tx.Challenge, answer)
	if verr == nil {
		if err := errors.Join(s.ipLimiter.Withdraw(ctx, ipScope), s.limiter.Succeed(ctx, factor)); err != nil {
			return fmt.Errorf("submit code: %w", err)
		}
		if err := s.st.TouchKey(ctx, key.ID, s.now()); err != nil {
			// The code is spent (used e-mail code, advanced TOTP step): failing the logon now
			// would cost the citizen a new code for a "last used" date.
			s.log.Warn("record key use", "key_id", key.ID, "err", err)
		}
		return s.done(tx, key.ID)
	}
	var le *i18n.LocalizedError
	if !errors.As(verr, &le) {
		release()
		return fmt.Errorf("verify %s: %w", tx.Kind, verr)
	}
	s.record(ctx, store.AuditEvent{Type: audit.LogonFailure, AccountID: acct.ID, KeyKind: tx.Kind, KeyID: key.ID,
		Reason: failureReason(verr), IP: c.IP})
	if errors.Is(verr, keys.ErrCodeExpired) || errors.Is(verr, keys.ErrCodeUsed) {
		// Nothing was compared (an expired or superseded code), or the answer was a right code
		// used before (a replayed TOTP step, which only someone who has the code can send):
		// not a guess, not counted.
		release()
		return verr
	}
	// The reservation already counted this failure.
	s.settleFailed(ctx, reservation{s.ipLimiter, ipScope, true}, reservation{s.limiter, factor, true})
	if a := counts[1]; a.Failures >= s.cfg.LockAfter {
		return s.lockKey(ctx, tx, acct.ID, key.ID, a.Failures, c)
	}
	return verr
}

// lockKey locks the key of tx after failures consecutive wrong codes (once: a lockout never
// overwrites another state), ends the code step and returns the key-locked message. tx keeps the
// key, so every later answer to it is told the same (codeStep).
func (s *Service) lockKey(ctx context.Context, tx *Transaction, accountID, keyID int64, failures int, c Client) error {
	locked, err := s.st.TransitionKey(ctx, keyID, store.KeyActive, store.KeyLocked, "lockout", s.now())
	if err != nil {
		return fmt.Errorf("lock key: %w", err)
	}
	if locked {
		s.record(ctx, store.AuditEvent{Type: audit.KeyLocked, AccountID: accountID, KeyKind: tx.Kind, KeyID: keyID, Actor: "system",
			Reason: "lockout", IP: c.IP, Detail: map[string]string{"failures": fmt.Sprint(failures)}})
	}
	tx.Step = StepChoose
	return KeyLockedError(tx.Kind)
}

func failureReason(err error) string {
	switch {
	case errors.Is(err, keys.ErrCodeExpired):
		return audit.ReasonCodeExpired
	case errors.Is(err, keys.ErrCodeTries):
		return audit.ReasonCodeTries
	case errors.Is(err, keys.ErrCodeUsed):
		return audit.ReasonCodeUsed
	}
	return audit.ReasonWrongCode
}

// Resend asks the kind for a new code. Every request counts against the client address (SPEC
// §8: per-IP limits on code requests); the kind's own limit (3 per 15 minutes) applies too.
func (s *Service) Resend(ctx context.Context, tx *Transaction, c Client) error {
	kind, key, acct, err := s.codeStep(ctx, tx, c)
	if err != nil {
		return err
	}
	r, ok := kind.(keys.Resender)
	if !ok {
		return ErrCannotResend
	}
	if _, _, err := s.reserve(ctx, tx, acct.ID, key.ID, c, reservation{s.ipLimiter, attempts.IPScope("code-request", c.IP), false}); err != nil {
		return err
	}
	ch, err := r.Resend(ctx, s.st, acct, key)
	if err != nil {
		var limit *keys.ResendLimitError
		if errors.As(err, &limit) && tx.Waiting() {
			tx.ResendAt = s.now().Add(limit.Wait)
		}
		var le *i18n.LocalizedError
		if errors.As(err, &le) {
			return err
		}
		return fmt.Errorf("resend %s code: %w", tx.Kind, err)
	}
	tx.Challenge, tx.ResendAt = &ch, time.Time{}
	return nil
}

// codeStep loads what the code step needs and checks the transaction is at it.
func (s *Service) codeStep(ctx context.Context, tx *Transaction, c Client) (keys.Challenger, store.Key, store.Account, error) {
	if s.Expired(tx) {
		return nil, store.Key{}, store.Account{}, ErrExpired
	}
	if tx.Step != StepCode || (tx.Challenge == nil && tx.ResendAt.IsZero()) {
		if s.keyLocked(ctx, tx) {
			// The code step ended because the key locked: an answer sent after that (a second
			// tab, a resubmitted form) is told so, not that the step is unavailable.
			return nil, store.Key{}, store.Account{}, KeyLockedError(tx.Kind)
		}
		return nil, store.Key{}, store.Account{}, ErrOutOfOrder
	}
	k, ok := s.kinds.Get(tx.Kind)
	ch, isChallenger := k.(keys.Challenger)
	if !ok || !isChallenger {
		return nil, store.Key{}, store.Account{}, ErrUnknownKind
	}
	if !s.offered(tx.Kind) {
		tx.Step = StepChoose
		return nil, store.Key{}, store.Account{}, NoKeyError(tx.Kind)
	}
	acct, err := s.st.GetAccount(ctx, tx.AccountID)
	if err != nil {
		return nil, store.Key{}, store.Account{}, fmt.Errorf("code step: %w", err)
	}
	key, err := s.st.GetKey(ctx, tx.KeyID)
	if err != nil {
		return nil, store.Key{}, store.Account{}, fmt.Errorf("code step: %w", err)
	}
	if key.AccountID != acct.ID || key.Status != store.KeyActive {
		tx.Step = StepChoose
		if key.Status == store.KeyLocked {
			return nil, store.Key{}, store.Account{}, KeyLockedError(tx.Kind)
		}
		return nil, store.Key{}, store.Account{}, NoKeyError(tx.Kind)
	}
	return ch, key, acct, nil
}

// keyLocked reports whether tx, back at the chooser, left the code step because its key is
// locked (tx still names the key and its account until another kind is chosen).
func (s *Service) keyLocked(ctx context.Context, tx *Transaction) bool {
	if tx.Step != StepChoose || tx.KeyID == 0 || tx.AccountID == 0 {
		return false
	}
	k, err := s.st.GetKey(ctx, tx.KeyID)
	return err == nil && k.AccountID == tx.AccountID && k.Kind == tx.Kind && k.Status == store.KeyLocked
}

// done marks tx done. Nothing is recorded yet: the logon takes effect, and is audited, when
// Complete runs in the transaction that gives the citizen the logged-on session.
func (s *Service) done(tx *Transaction, keyID int64) error {
	tx.Step, tx.KeyID, tx.Challenge, tx.DoneAt = StepDone, keyID, nil, s.now()
	return nil
}

// Complete records the done logon tx (logon.success) in st. Call it inside the transaction
// that makes the logon take effect — the web layer's session rotation, which fails unless it
// removed the pre-logon session — so that when parallel requests all answer one transaction
// right, only the one whose rotation commits is recorded. An error (the event could not be
// stored) must roll that transaction back: a logon is never completed without its record.
func (s *Service) Complete(ctx context.Context, st audit.Appender, tx *Transaction, c Client) error {
	res, ok := s.Result(tx)
	if !ok {
		return errors.New("complete logon: transaction is not done")
	}
	e := store.AuditEvent{Type: audit.LogonSuccess, AccountID: res.AccountID, KeyKind: res.Kind, KeyID: tx.KeyID,
		IP: c.IP, Detail: map[string]string{"level": res.Level.String()}}
	if err := s.audit.Record(ctx, st, e); err != nil {
		return fmt.Errorf("complete logon: %w", err)
	}
	return nil
}

// Result returns the completed logon; ok is false until the transaction is done.
func (s *Service) Result(tx *Transaction) (Result, bool) {
	if tx.Step != StepDone {
		return Result{}, false
	}
	k, ok := s.kinds.Get(tx.Kind)
	if !ok {
		return Result{}, false
	}
	return Result{AccountID: tx.AccountID, Kind: tx.Kind, KeyID: tx.KeyID, Migrate: tx.Migrate && tx.KeyID != 0,
		Level: k.Level(), AMR: k.AMR(), AuthTime: tx.DoneAt}, true
}

// record writes an audit event; a failure to audit is logged by the recorder and does not
// change what the citizen sees.
func (s *Service) record(ctx context.Context, e store.AuditEvent) {
	_ = s.audit.Record(ctx, s.st, e)
}
