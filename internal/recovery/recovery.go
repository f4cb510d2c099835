package recovery

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/password"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Audit event types of recovery.
const (
	// UsernameRequested: the forgotten-username page was used; AccountID is the account the
	// address belongs to (0: none, nothing was sent); Detail: address (masked), sent.
	UsernameRequested = "recovery.username_requested"
	// ResetRequested: the forgotten-password page was used; AccountID is the account named (0:
	// none, nothing was sent); Detail: by (username or email), sent (false also when the
	// account's links of the hour were used up).
	ResetRequested = "recovery.reset_requested"
	// ResetFailure: a reset link that does not work was followed (Reason link_invalid), or a
	// reset was refused later; AccountID when the link named an existing account.
	ResetFailure = "recovery.reset_failure"
)

// ReasonLinkInvalid is the Reason of a ResetFailure whose link was used, expired, superseded
// or never issued.
const ReasonLinkInvalid = "link_invalid"

// Config holds the rules of recovery.
type Config struct {
	// ResetValidity is how long a reset link works (SPEC §10: 30 minutes).
	ResetValidity time.Duration
	// PerAddress is how many requests of each recovery page (forgotten username, forgotten
	// password, recovery code) one client address may make per hour.
	PerAddress int
	// PerIdentifier is how many requests of the forgotten-username or forgotten-password page
	// may name one e-mail address or username per hour (each page its own count), and how
	// many reset links one account gets per hour. The recovery code page has no such count:
	// its code's wrong tries bound it (RecoveryTries).
	PerIdentifier int
	// MailboxKinds are the key kinds whose code comes to the citizen's mailbox: a reset link,
	// which proves the mailbox, never asks for them — they prove nothing more.
	MailboxKinds []string
}

// DefaultConfig returns the defaults: 30 minutes, 10 requests per client address and 3 per
// address or username an hour, the e-mailed code a mailbox kind.
func DefaultConfig() Config {
	return Config{ResetValidity: 30 * time.Minute, PerAddress: 10, PerIdentifier: 3, MailboxKinds: []string{keys.EmailCode}}
}

// Validate reports every invalid value.
func (c Config) Validate() error {
	var errs []error
	if c.ResetValidity < time.Minute {
		errs = append(errs, fmt.Errorf("reset link validity %s: must be at least 1m", c.ResetValidity))
	}
	if c.PerAddress < 1 || c.PerIdentifier < 1 {
		errs = append(errs, fmt.Errorf("recovery requests per address %d and per identifier %d: must be at least 1",
			c.PerAddress, c.PerIdentifier))
	}
	return errors.Join(errs...)
}

// Window is the window of the per-hour limits.
const Window = time.Hour

// Store is what recovery reads outside its transactions.
type Store interface {
	GetAccount(ctx context.Context, id int64) (store.Account, error)
	GetAccountByUsername(ctx context.Context, username string) (store.Account, error)
	GetAccountByEmail(ctx context.Context, email string) (store.Account, error)
	ListKeys(ctx context.Context, accountID int64) ([]store.Key, error)
	LatestCode(ctx context.Context, accountID int64, purpose store.CodePurpose) (store.Code, error)
	// AddCodeAttempt counts a try of a recovery code (a single statement: it stays counted).
	AddCodeAttempt(ctx context.Context, id int64) (int, error)
	// HasRole: a recovery code never opens an account that holds a role (the helpdesk may not
	// act on those).
	HasRole(ctx context.Context, accountID int64, role string) (bool, error)
	audit.Appender
	store.Transactor
}

// requestStore is what sending a reset link takes, inside one transaction.
type requestStore interface {
	LockAccount(ctx context.Context, id int64) error
	CodeTimesSince(ctx context.Context, accountID int64, purpose store.CodePurpose, since time.Time) ([]time.Time, error)
	CreateCode(ctx context.Context, c *store.Code) error
	mail.Outbox
	audit.Appender
}

// resetStore is what setting the new password takes, inside one transaction.
type resetStore interface {
	LockAccount(ctx context.Context, id int64) error
	LatestCode(ctx context.Context, accountID int64, purpose store.CodePurpose) (store.Code, error)
	UseCode(ctx context.Context, id int64, at time.Time) (bool, error)
	UpdatePasswordHash(ctx context.Context, id int64, hash string, now time.Time) error
	DeleteAccountSessions(ctx context.Context, accountID int64) (int64, error)
	ResetAttempts(ctx context.Context, scope string) error
	mail.Outbox
	audit.Appender
}

var (
	_ Store        = store.Store(nil)
	_ requestStore = store.Store(nil)
	_ resetStore   = store.Store(nil)
)

// Passwords hashes new passwords (*password.Hasher).
type Passwords interface {
	Hash(ctx context.Context, plain string) (string, error)
}

// Mailer renders a template into the outbox it is given (*mail.Composer).
type Mailer interface {
	Enqueue(ctx context.Context, ob mail.Outbox, to mail.Recipient, template string, data map[string]any) error
}

// Auditor records audit events (*audit.Recorder).
type Auditor interface {
	Record(ctx context.Context, st audit.Appender, e store.AuditEvent) error
}

// Quota bounds what one scope may ask for in a window (*attempts.Quota).
type Quota interface {
	Take(ctx context.Context, scope attempts.Scope) error
}

// Factors proves a key of the citizen's through the logon's own code step (*login.Service).
type Factors interface {
	BeginFactor(ctx context.Context, accountID int64, kind string, c login.Client) (*login.Transaction, error)
	SubmitCode(ctx context.Context, tx *login.Transaction, answer string, c login.Client) error
	// PasswordScope names the throttle of wrong passwords typed with a username: a reset
	// clears it, so the new password logs on at once.
	PasswordScope(username string) attempts.Scope
}

// Deps are the parts a Service works with.
type Deps struct {
	Store     Store
	Passwords Passwords
	// Hasher makes the keyed hashes of the link secrets and of the typed identifiers.
	Hasher *secrets.Hasher
	Mailer Mailer
	Audit  Auditor
	// Factors runs the second factor of a reset (the logon service); Kinds tells which kinds
	// ask a code and what level they reach.
	Factors Factors
	Kinds   *keys.Registry
	// AddressQuota counts the requests of one client address, IdentifierQuota those naming
	// one e-mail address or username; both over Window.
	AddressQuota, IdentifierQuota Quota
	Now                           func() time.Time
	// Rand draws the link secrets (crypto/rand.Reader in production).
	Rand io.Reader
	// RecoveryCodes reads and hashes the helpdesk's recovery codes; nil: RedeemCode refuses
	// every code.
	RecoveryCodes RecoveryCodes
	// Log receives what goes wrong without changing the outcome (nil: discarded).
	Log *slog.Logger
}

// Service runs recoveries. It is safe for concurrent use.
type Service struct {
	cfg     Config
	d       Deps
	mailbox map[string]bool
	log     *slog.Logger
}

// New returns a Service.
func New(cfg Config, d Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("recovery: %w", err)
	}
	if d.Store == nil || d.Passwords == nil || d.Hasher == nil || d.Mailer == nil || d.Audit == nil || d.Factors == nil || d.Kinds == nil ||
		d.AddressQuota == nil || d.IdentifierQuota == nil || d.Now == nil || d.Rand == nil {
		return nil, errors.New("recovery: every dependency but Log must be set")
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mailbox := make(map[string]bool)
	for _, k := range cfg.MailboxKinds {
		mailbox[k] = true
	}
	return &Service{cfg: cfg, d: d, mailbox: mailbox, log: log}, nil
}

// Config returns the rules in effect.
func (s *Service) Config() Config { return s.cfg }

// ResetMinutes is a link's validity in whole minutes (rounded up), as pages and e-mails say it.
func (s *Service) ResetMinutes() int {
	return int((s.cfg.ResetValidity + time.Minute - 1) / time.Minute)
}

// Client describes who makes a request, for the limits and the audit log.
type Client struct {
	IP        string
	UserAgent string
}

func (c Client) login() login.Client { return login.Client{IP: c.IP, UserAgent: c.UserAgent} }

// Form fields an InvalidError may name (the ids of the pages' controls).
const (
	FieldEmail      = "email"
	FieldIdentifier = "identifier"
	FieldPassword   = "password"
	FieldConfirm    = "confirm"
	FieldUsername   = "username"
	FieldCode       = "code"
)

// Errors a citizen may see besides the form's (*InvalidError), the limits'
// (*attempts.ThrottledError) and the code step's (the logon's own).
var (
	// ErrLinkInvalid: the link was used, expired, superseded by a newer one, or never issued.
	ErrLinkInvalid = i18n.NewError("recovery.error.link_invalid")
	// ErrExpired: the reset took longer than its link's validity; ask for a new link.
	ErrExpired = i18n.NewError("recovery.error.expired")
	// ErrOutOfOrder: a step the reset is not at (a second tab, the Back button).
	ErrOutOfOrder = i18n.NewError("recovery.error.out_of_order")
	// ErrIdentifierEmpty: nothing typed on the forgotten-password page.
	ErrIdentifierEmpty = i18n.NewError("recovery.error.identifier_empty")
	// ErrConfirm: the two new passwords differ.
	ErrConfirm = i18n.NewError("recovery.error.confirm")
)

// FieldError is one problem of a form.
type FieldError struct {
	Field string
	Err   *i18n.LocalizedError
}

// InvalidError lists the problems of a form. Nothing was written and nothing counted.
type InvalidError struct {
	Fields []FieldError
}

func (e *InvalidError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Err.Key
	}
	return "invalid recovery form: " + strings.Join(parts, ", ")
}

func invalid(fields ...FieldError) error { return &InvalidError{Fields: fields} }

func localized(err error) *i18n.LocalizedError {
	var le *i18n.LocalizedError
	if errors.As(err, &le) {
		return le
	}
	return i18n.NewError("error.generic")
}

// maxIdentifierBytes bounds a typed username or address (usernames have at most 64 characters,
// addresses mail.MaxAddressLength bytes).
const maxIdentifierBytes = 256

// The recovery pages, each counted apart (per client address and per identifier): a stranger
// who fills the forgotten-password limit of a citizen's username must not close the other
// pages to the citizen — least of all the redemption of the helpdesk's recovery code.
const (
	pageUsername = "username"
	pagePassword = "password"
	// pageRedeem has only a per-address count: guessing one citizen's recovery code is bounded
	// by the code's own count of wrong tries (RecoveryTries), which no mail request touches.
	pageRedeem = "redeem"
)

// addressScope is the AddressQuota's counter of one page and client address.
func addressScope(page string, c Client) attempts.Scope {
	return attempts.IPScope("recover-"+page, c.IP)
}

// identifierScope is the IdentifierQuota's counter of a typed address or username on one page:
// a keyed hash of it, case-folded, so the stored scope cannot be reversed by hashing guesses.
func (s *Service) identifierScope(page, id string) attempts.Scope {
	return attempts.RecoveryScope(page, hex.EncodeToString(s.d.Hasher.Sum("recovery.identifier", strings.ToLower(id))[:16]))
}

// take counts a request of page against the client address and the identifier.
func (s *Service) take(ctx context.Context, page, id string, c Client) error {
	if err := s.d.AddressQuota.Take(ctx, addressScope(page, c)); err != nil {
		return err
	}
	return s.d.IdentifierQuota.Take(ctx, s.identifierScope(page, id))
}

// ForgotUsername e-mails the username of the account that has the address email, if any. The
// answer is the same whether or not one does. Errors: *InvalidError (not an address; nothing
// counted), *attempts.ThrottledError (the client address, or this address, asked too often).
func (s *Service) ForgotUsername(ctx context.Context, email string, c Client) error {
	email = strings.TrimSpace(email)
	if err := mail.ValidateAddress(email); err != nil {
		return invalid(FieldError{FieldEmail, localized(err)})
	}
	if err := s.take(ctx, pageUsername, store.EmailKey(email), c); err != nil {
		return err
	}
	acct, err := s.d.Store.GetAccountByEmail(ctx, email)
	known := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("forgotten username: %w", err)
	}
	err = store.InTx(ctx, s.d.Store, func(tx requestStore) error {
		// An unknown address runs the same statements, in a transaction rolled back (errDecoy).
		to := mail.Recipient{Address: email, Language: "en"}
		username := strings.Repeat("x", 16)
		if known {
			to, username = recipientOf(acct), acct.Username
		}
		if err := s.d.Mailer.Enqueue(ctx, tx, to, mail.TemplateForgotUsername, map[string]any{"Username": username}); err != nil {
			return fmt.Errorf("e-mail: %w", err)
		}
		if !known {
			return errDecoy
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDecoy) {
		return fmt.Errorf("forgotten username: %w", err)
	}
	s.record(ctx, store.AuditEvent{Type: UsernameRequested, AccountID: acct.ID, IP: c.IP,
		Actor: audit.ActorCitizen, Detail: map[string]string{"address": mail.MaskAddress(email), "sent": strconv.FormatBool(known)}})
	return nil
}

// errDecoy rolls back the work done for an account that does not exist: the forgotten-username
// and forgotten-password pages run the same statements for a known and an unknown account
// (no account oracle in their time), the unknown one's in a transaction that keeps nothing.
// Their audit event is therefore written after that transaction, on its own, in both cases.
var errDecoy = errors.New("recovery: decoy, rolled back")

// ForgotPassword e-mails a reset link to the account that identifier names — its username, or
// (with an @) its e-mail address — if any, unless that account got its PerIdentifier links this
// hour. The answer is the same in every case. Errors: *InvalidError (nothing typed, or an
// address that is not one; nothing counted), *attempts.ThrottledError.
func (s *Service) ForgotPassword(ctx context.Context, identifier string, c Client) error {
	identifier = strings.TrimSpace(identifier)
	byEmail := strings.Contains(identifier, "@")
	switch {
	case identifier == "":
		return invalid(FieldError{FieldIdentifier, ErrIdentifierEmpty})
	case byEmail:
		if err := mail.ValidateAddress(identifier); err != nil {
			return invalid(FieldError{FieldIdentifier, localized(err)})
		}
	}
	if len(identifier) > maxIdentifierBytes || strings.ContainsFunc(identifier, unicode.IsControl) {
		identifier = "" // no username is like that: unknown (PostgreSQL even refuses NUL)
	}
	scopeOf := identifier
	if byEmail {
		scopeOf = store.EmailKey(identifier)
	}
	if err := s.take(ctx, pagePassword, scopeOf, c); err != nil {
		return err
	}
	var acct store.Account
	var err error
	switch {
	case identifier == "":
		err = store.ErrNotFound
	case byEmail:
		acct, err = s.d.Store.GetAccountByEmail(ctx, identifier)
	default:
		acct, err = s.d.Store.GetAccountByUsername(ctx, identifier)
	}
	known := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("forgotten password: %w", err)
	}
	by := "username"
	if byEmail {
		by = "email"
	}
	secret, err := secrets.Generate(s.d.Rand, 32)
	if err != nil {
		return fmt.Errorf("forgotten password: %w", err)
	}
	now := s.d.Now()
	sent := false
	err = store.InTx(ctx, s.d.Store, func(tx requestStore) error {
		if !known {
			// The same statements as a link sent, for no account, in a transaction rolled back.
			acct := store.Account{Email: "nobody@example.org", Language: "en"}
			if _, err := s.sendLink(ctx, tx, acct, secret, now); err != nil && !errors.Is(err, errDecoy) {
				return err
			}
			return errDecoy
		}
		var err error
		sent, err = s.sendLink(ctx, tx, acct, secret, now)
		return err
	})
	if err != nil && !errors.Is(err, errDecoy) {
		return fmt.Errorf("forgotten password: %w", err)
	}
	s.record(ctx, store.AuditEvent{Type: ResetRequested, AccountID: acct.ID, IP: c.IP,
		Actor: audit.ActorCitizen, Detail: map[string]string{"by": by, "sent": strconv.FormatBool(sent)}})
	return nil
}

// sendLink stores the link's hash and e-mails it, unless the account had its links of the
// hour; it reports whether it sent one. For no account (acct.ID 0, the decoy of an unknown
// one) and for an account over its links of the hour it runs the same statements and returns
// errDecoy (for no account also when they fail for want of it: nothing to lock, no account for
// the code): the caller rolls the transaction back.
func (s *Service) sendLink(ctx context.Context, tx requestStore, acct store.Account, secret []byte, now time.Time) (bool, error) {
	decoy := acct.ID == 0
	// Without the lock, simultaneous requests on several nodes could all count below the limit.
	if err := tx.LockAccount(ctx, acct.ID); err != nil && !(decoy && errors.Is(err, store.ErrNotFound)) {
		return false, err
	}
	times, err := tx.CodeTimesSince(ctx, acct.ID, store.CodeReset, now.Add(-Window))
	if err != nil {
		return false, err
	}
	// An account that had its links of the hour runs the same statements as one sent, and the
	// caller rolls them back (errDecoy): a known username and a known address are then not told
	// apart from unknown ones by the work done.
	limited := len(times) >= s.cfg.PerIdentifier
	// The e-mail first, the code last: for the decoy the code's insert fails (no account), and
	// a failed statement ends what a PostgreSQL transaction may still do.
	if err := s.d.Mailer.Enqueue(ctx, tx, recipientOf(acct), mail.TemplatePasswordReset,
		s.linkData(token(acct.ID, secret), now)); err != nil {
		return false, fmt.Errorf("e-mail: %w", err)
	}
	code := store.Code{AccountID: acct.ID, Purpose: store.CodeReset, Hash: s.linkHash(acct.ID, secret), Target: acct.Email,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.ResetValidity)}
	if err := tx.CreateCode(ctx, &code); err != nil {
		if decoy {
			return false, errDecoy
		}
		return false, err
	}
	if decoy || limited {
		return false, errDecoy
	}
	return true, nil
}

// linkData is the reset e-mail's data.
func (s *Service) linkData(tok string, now time.Time) map[string]any {
	return map[string]any{"Token": tok, "Minutes": s.ResetMinutes(), "ExpiresAt": now.Add(s.cfg.ResetValidity)}
}

// linkHash is the stored form of a link's secret, bound to its account.
func (s *Service) linkHash(accountID int64, secret []byte) []byte {
	return s.d.Hasher.Sum("recovery.reset", strconv.FormatInt(accountID, 10), string(secret))
}

// token is a link's parameter: the account and the secret.
func token(accountID int64, secret []byte) string {
	return strconv.FormatInt(accountID, 10) + "." + base64.RawURLEncoding.EncodeToString(secret)
}

// parseToken reads a link's parameter; ok is false for anything not made by token.
func parseToken(t string) (accountID int64, secret []byte, ok bool) {
	id, enc, found := strings.Cut(t, ".")
	if !found || len(t) > 128 {
		return 0, nil, false
	}
	accountID, err := strconv.ParseInt(id, 10, 64)
	if err != nil || accountID <= 0 {
		return 0, nil, false
	}
	secret, err = base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(secret) != 32 {
		return 0, nil, false
	}
	return accountID, secret, true
}

func recipientOf(a store.Account) mail.Recipient {
	return mail.Recipient{AccountID: a.ID, Name: a.Name, Address: a.Email, Language: a.Language}
}

// Reset is one password reset in progress, kept in the browser's session (as JSON) between the
// link and the new password. It holds no secret: the link's secret stays in the store, hashed,
// until SetPassword uses it up.
type Reset struct {
	AccountID int64 `json:"account_id"`
	// CodeID is the link's code (store.CodeReset), or the helpdesk's recovery code's
	// (store.CodeRecovery, Purpose says which).
	CodeID    int64             `json:"code_id"`
	Purpose   store.CodePurpose `json:"purpose,omitempty"`
	ExpiresAt time.Time         `json:"expires_at"`
	// Factors are the kinds of the citizen's active keys the mailbox does not prove; when there
	// are any, one of them must be proven (Proven) before a new password is set.
	Factors []string `json:"factors,omitempty"`
	// Logon is the code step of the factor being proven.
	Logon *login.Transaction `json:"logon,omitempty"`
	// Proven is the kind whose key was proven.
	Proven string `json:"proven,omitempty"`
}

// purpose is the kind of code the reset uses up.
func (r *Reset) purpose() store.CodePurpose {
	if r.Purpose == "" {
		return store.CodeReset
	}
	return r.Purpose
}

// NeedsFactor reports whether a key must be proven before the new password.
func (r *Reset) NeedsFactor() bool { return len(r.Factors) > 0 && r.Proven == "" }

// Expired reports whether the reset outlived its link.
func (r *Reset) Expired(now time.Time) bool { return !now.Before(r.ExpiresAt) }

// OpenReset checks the link parameter t and returns the reset it starts. Nothing is used up:
// a mail scanner that follows the link changes nothing. Errors: ErrLinkInvalid.
func (s *Service) OpenReset(ctx context.Context, t string, c Client) (*Reset, error) {
	accountID, secret, ok := parseToken(t)
	if !ok {
		s.record(ctx, store.AuditEvent{Type: ResetFailure, Reason: ReasonLinkInvalid, IP: c.IP})
		return nil, ErrLinkInvalid
	}
	now := s.d.Now()
	code, err := s.d.Store.LatestCode(ctx, accountID, store.CodeReset)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.record(ctx, store.AuditEvent{Type: ResetFailure, Reason: ReasonLinkInvalid, IP: c.IP})
		return nil, ErrLinkInvalid
	case err != nil:
		return nil, fmt.Errorf("open reset: %w", err)
	}
	if !s.d.Hasher.Equal(s.linkHash(accountID, secret), code.Hash) || !code.UsedAt.IsZero() || !now.Before(code.ExpiresAt) {
		s.record(ctx, store.AuditEvent{Type: ResetFailure, AccountID: accountID, Reason: ReasonLinkInvalid, IP: c.IP})
		return nil, ErrLinkInvalid
	}
	factors, err := s.factors(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("open reset: %w", err)
	}
	return &Reset{AccountID: accountID, CodeID: code.ID, ExpiresAt: code.ExpiresAt, Factors: factors}, nil
}

// factors lists the kinds of the account's active or locked keys that reach level
// substantial, ask a code (keys.Challenger), and do not come by e-mail: the keys a mailbox alone
// does not prove. A locked key still counts: otherwise whoever holds only the mailbox would
// lock the citizen's card and app with wrong codes on the reset page and then reset without
// them. A citizen whose every such key is locked is told so at the code step and goes to the
// helpdesk (which can unlock a key or issue a recovery code).
func (s *Service) factors(ctx context.Context, accountID int64) ([]string, error) {
	ks, err := s.d.Store.ListKeys(ctx, accountID)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range ks {
		held := k.Status == store.KeyActive || k.Status == store.KeyLocked
		if !held || s.mailbox[k.Kind] || slices.Contains(out, k.Kind) {
			continue
		}
		kind, ok := s.d.Kinds.Get(k.Kind)
		if !ok || kind.Level() < keys.LevelSubstantial {
			continue
		}
		if _, ok := kind.(keys.Challenger); ok {
			out = append(out, k.Kind)
		}
	}
	return out, nil
}

// ChooseFactor starts the code step of kind, one of r.Factors: the logon's own (a token card's
// position, an app's code). Errors: the logon's (a locked key, …), ErrExpired, ErrOutOfOrder.
func (s *Service) ChooseFactor(ctx context.Context, r *Reset, kind string, c Client) error {
	switch {
	case r == nil || !r.NeedsFactor() || !slices.Contains(r.Factors, kind):
		return ErrOutOfOrder
	case r.Expired(s.d.Now()):
		return ErrExpired
	}
	tx, err := s.d.Factors.BeginFactor(ctx, r.AccountID, kind, c.login())
	if err != nil {
		r.Logon = nil
		return err
	}
	r.Logon = tx
	return nil
}

// SubmitFactor checks answer with the logon's code step (its format rules, throttles and
// lockout); the right one proves the key. Errors: the logon's, ErrExpired, ErrOutOfOrder.
func (s *Service) SubmitFactor(ctx context.Context, r *Reset, answer string, c Client) error {
	switch {
	case r == nil || !r.NeedsFactor() || r.Logon == nil:
		return ErrOutOfOrder
	case r.Expired(s.d.Now()):
		return ErrExpired
	}
	if err := s.d.Factors.SubmitCode(ctx, r.Logon, answer, c.login()); err != nil {
		return err
	}
	if r.Logon.Step != login.StepDone || r.Logon.AccountID != r.AccountID {
		return ErrOutOfOrder
	}
	r.Proven, r.Logon = r.Logon.Kind, nil
	return nil
}

// SetPassword sets the new password of the reset r: checked by the one password policy, then
// in one transaction the link is used up, the hash replaced, every session of the citizen
// ended, the citizen e-mailed (password_changed) and the change audited. Errors (nothing
// written): *InvalidError, ErrLinkInvalid (used meanwhile, or a newer link was sent),
// ErrExpired, ErrOutOfOrder (a key must be proven first — also when one was activated since
// the link was opened).
func (s *Service) SetPassword(ctx context.Context, r *Reset, plain, confirm string, c Client) error {
	now := s.d.Now()
	switch {
	case r == nil || r.NeedsFactor():
		return ErrOutOfOrder
	case r.Expired(now):
		return ErrExpired
	}
	acct, err := s.d.Store.GetAccount(ctx, r.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrLinkInvalid
	} else if err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	var fields []FieldError
	if err := password.ValidateNew(plain, acct.Username, acct.Email); err != nil {
		fields = append(fields, FieldError{FieldPassword, localized(err)})
	}
	if confirm != plain {
		fields = append(fields, FieldError{FieldConfirm, ErrConfirm})
	}
	if len(fields) > 0 {
		return invalid(fields...)
	}
	if r.Proven == "" {
		// A key activated since the link was opened must be asked for too.
		factors, err := s.factors(ctx, r.AccountID)
		if err != nil {
			return fmt.Errorf("reset password: %w", err)
		}
		if len(factors) > 0 {
			r.Factors = factors
			return ErrOutOfOrder
		}
	}
	hash, err := s.d.Passwords.Hash(ctx, plain)
	if err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	err = store.InTx(ctx, s.d.Store, func(tx resetStore) error {
		if err := tx.LockAccount(ctx, r.AccountID); err != nil {
			return err
		}
		code, err := tx.LatestCode(ctx, r.AccountID, r.purpose())
		if errors.Is(err, store.ErrNotFound) || (err == nil && code.ID != r.CodeID) {
			return ErrLinkInvalid
		} else if err != nil {
			return err
		}
		if !now.Before(code.ExpiresAt) {
			return ErrExpired
		}
		if used, err := tx.UseCode(ctx, code.ID, now); err != nil {
			return err
		} else if !used {
			return ErrLinkInvalid
		}
		if err := tx.UpdatePasswordHash(ctx, r.AccountID, hash, now); err != nil {
			return err
		}
		ended, err := tx.DeleteAccountSessions(ctx, r.AccountID)
		if err != nil {
			return err
		}
		// Wrong passwords typed before (by the citizen, or a guesser) no longer matter: the
		// new one logs on at once, and a guesser starts counting again.
		if err := tx.ResetAttempts(ctx, string(s.d.Factors.PasswordScope(acct.Username))); err != nil {
			return err
		}
		if err := s.d.Mailer.Enqueue(ctx, tx, recipientOf(acct), mail.TemplatePasswordChanged, map[string]any{}); err != nil {
			return fmt.Errorf("e-mail: %w", err)
		}
		via := "reset"
		if r.purpose() == store.CodeRecovery {
			via = "recovery_code"
		}
		detail := map[string]string{"via": via, "sessions_ended": strconv.FormatInt(ended, 10)}
		kind := ""
		if r.Proven != "" && r.Proven != ProvenRecoveryCode {
			detail["factor"], kind = r.Proven, r.Proven
		}
		return s.d.Audit.Record(ctx, tx, store.AuditEvent{Type: audit.PasswordChanged, AccountID: r.AccountID,
			KeyKind: kind, IP: c.IP, Actor: audit.ActorCitizen, Detail: detail})
	})
	var le *i18n.LocalizedError
	switch {
	case errors.As(err, &le):
		s.record(ctx, store.AuditEvent{Type: ResetFailure, AccountID: r.AccountID, Reason: ReasonLinkInvalid, IP: c.IP})
		return err
	case err != nil:
		return fmt.Errorf("reset password: %w", err)
	}
	return nil
}

// record writes an audit event on its own (a refusal: nothing else changes); a failure is
// logged by the recorder and changes no answer.
func (s *Service) record(ctx context.Context, e store.AuditEvent) {
	if err := s.d.Audit.Record(ctx, s.d.Store, e); err != nil {
		s.log.Warn("record audit event", "type", e.Type, "err", err)
	}
}
