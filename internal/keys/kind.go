package keys

import (
	"context"
	"errors"
	"strings"
	"time"

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

// Store is the storage a kind works with: the codes it checks, the counters it advances, and
// transactions for a step that must write several rows together (a code and its e-mail) or
// lock the account (choosing a card position). Inside a transaction a kind views the store
// through a narrow interface of its own (store.InTx). The logon flow and the portal hand a
// kind their store (store.Store implements Store). A kind never creates a key itself: an
// Enroller returns the key and the portal creates it with what goes with it.
type Store interface {
	store.Transactor
	CodeStore
	// AdvanceKeyCounter accepts a TOTP step once across all nodes (see store.Keys).
	AdvanceKeyCounter(ctx context.Context, id int64, to int64) (bool, error)
}

// CodeStore is the storage of one-time codes a kind checks answers against (see store.Codes).
// Its methods are single statements, atomic on their own: checking an enrolment's answer gets
// only this, never a transaction, so what the check counts stays counted.
type CodeStore interface {
	LatestCode(ctx context.Context, accountID int64, purpose store.CodePurpose) (store.Code, error)
	AddCodeAttempt(ctx context.Context, id int64) (int, error)
	UseCode(ctx context.Context, id int64, at time.Time) (bool, error)
}

var (
	_ Store     = store.Store(nil)
	_ CodeStore = store.Store(nil)
)

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
	// Begin prepares the step for key (picking a card position, e-mailing a code), in a
	// transaction of its own where it writes several rows (st may already be one).
	Begin(ctx context.Context, st Store, acct store.Account, key store.Key) (Challenge, error)
	// Verify checks the citizen's answer to ch. key must be the key as currently stored (the
	// logon flow loads it for every answer): a kind may judge the challenge by its state. It
	// returns nil on success, ErrWrongCode when the answer is wrong, or another
	// LocalizedError (expired, too many tries) that ends the challenge. Surrounding spaces in
	// the answer are ignored.
	Verify(ctx context.Context, st Store, acct store.Account, key store.Key, ch Challenge, answer string) error
}

// Resender is a Challenger whose citizen may ask for a new code.
type Resender interface {
	Challenger
	// Resend issues a fresh challenge, or a LocalizedError when the resend limit is reached.
	Resend(ctx context.Context, st Store, acct store.Account, key store.Key) (Challenge, error)
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

// IsCode reports whether s is exactly length ASCII digits: the shape of every code a kind asks
// for (card codes, e-mailed codes, TOTP codes). Anything else is simply a wrong answer.
func IsCode(s string, length int) bool {
	if len(s) != length {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ErrCodeFormat says an answer cannot be a code at all (empty, letters, a wrong length). It is
// not an attempt: nothing is counted for it (SPEC §8).
var ErrCodeFormat = i18n.NewError("login.error.code_format")

// NormalizeCode returns answer without its whitespace (spaces, tabs, line breaks, no-break
// spaces — people copy "123 456") when what is left is a code of length digits (IsCode), and
// ErrCodeFormat otherwise. It is the one normalisation of a typed code: the activation wizard
// and the e-mail change use it before anything is counted, and the logon flow can too.
func NormalizeCode(answer string, length int) (string, error) {
	code := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r', '\u00a0':
			return -1
		}
		return r
	}, answer)
	if !IsCode(code, length) {
		return "", ErrCodeFormat
	}
	return code, nil
}

// IsRetryable reports whether err lets the citizen answer the same challenge again.
func IsRetryable(err error) bool { return errors.Is(err, ErrWrongCode) }
