package password

import (
	_ "embed"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
)

// The policy for new passwords: one for every way a password is chosen (admin users add and
// set-password, self-registration, and later the forgotten-password reset).
const (
	// MinLength is the fewest characters (Unicode code points) a new password may have.
	MinLength = 12
	// MaxBytes is the most bytes a new password may have, which bounds the work of hashing it.
	MaxBytes = 1024
)

// Errors ValidateNew returns, for errors.Is (which compares their keys). ErrTooShort and
// ErrTooLong carry the limit as argument {0}.
var (
	ErrTooShort = i18n.NewError("password.error.too_short")
	ErrTooLong  = i18n.NewError("password.error.too_long")
	ErrInvalid  = i18n.NewError("password.error.invalid_characters")
	// ErrCommon: the password is one of the passwords people choose most (common_passwords.txt).
	ErrCommon = i18n.NewError("password.error.common")
	// ErrPersonal: the password is the username or the e-mail address.
	ErrPersonal = i18n.NewError("password.error.personal")
)

// ValidateNew checks a password a citizen chooses: valid UTF-8, at least MinLength characters,
// at most MaxBytes bytes, not the citizen's username or e-mail address, and not one of the
// passwords people choose most — those last two compared without regard to letter case, since
// guessers try every capitalisation. username and email may be empty (not known). The error is
// an *i18n.LocalizedError matching ErrTooShort, ErrTooLong, ErrInvalid, ErrPersonal or
// ErrCommon. Passwords are not trimmed or otherwise changed: every character counts.
func ValidateNew(plain, username, email string) error {
	switch {
	case len(plain) > MaxBytes:
		return i18n.NewError(ErrTooLong.Key, MaxBytes)
	case !utf8.ValidString(plain):
		return i18n.NewError(ErrInvalid.Key)
	case utf8.RuneCountInString(plain) < MinLength:
		return i18n.NewError(ErrTooShort.Key, MinLength)
	case personal(plain, username), personal(plain, email):
		return i18n.NewError(ErrPersonal.Key)
	case Common(plain):
		return i18n.NewError(ErrCommon.Key)
	}
	return nil
}

// personal reports whether plain is v, in any letter case (v empty: unknown, never matches).
func personal(plain, v string) bool {
	v = strings.TrimSpace(v)
	return v != "" && strings.EqualFold(plain, v)
}

// commonPasswordsFile is the list of common passwords shipped with the binary: lower-case,
// sorted by bytes, one a line (see common_passwords.NOTICE for its source and licence).
//
//go:embed common_passwords.txt
var commonPasswordsFile string

// commonPasswords is the list as a sorted slice, split once on first use. It is never changed
// after that.
var commonPasswords = sync.OnceValue(func() []string {
	return strings.Split(strings.TrimSuffix(commonPasswordsFile, "\n"), "\n")
})

// Common reports whether plain, in lower case, is on the list of common passwords.
func Common(plain string) bool {
	list := commonPasswords()
	p := strings.ToLower(plain)
	i := sort.SearchStrings(list, p)
	return i < len(list) && list[i] == p
}
