package emailcode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Templates of the e-mails this package sends. Their data are "Code" (string) and "Minutes"
// (int, the validity).
const (
	TemplateLogon        = "logon_code"
	TemplateRegistration = "registration_code"
)

// CodeLength is the number of digits of a code.
const CodeLength = 6

// hashDomain separates e-mailed code hashes from every other use of the hasher.
const hashDomain = "emailcode"

// Mailer renders a template in the recipient's language and writes the message to ob (the
// caller's transaction when ob is one). *mail.Composer implements it.
type Mailer interface {
	Enqueue(ctx context.Context, ob mail.Outbox, to mail.Recipient, template string, data map[string]any) error
}

// issueStore is what issuing a code takes, inside one transaction.
type issueStore interface {
	LockAccount(ctx context.Context, id int64) error
	CodeTimesSince(ctx context.Context, accountID int64, purpose store.CodePurpose, since time.Time) ([]time.Time, error)
	CreateCode(ctx context.Context, c *store.Code) error
	mail.Outbox
}

var _ issueStore = store.Store(nil)

// Config holds the code rules. A zero field takes its default.
type Config struct {
	// Validity is how long a code is valid (default 5 minutes).
	Validity time.Duration
	// TriesPerCode is the number of wrong answers that kill a code (default 5).
	TriesPerCode int
	// MaxCodes is the number of codes of one purpose issued per Window (default 3).
	MaxCodes int
	// Window is the period MaxCodes applies to (default 15 minutes).
	Window time.Duration
}

// DefaultConfig returns the defaults: 5 minutes, 5 tries, 3 codes per 15 minutes.
func DefaultConfig() Config {
	return Config{Validity: 5 * time.Minute, TriesPerCode: 5, MaxCodes: 3, Window: 15 * time.Minute}
}

// withDefaults fills zero fields and reports every invalid one.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	if c.Validity == 0 {
		c.Validity = d.Validity
	}
	if c.TriesPerCode == 0 {
		c.TriesPerCode = d.TriesPerCode
	}
	if c.MaxCodes == 0 {
		c.MaxCodes = d.MaxCodes
	}
	if c.Window == 0 {
		c.Window = d.Window
	}
	var errs []error
	if c.Validity < time.Minute {
		errs = append(errs, fmt.Errorf("validity %v: want at least 1m", c.Validity))
	}
	if c.TriesPerCode < 1 {
		errs = append(errs, fmt.Errorf("tries per code %d: want at least 1", c.TriesPerCode))
	}
	if c.MaxCodes < 1 {
		errs = append(errs, fmt.Errorf("max codes %d: want at least 1", c.MaxCodes))
	}
	if c.Window < 0 {
		errs = append(errs, fmt.Errorf("window %v: want a positive duration", c.Window))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("emailcode config: %w", err)
	}
	return c, nil
}

// Kind is the emailcode key kind.
type Kind struct {
	cfg    Config
	hasher *secrets.Hasher
	mailer Mailer
	rand   io.Reader
	now    func() time.Time
}

var (
	_ Mailer                 = (*mail.Composer)(nil)
	_ keys.Kind              = (*Kind)(nil)
	_ keys.Challenger        = (*Kind)(nil)
	_ keys.Resender          = (*Kind)(nil)
	_ keys.CodeAsker         = (*Kind)(nil)
	_ keys.Enroller          = (*Kind)(nil)
	_ keys.EnrolmentResender = (*Kind)(nil)
)

// New returns the emailcode kind. h hashes the codes, m writes the e-mails, rand draws the codes
// (crypto/rand.Reader in production) and now is the clock.
func New(cfg Config, h *secrets.Hasher, m Mailer, rand io.Reader, now func() time.Time) (*Kind, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	switch {
	case h == nil:
		return nil, errors.New("emailcode: hasher is nil")
	case m == nil:
		return nil, errors.New("emailcode: mailer is nil")
	case rand == nil:
		return nil, errors.New("emailcode: random source is nil")
	case now == nil:
		return nil, errors.New("emailcode: clock is nil")
	}
	return &Kind{cfg: cfg, hasher: h, mailer: m, rand: rand, now: now}, nil
}

// Config returns the rules in effect (defaults filled in).
func (k *Kind) Config() Config { return k.cfg }

// Name returns "emailcode".
func (*Kind) Name() string { return keys.EmailCode }

// Level returns keys.LevelSubstantial.
func (*Kind) Level() keys.Level { return keys.LevelSubstantial }

// AMR returns ["pwd", "otp", "mfa"] (RFC 8176 has no e-mail value; the code is a one-time
// password).
func (*Kind) AMR() []string { return []string{"pwd", "otp", "mfa"} }

// CodeLength returns CodeLength.
func (*Kind) CodeLength() int { return CodeLength }

// minutes is the validity in whole minutes, rounded up, as shown to the citizen.
func (k *Kind) minutes() int {
	return int((k.cfg.Validity + time.Minute - 1) / time.Minute)
}

// Begin e-mails a logon code to the account's address. It returns a *keys.ResendLimitError
// (errors.Is ErrResendLimit) saying how long to wait when too many codes were sent recently.
func (k *Kind) Begin(ctx context.Context, st keys.Store, acct store.Account, key store.Key) (keys.Challenge, error) {
	c, err := k.Issue(ctx, st, acct, store.CodeLogon, acct.Email, TemplateLogon)
	if err != nil {
		return keys.Challenge{}, err
	}
	return k.challenge(c), nil
}

// Resend e-mails a new logon code, which supersedes the previous one; the same limit applies.
func (k *Kind) Resend(ctx context.Context, st keys.Store, acct store.Account, key store.Key) (keys.Challenge, error) {
	return k.Begin(ctx, st, acct, key)
}

// challenge asks for code c: the prompt says where it went (the address masked, d•••@example.org)
// and how long it is valid.
func (k *Kind) challenge(c store.Code) keys.Challenge {
	return keys.Challenge{
		Prompt: "login.emailcode.prompt",
		Args:   []string{mail.MaskAddress(c.Target), strconv.Itoa(k.minutes())},
		State:  strconv.FormatInt(c.ID, 10),
	}
}

// Verify checks answer against the logon code named in ch.
func (k *Kind) Verify(ctx context.Context, st keys.Store, acct store.Account, key store.Key, ch keys.Challenge, answer string) error {
	id, err := strconv.ParseInt(ch.State, 10, 64)
	if err != nil {
		return fmt.Errorf("emailcode verify: challenge state %q is not a code id", ch.State)
	}
	return k.Check(ctx, st, acct, store.CodeLogon, id, answer)
}

// enrolState is the kind-private state of an enrolment: the registration code's id and the
// address it went to.
type enrolState struct {
	CodeID int64  `json:"code_id"`
	To     string `json:"to"`
}

// BeginEnrolment e-mails a registration code to the account's current address, in st's
// transaction (the caller's, when st is one). The enrolment expires with the code.
func (k *Kind) BeginEnrolment(ctx context.Context, st keys.Store, acct store.Account) (keys.Enrolment, error) {
	c, err := k.Issue(ctx, st, acct, store.CodeRegistration, acct.Email, TemplateRegistration)
	if err != nil {
		return keys.Enrolment{}, err
	}
	state, err := json.Marshal(enrolState{CodeID: c.ID, To: c.Target})
	if err != nil {
		return keys.Enrolment{}, fmt.Errorf("emailcode enrolment: %w", err)
	}
	return keys.Enrolment{Kind: keys.EmailCode, StartedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt, State: string(state)}, nil
}

// ResendEnrolment e-mails a new registration code, which supersedes the previous one, to the
// address of the enrolment; the enrolment now expires with the new code. ErrResendLimit when
// too many codes were sent.
func (k *Kind) ResendEnrolment(ctx context.Context, st keys.Store, acct store.Account, e keys.Enrolment) (keys.Enrolment, error) {
	es, err := enrolStateOf(e)
	if err != nil {
		return keys.Enrolment{}, err
	}
	c, err := k.Issue(ctx, st, acct, store.CodeRegistration, es.To, TemplateRegistration)
	if err != nil {
		return keys.Enrolment{}, err
	}
	state, err := json.Marshal(enrolState{CodeID: c.ID, To: c.Target})
	if err != nil {
		return keys.Enrolment{}, fmt.Errorf("emailcode enrolment: %w", err)
	}
	e.ExpiresAt, e.State = c.ExpiresAt, string(state)
	return e, nil
}

// ViewEnrolment returns the address the code went to and its validity.
func (k *Kind) ViewEnrolment(acct store.Account, e keys.Enrolment) (keys.EnrolmentView, error) {
	st, err := enrolStateOf(e)
	if err != nil {
		return keys.EnrolmentView{}, err
	}
	return keys.EnrolmentView{Address: st.To, CodeMinutes: k.minutes()}, nil
}

// NormalizeAnswer returns the 6 digits of answer (keys.NormalizeCode: spaces and dashes
// ignored) or a format error (keys.ErrCodeEmpty, keys.ErrCodeFormat).
func (k *Kind) NormalizeAnswer(answer string) (string, error) {
	return keys.NormalizeCode(answer, CodeLength)
}

// CheckEnrolment checks the registration code and, when right, returns the emailcode key to
// create. The key sends its codes to the account's e-mail address of the moment. Each check
// counts a try of the code and a right one uses it, so a code creates at most one key.
func (k *Kind) CheckEnrolment(ctx context.Context, st keys.CodeStore, acct store.Account, e keys.Enrolment, answer string) (store.Key, error) {
	if e.Kind != keys.EmailCode {
		return store.Key{}, fmt.Errorf("emailcode enrolment: enrolment of kind %q", e.Kind)
	}
	es, err := enrolStateOf(e)
	if err != nil {
		return store.Key{}, err
	}
	now := k.now()
	if e.Expired(now) {
		return store.Key{}, keys.ErrCodeExpired
	}
	if err := k.Check(ctx, st, acct, store.CodeRegistration, es.CodeID, answer); err != nil {
		return store.Key{}, err
	}
	return store.Key{AccountID: acct.ID, Kind: keys.EmailCode, Status: store.KeyActive, CreatedAt: now, ActivatedAt: now}, nil
}

func enrolStateOf(e keys.Enrolment) (enrolState, error) {
	var st enrolState
	if err := json.Unmarshal([]byte(e.State), &st); err != nil || st.CodeID == 0 {
		return enrolState{}, fmt.Errorf("emailcode enrolment: state %q is not a code", e.State)
	}
	return st, nil
}

// Issue creates a code for purpose and e-mails it to address to with template, in one
// transaction of st (or st's own transaction when it is one). The template gets "Code",
// "Minutes" and "ExpiresAt" (when the code stops being valid: the outbox drops the message's
// text then), and for store.CodeEmailChange also "NewAddress" (= to). It returns a
// *keys.ResendLimitError (errors.Is ErrResendLimit), with the wait until the oldest code leaves
// the window, when MaxCodes codes of that purpose were issued within Window (a code issued
// exactly Window ago still counts). The returned Code's ID goes into the challenge; the code itself is only in
// the e-mail.
func (k *Kind) Issue(ctx context.Context, st keys.Store, acct store.Account, purpose store.CodePurpose, to string, template string) (store.Code, error) {
	now := k.now()
	var c store.Code
	err := store.InTx(ctx, st, func(tx issueStore) error {
		// Without the lock, simultaneous requests on several nodes could all count below the
		// limit and each issue a code.
		if err := tx.LockAccount(ctx, acct.ID); err != nil {
			return err
		}
		times, err := tx.CodeTimesSince(ctx, acct.ID, purpose, now.Add(-k.cfg.Window))
		if err != nil {
			return fmt.Errorf("count codes: %w", err)
		}
		if n := len(times); n >= k.cfg.MaxCodes {
			// A new code may go once enough of these left the window: the oldest, unless the
			// limit was lowered since they were sent.
			return keys.NewResendLimitError(times[n-k.cfg.MaxCodes].Add(k.cfg.Window).Sub(now))
		}
		code, err := randomCode(k.rand)
		if err != nil {
			return err
		}
		c = store.Code{
			AccountID: acct.ID,
			Purpose:   purpose,
			Hash:      k.hash(acct.ID, purpose, to, code),
			Target:    to,
			CreatedAt: now,
			ExpiresAt: now.Add(k.cfg.Validity),
		}
		if err := tx.CreateCode(ctx, &c); err != nil {
			return fmt.Errorf("create code: %w", err)
		}
		rcpt := mail.Recipient{AccountID: acct.ID, Name: acct.Name, Address: to, Language: acct.Language}
		data := map[string]any{"Code": code, "Minutes": k.minutes(), "ExpiresAt": c.ExpiresAt}
		if purpose == store.CodeEmailChange {
			data["NewAddress"] = to
		}
		if err := k.mailer.Enqueue(ctx, tx, rcpt, template, data); err != nil {
			return fmt.Errorf("e-mail code: %w", err)
		}
		return nil
	})
	if err != nil {
		var limit *keys.ResendLimitError
		if errors.As(err, &limit) {
			return store.Code{}, limit
		}
		return store.Code{}, fmt.Errorf("issue %s code for account %d: %w", purpose, acct.ID, err)
	}
	return c, nil
}

// Check verifies answer against the code codeID of purpose. It returns nil once, for the right
// answer to the newest code of that purpose while it is valid; ErrWrongCode for a wrong answer
// (spaces and dashes are ignored, see keys.NormalizeCode; anything but 6 digits is wrong without
// costing a try); ErrCodeTries when this wrong answer used up the tries or they were used up
// before; ErrCodeExpired when the code expired, was used, or was superseded by a newer one.
func (k *Kind) Check(ctx context.Context, st keys.CodeStore, acct store.Account, purpose store.CodePurpose, codeID int64, answer string) error {
	now := k.now()
	c, err := st.LatestCode(ctx, acct.ID, purpose)
	if errors.Is(err, store.ErrNotFound) {
		return keys.ErrCodeExpired
	}
	if err != nil {
		return fmt.Errorf("check %s code: %w", purpose, err)
	}
	switch {
	case c.ID != codeID, !c.UsedAt.IsZero(), !now.Before(c.ExpiresAt):
		return keys.ErrCodeExpired
	case c.Attempts >= k.cfg.TriesPerCode:
		return keys.ErrCodeTries
	}
	code, err := keys.NormalizeCode(answer, CodeLength)
	if err != nil {
		return keys.ErrWrongCode // not a code at all: simply wrong, nothing compared
	}
	// Count the try before comparing: parallel answers each get their own count from the
	// atomic increment, so no more than TriesPerCode of them are ever compared.
	n, err := st.AddCodeAttempt(ctx, c.ID)
	if err != nil {
		return fmt.Errorf("check %s code: count attempt: %w", purpose, err)
	}
	if n > k.cfg.TriesPerCode {
		return keys.ErrCodeTries
	}
	if !k.hasher.Equal(k.hash(acct.ID, purpose, c.Target, code), c.Hash) {
		if n == k.cfg.TriesPerCode {
			return keys.ErrCodeTries
		}
		return keys.ErrWrongCode
	}
	ok, err := st.UseCode(ctx, c.ID, now)
	if err != nil {
		return fmt.Errorf("check %s code: use: %w", purpose, err)
	}
	if !ok {
		return keys.ErrCodeExpired // used by a concurrent request
	}
	return nil
}

// hash binds a code to its purpose, account and destination address.
func (k *Kind) hash(accountID int64, purpose store.CodePurpose, to, code string) []byte {
	return k.hasher.Sum(hashDomain, string(purpose), strconv.FormatInt(accountID, 10), to, code)
}
