package keys

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode"

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
	// Repeated says Begin asked again what an earlier logon was asked and nobody answered yet
	// (a token card's position stays asked until answered right): a restarted logon hoping for
	// another question, which the logon flow records in the audit log.
	Repeated bool `json:"repeated,omitempty"`
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
	// LocalizedError (expired, too many tries) that ends the challenge. Spaces and dashes in
	// the answer are ignored (NormalizeCode).
	Verify(ctx context.Context, st Store, acct store.Account, key store.Key, ch Challenge, answer string) error
}

// CodeAsker is a Challenger whose answer is a code of CodeLength digits (every kind so far; a
// WebAuthn kind would not be one). The logon flow checks the answer's shape with NormalizeCode
// before it reserves an attempt: a format error is not a guess and counts against nothing.
type CodeAsker interface {
	Challenger
	// CodeLength is the number of digits of the code.
	CodeLength() int
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
	// ErrCodeUsed: the answer is a right code that was accepted before (a TOTP step is accepted
	// once). Knowing it is no guess, so it counts as no failure; the citizen waits for the next
	// code and answers the same challenge again.
	ErrCodeUsed = i18n.NewError("login.error.code_used")
	// ErrCodeEmpty: no code was entered (a format error, not an attempt).
	ErrCodeEmpty = i18n.NewError("login.error.code_empty")
	// ErrCodeFormat matches the error NormalizeCode returns for letters or a wrong length (a
	// format error, not an attempt: nothing is counted for it, SPEC §8); that error carries the
	// code's length as argument {0}.
	ErrCodeFormat = i18n.NewError("login.error.code_format")
)

// NormalizeCode is the one reading of a typed code — on the logon's code step, in the
// activation wizard (registration codes, the app's first code) and for the code of a new
// e-mail address. It drops the spaces and dashes that apps, e-mails and cards put inside codes
// ("123 456", "123-456") or that come along when a code is pasted (non-breaking and other
// Unicode spaces, en dashes, the minus sign, invisible format characters), and surrounding
// white space, and checks that length ASCII digits are left. It returns the code, or
// ErrCodeEmpty for an empty answer, or an error matching ErrCodeFormat (with length as argument)
// for anything else: letters, other characters, a wrong length. Either is a format error
// (IsFormatError): the caller counts no attempt for it.
func NormalizeCode(answer string, length int) (string, error) {
	code := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || unicode.Is(unicode.Pd, r) || r == '\u2212' || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, answer)
	switch {
	case code == "":
		return "", ErrCodeEmpty
	case !IsCode(code, length):
		return "", i18n.NewError(ErrCodeFormat.Key, length)
	}
	return code, nil
}

// IsCode reports whether s is exactly length ASCII digits: the shape of every code a kind asks
// for (card codes, e-mailed codes, TOTP codes). A kind treats anything else as a wrong answer;
// the logon flow never hands it one (NormalizeCode).
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

// IsRetryable reports whether err lets the citizen answer the same challenge again.
func IsRetryable(err error) bool {
	return errors.Is(err, ErrWrongCode) || errors.Is(err, ErrCodeUsed) || IsFormatError(err)
}

// IsFormatError reports whether err is about the shape of the answer (NormalizeCode): no
// attempt was made.
func IsFormatError(err error) bool {
	return errors.Is(err, ErrCodeEmpty) || errors.Is(err, ErrCodeFormat)
}
