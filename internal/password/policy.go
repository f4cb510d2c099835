package password

import (
	"unicode/utf8"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
)

// The policy for new passwords.
const (
	// MinLength is the fewest characters (Unicode code points) a new password may have.
	MinLength = 12
	// MaxBytes is the most bytes a new password may have, which bounds the work of hashing it.
	MaxBytes = 1024
)

// Errors ValidateNew returns, for errors.Is (which compares their keys). The returned errors
// carry the limit as argument {0}.
var (
	ErrTooShort = i18n.NewError("password.error.too_short")
	ErrTooLong  = i18n.NewError("password.error.too_long")
	ErrInvalid  = i18n.NewError("password.error.invalid_characters")
)

// ValidateNew checks a password a citizen chooses: valid UTF-8, at least MinLength characters,
// at most MaxBytes bytes. The error is an *i18n.LocalizedError matching ErrTooShort, ErrTooLong
// or ErrInvalid. Passwords are not trimmed or otherwise changed: every character counts.
func ValidateNew(plain string) error {
	switch {
	case len(plain) > MaxBytes:
		return i18n.NewError(ErrTooLong.Key, MaxBytes)
	case !utf8.ValidString(plain):
		return i18n.NewError(ErrInvalid.Key)
	case utf8.RuneCountInString(plain) < MinLength:
		return i18n.NewError(ErrTooShort.Key, MinLength)
	}
	return nil
}
