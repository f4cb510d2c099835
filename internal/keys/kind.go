package keys

import (
	"context"
	"errors"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Kind names of the built-in key kinds.
const (
	Password  = "password"
	TokenCard = "tokencard"
	EmailCode = "emailcode"
	TOTP      = "totp"
)

// Kind is one kind of digital key.
type Kind interface {
	// Name is the stable identifier stored with each key ("tokencard").
	Name() string
	// Level is the level of assurance a logon with this kind reaches.
	Level() Level
	// AMR lists the RFC 8176 authentication method references of a logon with this kind.
	AMR() []string
}

// Challenge is the second step of a logon, prepared by a Challenger for one key. It is kept in
// the logon transaction between requests (as JSON), so it holds no secret.
type Challenge struct {
	// Prompt is the catalogue key of the instruction ("login.tokencard.prompt"); Args are its
	// arguments (the card position).
	Prompt string   `json:"prompt"`
	Args   []string `json:"args,omitempty"`
	// State is kind-private data the kind needs in Verify (the position asked, a code id).
	State string `json:"state,omitempty"`
}

// Challenger is a kind with a step after username and password.
type Challenger interface {
	Kind
	// Begin prepares the step for key (picking a card position, e-mailing a code). st may be a
	// transaction: a code and its e-mail are written together.
	Begin(ctx context.Context, st store.Store, acct store.Account, key store.Key) (Challenge, error)
	// Verify checks the citizen's answer to ch. key must be the key as currently stored (the
	// logon flow loads it for every answer): a kind may judge the challenge by its state. It
	// returns nil on success, ErrWrongCode when the answer is wrong, or another
	// LocalizedError (expired, too many tries) that ends the challenge. Surrounding spaces in
	// the answer are ignored.
	Verify(ctx context.Context, st store.Store, acct store.Account, key store.Key, ch Challenge, answer string) error
}

// Resender is a Challenger whose citizen may ask for a new code.
type Resender interface {
	Challenger
	// Resend issues a fresh challenge, or a LocalizedError when the resend limit is reached.
	Resend(ctx context.Context, st store.Store, acct store.Account, key store.Key) (Challenge, error)
}

// Errors every kind uses, so the logon flow can react without knowing the kind.
var (
	// ErrWrongCode: the answer is wrong; the citizen may try again.
	ErrWrongCode = i18n.NewError("login.error.wrong_code")
	// ErrCodeExpired: the code is no longer valid; a new one must be requested.
	ErrCodeExpired = i18n.NewError("login.error.code_expired")
	// ErrCodeTries: too many wrong answers for this code; a new one must be requested.
	ErrCodeTries = i18n.NewError("login.error.code_tries")
	// ErrResendLimit: too many codes requested recently.
	ErrResendLimit = i18n.NewError("login.error.resend_limit")
)

// IsRetryable reports whether err lets the citizen answer the same challenge again.
func IsRetryable(err error) bool { return errors.Is(err, ErrWrongCode) }
