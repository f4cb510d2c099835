package keys

import (
	"fmt"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
)

// Catalogue keys of the resend limit message: how long until a new code may be requested.
const (
	keyResendWait       = "login.error.resend_wait"        // {0} = minutes, more than one
	keyResendWaitMinute = "login.error.resend_wait_minute" // one minute
)

// ResendLimitError says a kind sent too many codes recently, and how long until it may send
// another. errors.Is(err, ErrResendLimit) matches it; it unwraps to the LocalizedError the
// citizen sees ("You can request a new code in 7 minutes.").
type ResendLimitError struct {
	// Wait is how long from now until a new code may be sent.
	Wait time.Duration

	minutes int
	msg     *i18n.LocalizedError
}

// NewResendLimitError returns the error for a new code that may be sent wait from now.
func NewResendLimitError(wait time.Duration) *ResendLimitError {
	// Whole minutes, rounded up — after dropping what is under a second, so a wait of 9 minutes
	// and a microsecond (a code issued exactly a window ago still counts) reads "9 minutes".
	minutes := int((wait.Truncate(time.Second) + time.Minute - 1) / time.Minute)
	key, args := keyResendWait, []any{minutes}
	if minutes <= 1 {
		minutes, key, args = 1, keyResendWaitMinute, nil
	}
	return &ResendLimitError{Wait: wait, minutes: minutes, msg: i18n.NewError(key, args...)}
}

// Error describes the limit for logs.
func (e *ResendLimitError) Error() string {
	return fmt.Sprintf("%v: a new code may be sent in %s", ErrResendLimit.Key, e.Wait)
}

// Is reports whether target is ErrResendLimit.
func (e *ResendLimitError) Is(target error) bool { return target == ErrResendLimit }

// Unwrap returns the message for the citizen.
func (e *ResendLimitError) Unwrap() error { return e.msg }

// Minutes returns the wait in whole minutes as the citizen is told (at least 1).
func (e *ResendLimitError) Minutes() int { return e.minutes }
