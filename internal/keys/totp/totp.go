package totp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	otptotp "github.com/pquerna/otp/totp"

	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// SecretSize is the length of a secret in bytes (160 bits, as RFC 4226 recommends).
const SecretSize = 20

// Digits is the length of a code.
const Digits = 6

// DefaultPeriod is the RFC 6238 time step.
const DefaultPeriod = 30 * time.Second

// ErrReplayed is returned when a code's time step was already accepted: keys.ErrCodeUsed
// ("login.error.code_used"). Only someone who knows the code can replay it, so the logon does
// not count it as a failed attempt; the citizen answers again with the next step's code.
var ErrReplayed = keys.ErrCodeUsed

// Config holds the TOTP parameters.
type Config struct {
	// Issuer names the service in the authenticator app (the service name); required.
	Issuer string
	// Skew is how many steps before and after the current one are accepted. DefaultConfig sets
	// 1; zero accepts only the current step.
	Skew uint
	// Period is the time step; zero means 30 seconds. Apps only support whole seconds.
	Period time.Duration
	// EnrolmentWindow is how long a secret shown for activation can be confirmed with a code
	// from the app; zero means 10 minutes (time to install an app and scan).
	EnrolmentWindow time.Duration
}

// DefaultEnrolmentWindow is the default Config.EnrolmentWindow.
const DefaultEnrolmentWindow = 10 * time.Minute

// DefaultConfig returns the defaults for issuer: skew 1, period 30 s.
func DefaultConfig(issuer string) Config {
	return Config{Issuer: issuer, Skew: 1, Period: DefaultPeriod, EnrolmentWindow: DefaultEnrolmentWindow}
}

// Kind is the totp key kind.
type Kind struct {
	cfg     Config
	keyring *secrets.Keyring
	rand    io.Reader
	now     func() time.Time
}

var (
	_ keys.Kind       = (*Kind)(nil)
	_ keys.Challenger = (*Kind)(nil)
	_ keys.CodeAsker  = (*Kind)(nil)
	_ keys.Enroller   = (*Kind)(nil)
	_ keys.Preparer   = (*Kind)(nil)
)

// New returns the totp kind. kr seals secrets, rand draws them (crypto/rand.Reader in
// production), now is the clock.
func New(cfg Config, kr *secrets.Keyring, rand io.Reader, now func() time.Time) (*Kind, error) {
	if cfg.Period == 0 {
		cfg.Period = DefaultPeriod
	}
	if cfg.EnrolmentWindow == 0 {
		cfg.EnrolmentWindow = DefaultEnrolmentWindow
	}
	var errs []error
	if strings.TrimSpace(cfg.Issuer) == "" {
		errs = append(errs, errors.New("issuer is empty"))
	}
	if strings.Contains(cfg.Issuer, ":") {
		errs = append(errs, fmt.Errorf("issuer %q contains a colon", cfg.Issuer))
	}
	if cfg.Period < time.Second || cfg.Period%time.Second != 0 {
		errs = append(errs, fmt.Errorf("period %v: want a whole number of seconds", cfg.Period))
	}
	if cfg.EnrolmentWindow < time.Minute {
		errs = append(errs, fmt.Errorf("enrolment window %v: want at least 1m", cfg.EnrolmentWindow))
	}
	if cfg.Skew > 10 {
		errs = append(errs, fmt.Errorf("skew %d: want at most 10 steps", cfg.Skew))
	}
	if kr == nil {
		errs = append(errs, errors.New("keyring is nil"))
	}
	if rand == nil {
		errs = append(errs, errors.New("random source is nil"))
	}
	if now == nil {
		errs = append(errs, errors.New("clock is nil"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("totp: %w", err)
	}
	return &Kind{cfg: cfg, keyring: kr, rand: rand, now: now}, nil
}

// Name returns "totp".
func (*Kind) Name() string { return keys.TOTP }

// Level returns keys.LevelSubstantial.
func (*Kind) Level() keys.Level { return keys.LevelSubstantial }

// AMR returns ["pwd", "otp", "mfa"] (RFC 8176).
func (*Kind) AMR() []string { return []string{"pwd", "otp", "mfa"} }

// CodeLength returns Digits.
func (*Kind) CodeLength() int { return Digits }

// Begin returns the prompt; there is nothing to prepare.
func (*Kind) Begin(ctx context.Context, st keys.Store, acct store.Account, key store.Key) (keys.Challenge, error) {
	return keys.Challenge{Prompt: "login.totp.prompt"}, nil
}

// Verify checks answer against the key's secret for the current step ±Skew and accepts the
// matching step only if it is later than every step accepted before (ErrReplayed otherwise).
func (k *Kind) Verify(ctx context.Context, st keys.Store, acct store.Account, key store.Key, ch keys.Challenge, answer string) error {
	secret, err := k.keyring.Decrypt(key.Data, keyAAD(key.AccountID))
	if err != nil {
		return fmt.Errorf("totp verify key %d: %w", key.ID, err)
	}
	step, ok, err := k.match(secret, answer)
	if err != nil {
		return fmt.Errorf("totp verify key %d: %w", key.ID, err)
	}
	if !ok {
		return keys.ErrWrongCode
	}
	advanced, err := st.AdvanceKeyCounter(ctx, key.ID, step)
	if err != nil {
		return fmt.Errorf("totp verify key %d: %w", key.ID, err)
	}
	if !advanced {
		return ErrReplayed
	}
	return nil
}

// BeginEnrolment draws a fresh secret and returns it sealed in the enrolment's state (bound to
// the account), valid for the enrolment window. Nothing is stored: the key is created when the
// citizen's app shows a code that matches.
func (k *Kind) BeginEnrolment(ctx context.Context, st keys.Store, acct store.Account) (keys.Enrolment, error) {
	secret, err := secrets.Generate(k.rand, SecretSize)
	if err != nil {
		return keys.Enrolment{}, fmt.Errorf("totp enrolment: %w", err)
	}
	sealed, err := k.keyring.Encrypt(secret, enrolAAD(acct.ID))
	if err != nil {
		return keys.Enrolment{}, fmt.Errorf("totp enrolment: %w", err)
	}
	now := k.now()
	return keys.Enrolment{
		Kind:      keys.TOTP,
		StartedAt: now,
		ExpiresAt: now.Add(k.cfg.EnrolmentWindow),
		State:     base64.RawURLEncoding.EncodeToString(sealed),
	}, nil
}

// Preparation is the instruction shown before the secret: install an authenticator app.
func (*Kind) Preparation() string { return "portal.totp.prepare" }

// ViewEnrolment returns the otpauth:// URI (for the QR code), the secret in base32 groups of
// four and how long a code stays valid (the steps accepted around now).
func (k *Kind) ViewEnrolment(acct store.Account, e keys.Enrolment) (keys.EnrolmentView, error) {
	secret, err := k.enrolmentSecret(acct, e)
	if err != nil {
		return keys.EnrolmentView{}, err
	}
	uri, err := k.URI(acct.Username, secret)
	if err != nil {
		return keys.EnrolmentView{}, fmt.Errorf("totp enrolment: %w", err)
	}
	window := int(k.cfg.Period/time.Second) * int(2*k.cfg.Skew)
	if k.cfg.Skew == 0 {
		window = int(k.cfg.Period / time.Second)
	}
	return keys.EnrolmentView{URI: uri, Secret: GroupedSecret(secret), WindowSeconds: window}, nil
}

// NormalizeAnswer returns the 6 digits of answer (keys.NormalizeCode: spaces and dashes
// ignored) or a format error (keys.ErrCodeEmpty, keys.ErrCodeFormat).
func (*Kind) NormalizeAnswer(answer string) (string, error) {
	return keys.NormalizeCode(answer, Digits)
}

// CheckEnrolment checks answer against the enrolment's secret (current step ±Skew: the SPEC's
// 60-second window) and, when right, returns the key to create, with the secret sealed for the
// account and the counter at the accepted step, so the registration code never logs on.
func (k *Kind) CheckEnrolment(ctx context.Context, st keys.CodeStore, acct store.Account, e keys.Enrolment, answer string) (store.Key, error) {
	if e.Kind != keys.TOTP {
		return store.Key{}, fmt.Errorf("totp enrolment: enrolment of kind %q", e.Kind)
	}
	secret, err := k.enrolmentSecret(acct, e)
	if err != nil {
		return store.Key{}, err
	}
	now := k.now()
	if e.Expired(now) {
		return store.Key{}, keys.ErrCodeExpired
	}
	step, ok, err := k.match(secret, answer)
	if err != nil {
		return store.Key{}, fmt.Errorf("totp enrolment: %w", err)
	}
	if !ok {
		return store.Key{}, keys.ErrWrongCode
	}
	key, err := k.NewKey(acct.ID, secret, now)
	if err != nil {
		return store.Key{}, fmt.Errorf("totp enrolment: %w", err)
	}
	key.Counter = step
	return key, nil
}

// enrolmentSecret opens the secret sealed in e for acct.
func (k *Kind) enrolmentSecret(acct store.Account, e keys.Enrolment) ([]byte, error) {
	sealed, err := base64.RawURLEncoding.DecodeString(e.State)
	if err != nil {
		return nil, fmt.Errorf("totp enrolment: state: %w", err)
	}
	secret, err := k.keyring.Decrypt(sealed, enrolAAD(acct.ID))
	if err != nil {
		return nil, fmt.Errorf("totp enrolment: state: %w", err)
	}
	return secret, nil
}

// NewKey returns an active totp key (not yet stored) for accountID with secret sealed; the demo
// uses it with NewSecretForDemo.
func (k *Kind) NewKey(accountID int64, secret []byte, now time.Time) (store.Key, error) {
	if len(secret) < 16 {
		return store.Key{}, fmt.Errorf("new totp key: secret is %d bytes, want at least 16", len(secret))
	}
	sealed, err := k.keyring.Encrypt(secret, keyAAD(accountID))
	if err != nil {
		return store.Key{}, fmt.Errorf("new totp key: %w", err)
	}
	return store.Key{
		AccountID:   accountID,
		Kind:        keys.TOTP,
		Status:      store.KeyActive,
		Data:        sealed,
		CreatedAt:   now,
		ActivatedAt: now,
	}, nil
}

// URI returns the otpauth:// URI an authenticator app scans: label "Issuer:username", issuer,
// SHA1, 6 digits and the period.
func (k *Kind) URI(username string, secret []byte) (string, error) {
	key, err := otptotp.Generate(otptotp.GenerateOpts{
		Issuer:      k.cfg.Issuer,
		AccountName: username,
		Period:      uint(k.cfg.Period / time.Second),
		Secret:      secret,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", fmt.Errorf("otpauth uri: %w", err)
	}
	return key.URL(), nil
}

// match finds the step in now's window whose code equals answer. Every step of the window is
// computed and compared in constant time; when two steps share the code the latest wins.
func (k *Kind) match(secret []byte, answer string) (step int64, ok bool, err error) {
	code, err := keys.NormalizeCode(answer, Digits)
	if err != nil {
		return 0, false, nil // not a code at all: simply wrong, nothing compared
	}
	period := int64(k.cfg.Period / time.Second)
	cur := k.now().Unix() / period
	b32 := encodeSecret(secret)
	skew := int64(k.cfg.Skew)
	for s := cur - skew; s <= cur+skew; s++ {
		if s < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(b32, uint64(s), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, false, fmt.Errorf("totp code: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			step, ok = s, true
		}
	}
	return step, ok, nil
}

// Code returns the code of secret at t with the default parameters (SHA1, 6 digits, 30 s), as an
// authenticator app would show it. For tests and the demo helper.
func Code(secret []byte, t time.Time) string {
	code, err := hotp.GenerateCodeCustom(encodeSecret(secret), uint64(t.Unix()/int64(DefaultPeriod/time.Second)),
		hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		panic(fmt.Sprintf("totp code: %v", err)) // unreachable: encodeSecret yields valid base32
	}
	return code
}

// NewSecretForDemo derives the demo citizen's secret from the demo seed and username, so that
// `serve --demo` can print it (and a test compute codes) without storing it in plaintext. Never
// use it for real accounts.
func NewSecretForDemo(seed []byte, username string) []byte {
	mac := hmac.New(sha256.New, seed)
	mac.Write([]byte("sleutelbos demo totp\x00" + username))
	return mac.Sum(nil)[:SecretSize]
}

// GroupedSecret returns the base32 form of secret in groups of four characters ("ABCD EFGH …"),
// for manual entry.
func GroupedSecret(secret []byte) string {
	s := encodeSecret(secret)
	var sb strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(s[i:min(i+4, len(s))])
	}
	return sb.String()
}

func encodeSecret(secret []byte) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
}

func keyAAD(accountID int64) []byte {
	return []byte("totp:" + strconv.FormatInt(accountID, 10))
}

func enrolAAD(accountID int64) []byte {
	return []byte("totp-enrol:" + strconv.FormatInt(accountID, 10))
}
