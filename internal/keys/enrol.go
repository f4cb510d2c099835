package keys

import (
	"context"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Enrolment is the activation of a new key in progress. The portal keeps it in the activation
// wizard's state in the server-side session (as JSON), so it holds no secret in the clear: a
// TOTP secret is sealed with the keyring, an e-mailed code exists only as a hash in the store.
type Enrolment struct {
	Kind string `json:"kind"`
	// StartedAt is when the enrolment began; ExpiresAt when its answer stops being accepted
	// (an e-mailed code's validity, an app secret's enrolment window).
	StartedAt time.Time `json:"started_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// State is kind-private (a code id, a sealed TOTP secret).
	State string `json:"state,omitempty"`
}

// Expired reports whether e no longer accepts an answer at now.
func (e Enrolment) Expired(now time.Time) bool { return !now.Before(e.ExpiresAt) }

// EnrolmentView is what the activation page shows of an enrolment. It may hold a secret (the
// TOTP secret the citizen types into an app): it is computed per request and never stored or
// logged.
type EnrolmentView struct {
	// Address is where the registration code was sent (emailcode); pages show it masked.
	Address string
	// CodeMinutes is how long an e-mailed registration code is valid.
	CodeMinutes int
	// URI is the otpauth:// URI an authenticator app scans (totp), Secret the same secret in
	// base32 groups of four for manual entry, and WindowSeconds how long an app's code stays
	// valid ("This code remains valid for just 60 seconds").
	URI           string
	Secret        string
	WindowSeconds int
}

// Enroller is a kind that citizens can activate in My digital keys. The kind checks the
// citizen's answer and returns the key to create; the portal creates it, together with what
// goes with it (a replaced key deactivated, the e-mails, the audit events), in one transaction.
// The portal also counts wrong answers in the attempts store before they are compared, so a
// kind only judges the answer.
type Enroller interface {
	Kind
	// BeginEnrolment starts activating a key for acct: it draws a secret or e-mails a
	// registration code. st is usually the caller's transaction (Tx on it joins it): a code and
	// its e-mail then commit with the caller's record of the enrolment. A LocalizedError (a
	// resend limit) is for the citizen.
	BeginEnrolment(ctx context.Context, st Store, acct store.Account) (Enrolment, error)
	// ViewEnrolment returns what the activation page shows of e.
	ViewEnrolment(acct store.Account, e Enrolment) (EnrolmentView, error)
	// NormalizeAnswer returns the answer as CheckEnrolment expects it, or a format error
	// (IsFormatError: ErrCodeEmpty, ErrCodeFormat) when it cannot be one (empty, letters, a
	// wrong length). A malformed answer is not an attempt: the caller counts nothing for it.
	// Kinds whose answer is a code of digits use NormalizeCode, as the logon's code step does.
	NormalizeAnswer(answer string) (string, error)
	// CheckEnrolment compares a normalised answer with e and, when it is right, returns the
	// active key to create (not stored: ID is zero). Wrong answers give ErrWrongCode
	// (retryable); an expired enrolment or code ErrCodeExpired; a code whose tries are used
	// up ErrCodeTries. st is not a transaction: what the check counts stays counted.
	CheckEnrolment(ctx context.Context, st CodeStore, acct store.Account, e Enrolment, answer string) (store.Key, error)
}

// EnrolmentResender is an Enroller whose citizen may ask for a new registration code.
type EnrolmentResender interface {
	Enroller
	// ResendEnrolment sends a new code, which supersedes the previous one, and returns the
	// enrolment with its new state and expiry; ErrResendLimit when too many were sent.
	// st is usually the caller's transaction, as for BeginEnrolment.
	ResendEnrolment(ctx context.Context, st Store, acct store.Account, e Enrolment) (Enrolment, error)
}

// Preparer is an Enroller whose citizen first has to prepare something before the enrolment
// begins (install an authenticator app). The wizard shows the instruction, then begins.
type Preparer interface {
	Enroller
	// Preparation returns the catalogue key of the instruction.
	Preparation() string
}
