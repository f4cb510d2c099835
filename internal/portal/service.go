package portal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Config holds the portal's rules.
type Config struct {
	// RecentLogon is how long after a logon key changes are allowed (SPEC §8: 15 minutes).
	RecentLogon time.Duration
	// WizardLifetime is how long an activation wizard may take (30 minutes).
	WizardLifetime time.Duration
	// LockAfter consecutive wrong registration codes end the activation (SPEC §8: 100, as for
	// a key's codes).
	LockAfter int
	// LostKeyWait: a key of level substantial reported lost from a logon below substantial
	// keeps the mailbox-only activation (MailboxOnly) closed this long after the report
	// (LostKeyWaitUntil): otherwise the password and the mailbox alone would replace the card
	// at once. 72 hours.
	LostKeyWait time.Duration
}

// DefaultConfig returns the defaults: 15 minutes, 30 minutes, 100, 72 hours.
func DefaultConfig() Config {
	return Config{RecentLogon: 15 * time.Minute, WizardLifetime: 30 * time.Minute, LockAfter: attempts.KeyLockoutFailures,
		LostKeyWait: 72 * time.Hour}
}

// Validate reports every invalid value.
func (c Config) Validate() error {
	var errs []error
	if c.RecentLogon <= 0 {
		errs = append(errs, fmt.Errorf("recent logon %s: must be positive", c.RecentLogon))
	}
	if c.WizardLifetime < time.Minute {
		errs = append(errs, fmt.Errorf("wizard lifetime %s: must be at least 1m", c.WizardLifetime))
	}
	if c.LostKeyWait < time.Hour {
		errs = append(errs, fmt.Errorf("lost key wait %s: must be at least 1h", c.LostKeyWait))
	}
	if c.LockAfter < 1 {
		errs = append(errs, fmt.Errorf("lock after %d wrong registration codes: must be at least 1", c.LockAfter))
	}
	return errors.Join(errs...)
}

// Deps are the parts a Service works with.
type Deps struct {
	Store Store
	Kinds *keys.Registry
	// Codes verifies new e-mail addresses (the emailcode kind).
	Codes  Codes
	Mailer Mailer
	// Limiter counts wrong codes per account (attempts.EnrolmentScope, EmailChangeScope) and
	// resets a reactivated key's counter; IPLimiter per client address.
	Limiter   Limiter
	IPLimiter Limiter
	Audit     Auditor
	// Policy says which kinds may be activated; nil means AllOpen.
	Policy KindPolicy
	Now    func() time.Time
	// Rand draws wizard ids (crypto/rand.Reader in production).
	Rand io.Reader
	// Log receives what goes wrong without changing the outcome (nil: discarded).
	Log *slog.Logger
}

// Service is My digital keys. It is safe for concurrent use.
type Service struct {
	cfg       Config
	st        Store
	kinds     *keys.Registry
	codes     Codes
	mailer    Mailer
	limiter   Limiter
	ipLimiter Limiter
	audit     Auditor
	policy    KindPolicy
	now       func() time.Time
	rand      io.Reader
	log       *slog.Logger
}

// New returns a Service.
func New(cfg Config, d Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	if d.Store == nil || d.Kinds == nil || d.Codes == nil || d.Mailer == nil || d.Limiter == nil || d.IPLimiter == nil ||
		d.Audit == nil || d.Now == nil || d.Rand == nil {
		return nil, errors.New("portal: every dependency but Policy and Log must be set")
	}
	if d.Policy == nil {
		d.Policy = AllOpen{}
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, st: d.Store, kinds: d.Kinds, codes: d.Codes, mailer: d.Mailer, limiter: d.Limiter,
		ipLimiter: d.IPLimiter, audit: d.Audit, policy: d.Policy, now: d.Now, rand: d.Rand, log: d.Log}, nil
}

// Config returns the rules in effect.
func (s *Service) Config() Config { return s.cfg }

// Auth is how the citizen of a session logged on.
type Auth struct {
	// Level is the level of assurance the logon reached.
	Level keys.Level
	// Time is when the logon completed.
	Time time.Time
	// Recovery: the citizen redeemed a helpdesk recovery code in this session (and set a new
	// password with it) and has not activated a key since. The helpdesk checked who they are,
	// so the activation wizard — and nothing else — takes the logon as one at level
	// substantial: a citizen whose lost card is still active cannot log on at that level, and
	// would otherwise never reach the wizard. The web layer drops the mark once a key is
	// activated: one key per recovery code.
	Recovery bool
}

// inWizard is auth as the activation wizard counts it: a Recovery logon meets level
// substantial there. Only the wizard's steps use it; deactivating, reactivating or reporting a
// key lost and the profile's e-mail change see auth as it is.
func (a Auth) inWizard() Auth {
	if a.Recovery && !a.Level.Meets(keys.LevelSubstantial) {
		a.Level = keys.LevelSubstantial
	}
	return a
}

// viaRecovery reports whether only the recovery mark lets auth into the wizard (for the audit).
func (a Auth) viaRecovery() bool { return a.Recovery && !a.Level.Meets(keys.LevelSubstantial) }

// Client describes who makes a request, for throttling and the audit log.
type Client struct {
	IP string
}

// Errors a citizen may see.
var (
	// ErrExpired: the wizard took too long; start again.
	ErrExpired = i18n.NewError("portal.error.expired")
	// ErrOutOfOrder: a step was submitted that the wizard is not at (Back, a double click).
	ErrOutOfOrder = i18n.NewError("portal.error.out_of_order")
	// ErrNotOffered: the kind is not one the page offers (a forged form, or closed meanwhile).
	ErrNotOffered = i18n.NewError("portal.error.not_offered")
	// ErrNoSuchKey: the key does not exist or belongs to someone else (never told apart).
	ErrNoSuchKey = i18n.NewError("portal.error.no_such_key")
	// ErrNotActive: only an active key can be deactivated.
	ErrNotActive = i18n.NewError("portal.error.not_active")
	// ErrNotLocked: only a locked key can be reactivated.
	ErrNotLocked = i18n.NewError("portal.error.not_locked")
	// ErrSameAddress: the new e-mail address is the current one.
	ErrSameAddress = i18n.NewError("portal.error.same_address")
	// ErrEnrolmentLocked: too many wrong registration codes; the activation ended.
	ErrEnrolmentLocked = i18n.NewError("portal.error.enrolment_locked")
	// ErrSuperseded: an activation started elsewhere (another window) replaced this one.
	ErrSuperseded = i18n.NewError("portal.error.superseded")
	// ErrNoOtherKey: a locked key is reactivated after a logon with another active key of its
	// level, and the citizen has none.
	ErrNoOtherKey = i18n.NewError("portal.error.no_other_key")
	// ErrEmailChangeRestricted: the e-mail address cannot be changed after this logon (a
	// logon below substantial of a citizen who holds or held a substantial key, MailboxOnly).
	ErrEmailChangeRestricted = i18n.NewError("portal.error.email_change_restricted")
	// ErrCannotResend: the kind sends no code.
	ErrCannotResend = i18n.NewError("login.error.cannot_resend")
)

// LastKeyError refuses to deactivate the citizen's last active key of level substantial or
// higher ({0} is the key's name).
func LastKeyError(kind string) *i18n.LocalizedError {
	return i18n.NewError("portal.error.last_key", i18n.Msg("key."+kind+".name"))
}

// StaleLogonError says a key change needs a logon within the last Config.RecentLogon that
// reached at least Level. The web layer sends the citizen through the logon again.
type StaleLogonError struct {
	Level keys.Level
}

func (e *StaleLogonError) Error() string {
	return fmt.Sprintf("key changes need a recent logon at level %s", e.Level)
}

// Unwrap returns the message for the citizen.
func (e *StaleLogonError) Unwrap() error { return i18n.NewError("portal.error.stale_logon") }

// RequiredLevel returns the level a logon must have reached before the citizen may change keys:
// substantial (the highest their active keys reach) when they have an active key of at least
// that level, else low. Otherwise a stolen password alone could add an app key and so reach
// substantial.
//
// A low level does not mean a password logon may add any key: a citizen who holds or held a
// substantial key (one now locked, deactivated or expired — an attacker with the password can
// lock a key with wrong codes) may then only activate a key whose activation proves the
// registered mailbox (MailboxOnly). Only a citizen who never had a substantial key activates
// any kind after a password logon: their first such key (SPEC §4).
func (s *Service) RequiredLevel(ks []store.Key) keys.Level {
	need := keys.LevelLow
	now := s.now()
	for _, k := range ks {
		kind, ok := s.kinds.Get(k.Kind)
		if !ok || StatusOf(k, s.policy, now) != StatusActive {
			continue
		}
		if l := kind.Level(); l > need {
			need = l
		}
	}
	return need
}

// MailboxOnly reports whether a citizen with keys ks, logged on as auth, may only activate a
// key whose activation proves the registered mailbox: the e-mail key, its registration code
// sent to the current address, with no change of address (a changed address proves nothing).
// That is so when the logon is below substantial and the citizen holds or held a key of level
// substantial or higher, none of them active (locked, deactivated or expired: with one active,
// RequiredLevel asks for a substantial logon instead). The citizen's way out otherwise is the
// helpdesk.
func (s *Service) MailboxOnly(ks []store.Key, auth Auth) bool {
	if auth.Level.Meets(keys.LevelSubstantial) || s.RequiredLevel(ks).Meets(keys.LevelSubstantial) {
		return false
	}
	for _, k := range ks {
		if kind, ok := s.kinds.Get(k.Kind); ok && kind.Level().Meets(keys.LevelSubstantial) {
			return true
		}
	}
	return false
}

// lostReports bounds the key.deactivated events LostKeyWaitUntil reads; a report not among
// them counts as made below substantial (the wait applies), so pushing it out gains nothing.
const lostReports = 100

// LostKeyWaitUntil returns until when the mailbox-only activation (MailboxOnly) stays closed
// for the citizen with keys ks: Config.LostKeyWait after the latest report of a key of level
// substantial or higher as lost from a logon below substantial (the key's cause and time, and
// the report's audit event, DetailLogonLevel); zero when no such wait runs. Otherwise
// whoever has the password and the mailbox would report the card lost and activate an e-mail
// key — level substantial — at once. A helpdesk recovery code (Auth.Recovery) or a logon at
// substantial is no MailboxOnly logon, so never waits.
func (s *Service) LostKeyWaitUntil(ctx context.Context, acct store.Account, ks []store.Key) (time.Time, error) {
	now := s.now()
	var until time.Time
	var reports []store.AuditEvent
	read := false
	for _, k := range ks {
		kind, ok := s.kinds.Get(k.Kind)
		if !ok || !kind.Level().Meets(keys.LevelSubstantial) || k.Status != store.KeyDeactivated ||
			k.DeactivationCause != keys.CauseLost {
			continue
		}
		end := k.DeactivatedAt.Add(s.cfg.LostKeyWait)
		if !end.After(now) || !end.After(until) {
			continue
		}
		if !read {
			var err error
			if reports, err = s.st.RecentAccountAudit(ctx, acct.ID, audit.KeyDeactivated, lostReports); err != nil {
				return time.Time{}, fmt.Errorf("lost key wait: %w", err)
			}
			read = true
		}
		if !reportedAtSubstantial(reports, k.ID) {
			until = end
		}
	}
	return until, nil
}

// reportedAtSubstantial reports whether reports hold keyID's report as lost from a logon of
// level substantial or higher.
func reportedAtSubstantial(reports []store.AuditEvent, keyID int64) bool {
	for _, e := range reports {
		if e.KeyID != keyID || e.Detail["cause"] != keys.CauseLost {
			continue
		}
		l, err := keys.ParseLevel(e.Detail[DetailLogonLevel])
		return err == nil && l.Meets(keys.LevelSubstantial)
	}
	return false
}

// mailboxOnly is MailboxOnly for the citizen's keys as they are now.
func (s *Service) mailboxOnly(ctx context.Context, acct store.Account, auth Auth) (bool, error) {
	ks, err := s.st.ListKeys(ctx, acct.ID)
	if err != nil {
		return false, fmt.Errorf("list keys: %w", err)
	}
	return s.MailboxOnly(ks, auth), nil
}

// CheckAuth returns a *StaleLogonError unless auth is a logon within Config.RecentLogon that
// reached RequiredLevel for the citizen's keys as they are now, and at least atLeast.
func (s *Service) CheckAuth(ctx context.Context, acct store.Account, auth Auth, atLeast keys.Level) error {
	ks, err := s.st.ListKeys(ctx, acct.ID)
	if err != nil {
		return fmt.Errorf("check logon: %w", err)
	}
	need := max(s.RequiredLevel(ks), atLeast)
	if auth.Time.IsZero() || s.now().Sub(auth.Time) >= s.cfg.RecentLogon || !auth.Level.Meets(need) {
		return &StaleLogonError{Level: need}
	}
	return nil
}

// Fresh reports whether auth allows key changes for acct now (CheckAuth without a minimum).
func (s *Service) Fresh(ctx context.Context, acct store.Account, auth Auth) error {
	return s.CheckAuth(ctx, acct, auth, keys.LevelNone)
}

// FreshForWizard is Fresh as the activation wizard counts the logon (Auth.Recovery counts as
// level substantial there): the guard of the wizard's pages.
func (s *Service) FreshForWizard(ctx context.Context, acct store.Account, auth Auth) error {
	return s.Fresh(ctx, acct, auth.inWizard())
}

// record writes an audit event on its own (for refusals: nothing else changes). A failure is
// logged: the citizen's answer does not depend on it.
func (s *Service) record(ctx context.Context, e store.AuditEvent) {
	if err := s.audit.Record(ctx, s.st, e); err != nil {
		s.log.Warn("record audit event", "type", e.Type, "err", err)
	}
}

// forged records a request that named something the page never offered. The account's
// ForgedScope counts them: the first few each get their portal.forged event, and once it
// throttles, the rest are aggregated as throttled requests are (audit.Throttled: one event
// when the period starts, its total when it is over) — a script cannot fill the audit log.
func (s *Service) forged(ctx context.Context, acct store.Account, c Client, field, value string) {
	e := store.AuditEvent{Type: audit.PortalForged, AccountID: acct.ID, IP: c.IP,
		Detail: map[string]string{"field": field, "value": value}}
	a, err := s.limiter.Reserve(ctx, attempts.ForgedScope(acct.ID))
	switch {
	case errors.Is(err, attempts.ErrThrottled):
		if a.Refused == 1 {
			s.record(ctx, audit.Throttled(e, a, audit.ReasonThrottleStarted))
		}
		return
	case err != nil:
		s.log.Warn("count forged request", "err", err) // recorded all the same
	case a.Refused > 0:
		s.record(ctx, audit.Throttled(store.AuditEvent{AccountID: acct.ID}, a, audit.ReasonThrottleEnded))
	}
	s.record(ctx, e)
}

// recipient is the citizen as an e-mail's addressee, in their preferred language.
func recipient(acct store.Account) mail.Recipient {
	return mail.Recipient{AccountID: acct.ID, Name: acct.Name, Address: acct.Email, Language: acct.Language}
}

// reservation is one attempt to reserve before a code is compared.
type reservation struct {
	limiter Limiter
	scope   attempts.Scope
}

// reserve reserves an attempt in every scope, in order; when one is throttled it takes back
// those already made. release takes back all of them (nothing was compared). Refusals are
// reported as the logon reports them (audit.Throttled): the first of a throttle period with
// the request (req: its account, kind and address), and a period's total by the scope's next
// granted reservation, which takes it from the counter — never an event per refused request.
func (s *Service) reserve(ctx context.Context, req store.AuditEvent, rs ...reservation) (release func(), counts []store.Attempt, err error) {
	var done []reservation
	release = func() {
		for _, r := range done {
			if err := r.limiter.Release(context.WithoutCancel(ctx), r.scope); err != nil {
				s.log.Warn("release attempt", "err", err)
			}
		}
	}
	for _, r := range rs {
		a, err := r.limiter.Reserve(ctx, r.scope)
		if err != nil {
			release()
			if errors.Is(err, attempts.ErrThrottled) && a.Refused == 1 {
				s.record(ctx, audit.Throttled(req, a, audit.ReasonThrottleStarted))
			}
			return nil, nil, err
		}
		if a.Refused > 0 {
			s.record(ctx, audit.Throttled(store.AuditEvent{}, a, audit.ReasonThrottleEnded))
		}
		done, counts = append(done, r), append(counts, a)
	}
	return release, counts, nil
}

// reserveCodeRequest counts a code sent at the citizen's request against the client's address
// (SPEC §8: per-IP limits on code requests), as the logon's "send a new code" does; req is the
// request, for the audit event of a refusal.
func (s *Service) reserveCodeRequest(ctx context.Context, req store.AuditEvent) error {
	_, _, err := s.reserve(ctx, req, reservation{s.ipLimiter, attempts.IPScope("code-request", req.IP)})
	return err
}

// failureReason names a code failure in the audit log.
func failureReason(err error) string {
	switch {
	case errors.Is(err, keys.ErrCodeExpired):
		return audit.ReasonCodeExpired
	case errors.Is(err, keys.ErrCodeTries):
		return audit.ReasonCodeTries
	}
	return audit.ReasonWrongCode
}
