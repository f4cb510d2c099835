package signup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/keys/emailcode"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Day is the window of Config.PerEmail.
const Day = 24 * time.Hour

// Config holds the rules of self-registration.
type Config struct {
	// Lifetime is how long a registration may take, from its first e-mail to the account
	// (default 30 minutes).
	Lifetime time.Duration
	// PerEmail is how many registration e-mails (codes and notices) one e-mail address gets
	// per Day (default 5).
	PerEmail int
	// Codes are the rules of the e-mailed codes, the same as for every other e-mailed code:
	// validity, tries per code, and codes per window to one address.
	Codes emailcode.Config
}

// DefaultConfig returns the defaults: 30 minutes, 5 e-mails a day, the e-mailed code defaults.
func DefaultConfig() Config {
	return Config{Lifetime: 30 * time.Minute, PerEmail: 5, Codes: emailcode.DefaultConfig()}
}

// Validate reports every invalid value.
func (c Config) Validate() error {
	var errs []error
	if c.Lifetime < time.Minute {
		errs = append(errs, fmt.Errorf("registration lifetime %s: must be at least 1m", c.Lifetime))
	}
	if c.PerEmail < 1 {
		errs = append(errs, fmt.Errorf("registration e-mails per address %d: must be at least 1", c.PerEmail))
	}
	if c.Codes.Validity <= 0 || c.Codes.TriesPerCode < 1 || c.Codes.MaxCodes < 1 || c.Codes.Window <= 0 {
		errs = append(errs, fmt.Errorf("code rules %+v: every value must be positive", c.Codes))
	}
	return errors.Join(errs...)
}

// Store is the storage a registration uses outside its transactions.
type Store interface {
	GetSignup(ctx context.Context, id int64) (store.Signup, error)
	AddSignupAttempt(ctx context.Context, id int64) (int, error)
	VerifySignup(ctx context.Context, id int64, at time.Time) (bool, error)
	SetSignupUsername(ctx context.Context, id int64, username string) error
	FinishSignup(ctx context.Context, id int64, at time.Time) (bool, error)
	audit.Appender
	store.Transactor
}

// sendStore is what sending a registration e-mail takes, inside one transaction.
type sendStore interface {
	LockSignupAddress(ctx context.Context, email string) error
	SignupTimesSince(ctx context.Context, email string, since time.Time) ([]time.Time, error)
	GetSignup(ctx context.Context, id int64) (store.Signup, error)
	CreateSignup(ctx context.Context, s *store.Signup) error
	FinishSignup(ctx context.Context, id int64, at time.Time) (bool, error)
	GetAccountByEmail(ctx context.Context, email string) (store.Account, error)
	mail.Outbox
	audit.Appender
}

// createStore is what creating the account takes, inside the caller's transaction.
type createStore interface {
	LockSignupAddress(ctx context.Context, email string) error
	GetSignup(ctx context.Context, id int64) (store.Signup, error)
	FinishSignup(ctx context.Context, id int64, at time.Time) (bool, error)
	GetAccountByEmail(ctx context.Context, email string) (store.Account, error)
	CreateAccount(ctx context.Context, a *store.Account) error
	mail.Outbox
	audit.Appender
}

var (
	_ Store       = store.Store(nil)
	_ sendStore   = store.Store(nil)
	_ createStore = store.Store(nil)
)

// Passwords hashes the chosen password and checks a new username against it
// (*password.Hasher).
type Passwords interface {
	Hash(ctx context.Context, plain string) (string, error)
	Verify(ctx context.Context, encoded, plain string) (ok, needsRehash bool, err error)
}

// Mailer renders a template into the outbox it is given (*mail.Composer).
type Mailer interface {
	Enqueue(ctx context.Context, ob mail.Outbox, to mail.Recipient, template string, data map[string]any) error
}

// Auditor records audit events (*audit.Recorder).
type Auditor interface {
	Record(ctx context.Context, st audit.Appender, e store.AuditEvent) error
}

// Quota bounds what one client address may ask for (*attempts.Quota): Take returns an
// *attempts.ThrottledError when its share is spent.
type Quota interface {
	Take(ctx context.Context, scope attempts.Scope) error
}

// Limiter counts wrong codes per client address (*attempts.Limiter).
type Limiter interface {
	Reserve(ctx context.Context, scope attempts.Scope) (store.Attempt, error)
	Release(ctx context.Context, scope attempts.Scope) error
}

// Deps are the parts a Service works with.
type Deps struct {
	Store     Store
	Passwords Passwords
	// Hasher makes the keyed hashes of the codes.
	Hasher *secrets.Hasher
	Mailer Mailer
	Audit  Auditor
	// Quota counts the registration e-mails one client address asks for (registrations
	// started and codes resent); IPLimiter the wrong codes from it.
	Quota     Quota
	IPLimiter Limiter
	Now       func() time.Time
	// Rand draws the codes (crypto/rand.Reader in production).
	Rand io.Reader
	// Log receives what goes wrong without changing the outcome (nil: discarded).
	Log *slog.Logger
}

// Service runs self-registrations. It is safe for concurrent use.
type Service struct {
	cfg       Config
	st        Store
	passwords Passwords
	hasher    *secrets.Hasher
	mailer    Mailer
	audit     Auditor
	quota     Quota
	ipLimiter Limiter
	now       func() time.Time
	rand      io.Reader
	log       *slog.Logger
}

// New returns a Service.
func New(cfg Config, d Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("signup: %w", err)
	}
	if d.Store == nil || d.Passwords == nil || d.Hasher == nil || d.Mailer == nil || d.Audit == nil || d.Quota == nil ||
		d.IPLimiter == nil || d.Now == nil || d.Rand == nil {
		return nil, errors.New("signup: every dependency but Log must be set")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, st: d.Store, passwords: d.Passwords, hasher: d.Hasher, mailer: d.Mailer, audit: d.Audit,
		quota: d.Quota, ipLimiter: d.IPLimiter, now: d.Now, rand: d.Rand, log: d.Log}, nil
}

// Config returns the rules in effect.
func (s *Service) Config() Config { return s.cfg }

// CodeMinutes is a code's validity in whole minutes (rounded up), as pages say it.
func (s *Service) CodeMinutes() int {
	return int((s.cfg.Codes.Validity + time.Minute - 1) / time.Minute)
}

// Client describes who makes a request, for the limits and the audit log.
type Client struct {
	IP string
}

// Errors a citizen may see besides the form's (InvalidError), the code's (keys.ErrWrongCode,
// ErrCodeExpired, ErrCodeTries, the format errors) and the limits' (*attempts.ThrottledError,
// *keys.ResendLimitError, *LimitError).
var (
	// ErrExpired: the registration took too long (or was stopped); start again.
	ErrExpired = i18n.NewError("signup.error.expired")
	// ErrOutOfOrder: a step the registration is not at (a second tab, the Back button).
	ErrOutOfOrder = i18n.NewError("signup.error.out_of_order")
	// ErrUsernameTaken: the username cannot be used (another account has it). Only said once
	// the code proved the address.
	ErrUsernameTaken = i18n.NewError("signup.error.username_taken")
	// ErrAddressInUse: an account got the address while this registration waited (it is said
	// only after the code proved the address).
	ErrAddressInUse = i18n.NewError("signup.error.address_in_use")
	// ErrTooManyUsernames: too many usernames tried after the code; the registration ended.
	ErrTooManyUsernames = i18n.NewError("signup.error.too_many_usernames")
	// ErrDone: the registration was completed already (a second submission).
	ErrDone = i18n.NewError("signup.error.done")
)

// LimitError says an e-mail address got its Config.PerEmail registration e-mails of the last
// Day, and how long until it may get another. It unwraps to the message the citizen sees.
type LimitError struct {
	Wait time.Duration
	msg  *i18n.LocalizedError
}

func newLimitError(wait time.Duration) *LimitError {
	minutes := int((wait.Truncate(time.Second) + time.Minute - 1) / time.Minute)
	var msg *i18n.LocalizedError
	switch {
	case minutes <= 1:
		msg = i18n.NewError("signup.error.address_limit_minute")
	case minutes < 120:
		msg = i18n.NewError("signup.error.address_limit", minutes)
	default:
		msg = i18n.NewError("signup.error.address_limit_hours", (minutes+59)/60)
	}
	return &LimitError{Wait: wait, msg: msg}
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("registration e-mails to this address: limit reached for %s", e.Wait)
}

// Unwrap returns the message for the citizen.
func (e *LimitError) Unwrap() error { return e.msg }

// Start checks f, hashes its password and sends the registration's first e-mail: the code, or
// to an address an account already has, the notice that someone tried (no code). Both give
// the same Pending, and take the same work. Errors: *InvalidError (nothing written, nothing
// counted), *attempts.ThrottledError (the client address asked for too many), and for the
// e-mail address *keys.ResendLimitError (too many codes within the code window) or *LimitError
// (too many e-mails today).
func (s *Service) Start(ctx context.Context, f Form, c Client) (*Pending, error) {
	f = f.normalize()
	if err := f.validate(); err != nil {
		return nil, err
	}
	if err := s.quota.Take(ctx, attempts.IPScope("register", c.IP)); err != nil {
		return nil, err
	}
	// The password is hashed whatever becomes of the registration, so a taken address (whose
	// registration never uses it) costs what a free one costs.
	hash, err := s.passwords.Hash(ctx, f.Password)
	if err != nil {
		return nil, fmt.Errorf("start registration: %w", err)
	}
	now := s.now()
	reg := store.Signup{Email: f.Email, Username: f.Username, Name: f.Name, Language: f.Language, PasswordHash: hash,
		StartedAt: now, EndsAt: now.Add(s.cfg.Lifetime)}
	su, err := s.send(ctx, reg, 0, c)
	if err != nil {
		return nil, err
	}
	return pendingOf(su), nil
}

// Resend sends the registration p a new e-mail of the kind the address calls for now; the code
// before it stops working. The limits are Start's.
func (s *Service) Resend(ctx context.Context, p *Pending, c Client) (*Pending, error) {
	switch {
	case p == nil || p.verified:
		return nil, ErrOutOfOrder
	case p.Ended(s.now()):
		return nil, ErrExpired
	}
	if err := s.quota.Take(ctx, attempts.IPScope("register", c.IP)); err != nil {
		return nil, err
	}
	su, err := s.send(ctx, store.Signup{Email: p.address}, p.id, c)
	if err != nil {
		return nil, err
	}
	return pendingOf(su), nil
}

func pendingOf(su store.Signup) *Pending {
	return &Pending{id: su.ID, address: su.Email, username: su.Username, sentAt: su.CreatedAt, expiresAt: su.ExpiresAt,
		endsAt: su.EndsAt}
}

// send writes one registration e-mail and its row in one transaction, within the address's
// limits: reg is the registration (Start), or only its address when it replaces the signup
// replaces (Resend), whose registration it then carries on.
func (s *Service) send(ctx context.Context, reg store.Signup, replaces int64, c Client) (store.Signup, error) {
	now := s.now()
	var su store.Signup
	err := store.InTx(ctx, s.st, func(tx sendStore) error {
		// Without the lock, simultaneous requests on several nodes could all count below the
		// limits and each send an e-mail.
		if err := tx.LockSignupAddress(ctx, reg.Email); err != nil {
			return err
		}
		times, err := tx.SignupTimesSince(ctx, reg.Email, now.Add(-Day))
		if err != nil {
			return err
		}
		if n := len(times); n >= s.cfg.PerEmail {
			return newLimitError(times[n-s.cfg.PerEmail].Add(Day).Sub(now))
		}
		recent := 0
		for _, t := range times {
			if !t.Before(now.Add(-s.cfg.Codes.Window)) {
				recent++
			}
		}
		if recent >= s.cfg.Codes.MaxCodes {
			return keys.NewResendLimitError(times[len(times)-s.cfg.Codes.MaxCodes].Add(s.cfg.Codes.Window).Sub(now))
		}
		if replaces != 0 {
			old, err := tx.GetSignup(ctx, replaces)
			if errors.Is(err, store.ErrNotFound) {
				return ErrExpired
			}
			if err != nil {
				return err
			}
			if !old.DoneAt.IsZero() || !old.VerifiedAt.IsZero() || !now.Before(old.EndsAt) {
				return ErrExpired
			}
			reg = old
			reg.ID, reg.Attempts, reg.VerifiedAt, reg.DoneAt = 0, 0, time.Time{}, time.Time{}
			if _, err := tx.FinishSignup(ctx, replaces, now); err != nil {
				return err
			}
		}
		// Whether an account has the address decides what the e-mail says, and nothing else.
		owner, err := tx.GetAccountByEmail(ctx, reg.Email)
		inUse := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		code, err := emailcode.NewCode(s.rand)
		if err != nil {
			return err
		}
		su = reg
		su.CreatedAt, su.ExpiresAt = now, now.Add(s.cfg.Codes.Validity)
		su.CodeHash = s.codeHash(reg.Email, code)
		if inUse {
			// A decoy: no code goes out, and none can be right.
			su.Decoy = true
			if su.CodeHash, err = secrets.Generate(s.rand, len(su.CodeHash)); err != nil {
				return err
			}
		}
		if err := tx.CreateSignup(ctx, &su); err != nil {
			return err
		}
		if inUse {
			err = s.mailer.Enqueue(ctx, tx, mail.Recipient{AccountID: owner.ID, Name: owner.Name, Address: owner.Email,
				Language: owner.Language}, mail.TemplateSignupInUse, map[string]any{})
		} else {
			// Nobody is named: the name typed is not proven, and an e-mail must not carry what
			// a stranger typed to someone else's address.
			err = s.mailer.Enqueue(ctx, tx, mail.Recipient{Address: reg.Email, Language: reg.Language}, mail.TemplateSignupCode,
				map[string]any{"Code": code, "Minutes": s.CodeMinutes(), "ExpiresAt": su.ExpiresAt})
		}
		if err != nil {
			return fmt.Errorf("e-mail: %w", err)
		}
		return s.audit.Record(ctx, tx, store.AuditEvent{Type: audit.RegistrationRequested, AccountID: owner.ID, IP: c.IP,
			Detail: map[string]string{"address": mail.MaskAddress(reg.Email), "in_use": strconv.FormatBool(inUse),
				"resend": strconv.FormatBool(replaces != 0)}})
	})
	if err != nil {
		var limit *LimitError
		var resend *keys.ResendLimitError
		if errors.As(err, &limit) || errors.As(err, &resend) || errors.Is(err, ErrExpired) {
			return store.Signup{}, err
		}
		return store.Signup{}, fmt.Errorf("send registration e-mail: %w", err)
	}
	return su, nil
}

// codeHash binds a code to the address it was sent to.
func (s *Service) codeHash(email, code string) []byte {
	return s.hasher.Sum("signup", store.EmailKey(email), code)
}

// CheckCode checks answer against the code of p. A malformed answer (keys.IsFormatError) is
// not an attempt; otherwise the answer is counted against the code's tries and the client
// address before it is compared. The right answer to a live code verifies the address: p is
// then Verified, and Complete creates the account. Errors: keys.ErrWrongCode, ErrCodeTries,
// ErrCodeExpired, the format errors, *attempts.ThrottledError, ErrExpired, ErrOutOfOrder.
func (s *Service) CheckCode(ctx context.Context, p *Pending, answer string, c Client) error {
	now := s.now()
	switch {
	case p == nil || p.verified:
		return ErrOutOfOrder
	case p.Ended(now):
		return ErrExpired
	}
	code, err := keys.NormalizeCode(answer, emailcode.CodeLength)
	if err != nil {
		return err
	}
	scope := attempts.IPScope("code", c.IP)
	a, err := s.ipLimiter.Reserve(ctx, scope)
	if err != nil {
		// Refusals are aggregated (SPEC §8): an event at a throttle's first refusal, and its
		// total once the scope is granted again.
		if errors.Is(err, attempts.ErrThrottled) && a.Refused == 1 {
			s.record(ctx, audit.Throttled(store.AuditEvent{IP: c.IP}, a, audit.ReasonThrottleStarted))
		}
		return err
	}
	if a.Refused > 0 {
		s.record(ctx, audit.Throttled(store.AuditEvent{}, a, audit.ReasonThrottleEnded))
	}
	release := func() {
		if err := s.ipLimiter.Release(context.WithoutCancel(ctx), scope); err != nil {
			s.log.Warn("release attempt", "err", err)
		}
	}
	err = s.check(ctx, p, code, now)
	var le *i18n.LocalizedError
	switch {
	case err == nil:
		release()
		p.verified = true
		return nil
	case errors.Is(err, keys.ErrCodeExpired) || errors.Is(err, ErrExpired) || !errors.As(err, &le):
		release() // nothing was compared
	}
	if errors.As(err, &le) {
		s.record(ctx, store.AuditEvent{Type: audit.RegistrationFailure, Reason: failureReason(err), IP: c.IP,
			Detail: map[string]string{"address": mail.MaskAddress(p.address)}})
	}
	return err
}

// check compares code with the code of p's signup and verifies it when right.
func (s *Service) check(ctx context.Context, p *Pending, code string, now time.Time) error {
	su, err := s.st.GetSignup(ctx, p.id)
	if errors.Is(err, store.ErrNotFound) {
		return ErrExpired
	}
	if err != nil {
		return fmt.Errorf("check registration code: %w", err)
	}
	switch {
	case !su.DoneAt.IsZero() || !su.VerifiedAt.IsZero() || !now.Before(su.ExpiresAt):
		return keys.ErrCodeExpired
	case su.Attempts >= s.cfg.Codes.TriesPerCode:
		return keys.ErrCodeTries
	}
	// Count the try before comparing: parallel answers each get their own count.
	n, err := s.st.AddSignupAttempt(ctx, su.ID)
	if err != nil {
		return fmt.Errorf("check registration code: %w", err)
	}
	if n > s.cfg.Codes.TriesPerCode {
		return keys.ErrCodeTries
	}
	right := s.hasher.Equal(s.codeHash(su.Email, code), su.CodeHash)
	if !right || su.Decoy {
		if n == s.cfg.Codes.TriesPerCode {
			return keys.ErrCodeTries
		}
		return keys.ErrWrongCode
	}
	ok, err := s.st.VerifySignup(ctx, su.ID, now)
	if err != nil {
		return fmt.Errorf("check registration code: %w", err)
	}
	if !ok {
		return keys.ErrCodeExpired // verified by a concurrent request
	}
	return nil
}

// Complete creates the account of the verified registration p in st's transaction (the
// caller's: the web layer's session rotation, so the logon and the account commit together),
// with its audit events (account.created and logon.success, by the citizen) and the welcome
// e-mail, and finishes the registration. Errors (nothing written): ErrUsernameTaken (p stays
// verified: ChangeUsername, then Complete again), ErrAddressInUse, ErrExpired, ErrDone,
// ErrOutOfOrder.
func (s *Service) Complete(ctx context.Context, st store.Transactor, p *Pending, c Client) (store.Account, error) {
	now := s.now()
	switch {
	case p == nil || !p.verified:
		return store.Account{}, ErrOutOfOrder
	case p.Ended(now):
		return store.Account{}, ErrExpired
	}
	var acct store.Account
	err := store.InTx(ctx, st, func(tx createStore) error {
		if err := tx.LockSignupAddress(ctx, p.address); err != nil {
			return err
		}
		su, err := tx.GetSignup(ctx, p.id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return ErrExpired
		case err != nil:
			return err
		case !su.DoneAt.IsZero():
			return ErrDone
		case su.VerifiedAt.IsZero():
			return ErrOutOfOrder
		case !now.Before(su.EndsAt):
			return ErrExpired
		}
		// Another registration of the address may have finished meanwhile; its mailbox is
		// proven, so saying so reveals nothing to anyone else.
		if _, err := tx.GetAccountByEmail(ctx, su.Email); err == nil {
			return ErrAddressInUse
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if ok, err := tx.FinishSignup(ctx, su.ID, now); err != nil {
			return err
		} else if !ok {
			return ErrDone
		}
		acct = store.Account{Username: su.Username, Name: su.Name, Email: su.Email, Language: su.Language,
			PasswordHash: su.PasswordHash, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateAccount(ctx, &acct); errors.Is(err, store.ErrConflict) {
			return ErrUsernameTaken
		} else if err != nil {
			return err
		}
		for _, e := range []store.AuditEvent{
			{Type: audit.AccountCreated, AccountID: acct.ID, IP: c.IP, Actor: audit.ActorCitizen,
				Detail: map[string]string{"via": "registration"}},
			{Type: audit.LogonSuccess, AccountID: acct.ID, KeyKind: keys.Password, IP: c.IP,
				Detail: map[string]string{"level": keys.LevelLow.String(), "via": "registration"}},
		} {
			if err := s.audit.Record(ctx, tx, e); err != nil {
				return err
			}
		}
		return s.mailer.Enqueue(ctx, tx, mail.Recipient{AccountID: acct.ID, Name: acct.Name, Address: acct.Email,
			Language: acct.Language}, mail.TemplateWelcome, map[string]any{"Username": acct.Username})
	})
	var le *i18n.LocalizedError
	switch {
	case errors.As(err, &le):
		if errors.Is(err, ErrUsernameTaken) {
			s.record(ctx, store.AuditEvent{Type: audit.RegistrationFailure, Reason: audit.ReasonUsernameTaken, IP: c.IP,
				Detail: map[string]string{"address": mail.MaskAddress(p.address)}})
		}
		return store.Account{}, err
	case err != nil:
		return store.Account{}, fmt.Errorf("complete registration: %w", err)
	}
	return acct, nil
}

// ChangeUsername replaces the username of the verified registration p, which Complete found
// taken. Each try counts (Config.Codes.TriesPerCode of them, then the registration ends:
// ErrTooManyUsernames), since each tells whether a username exists. Errors: *InvalidError
// (the username's rules, or ErrUsernameIsPassword), ErrTooManyUsernames, ErrExpired,
// ErrOutOfOrder.
func (s *Service) ChangeUsername(ctx context.Context, p *Pending, username string, c Client) error {
	now := s.now()
	switch {
	case p == nil || !p.verified:
		return ErrOutOfOrder
	case p.Ended(now):
		return ErrExpired
	}
	username = normalizeUsername(username)
	if err := validateUsername(username); err != nil {
		return fieldError(FieldUsername, err)
	}
	su, err := s.st.GetSignup(ctx, p.id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrExpired
	case err != nil:
		return fmt.Errorf("change username: %w", err)
	case !su.DoneAt.IsZero() || su.VerifiedAt.IsZero():
		return ErrExpired
	}
	n, err := s.st.AddSignupAttempt(ctx, su.ID)
	if err != nil {
		return fmt.Errorf("change username: %w", err)
	}
	if n > s.cfg.Codes.TriesPerCode {
		if _, err := s.st.FinishSignup(ctx, su.ID, now); err != nil {
			return fmt.Errorf("change username: %w", err)
		}
		s.record(ctx, store.AuditEvent{Type: audit.RegistrationFailure, Reason: audit.ReasonCodeTries, IP: c.IP,
			Detail: map[string]string{"address": mail.MaskAddress(p.address)}})
		return ErrTooManyUsernames
	}
	// The password policy's "not the username", checked from the other side: the password is
	// only kept hashed.
	same, _, err := s.passwords.Verify(ctx, su.PasswordHash, username)
	if err != nil {
		return fmt.Errorf("change username: %w", err)
	}
	if same {
		return fieldError(FieldUsername, ErrUsernameIsPassword)
	}
	if err := s.st.SetSignupUsername(ctx, su.ID, username); err != nil {
		return fmt.Errorf("change username: %w", err)
	}
	p.username = username
	return nil
}

// Cancel ends the registration p: its code no longer works and its password hash is dropped.
func (s *Service) Cancel(ctx context.Context, p *Pending) error {
	if p == nil {
		return nil
	}
	if _, err := s.st.FinishSignup(ctx, p.id, s.now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("cancel registration: %w", err)
	}
	return nil
}

// record writes an audit event on its own (a refusal: nothing else changes); a failure is
// logged, the citizen's answer does not depend on it.
func (s *Service) record(ctx context.Context, e store.AuditEvent) {
	if err := s.audit.Record(ctx, s.st, e); err != nil {
		s.log.Warn("record audit event", "type", e.Type, "err", err)
	}
}

// failureReason names a code failure in the audit log.
func failureReason(err error) string {
	switch {
	case errors.Is(err, keys.ErrCodeExpired), errors.Is(err, ErrExpired):
		return audit.ReasonCodeExpired
	case errors.Is(err, keys.ErrCodeTries):
		return audit.ReasonCodeTries
	}
	return audit.ReasonWrongCode
}
