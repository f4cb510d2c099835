package signup

import (
	"errors"
	"strings"

	"github.com/sleutelbos/sleutelbos/internal/account"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/password"
)

// The fields of the registration form, as FieldError names them.
const (
	FieldUsername = "username"
	FieldName     = "name"
	FieldEmail    = "email"
	FieldLanguage = "language"
	FieldPassword = "password"
	FieldConfirm  = "confirm"
)

// Form is what the citizen fills in to register.
type Form struct {
	Username, Name, Email, Language string
	// Password and Confirm are the password typed twice; neither is ever kept.
	Password, Confirm string
}

// ErrConfirm: the password and its confirmation differ.
var ErrConfirm = i18n.NewError("signup.error.confirm")

// ErrUsernameIsPassword: the username chosen after the code is the password (the password
// policy's rule, seen from the other side).
var ErrUsernameIsPassword = i18n.NewError("signup.error.username_is_password")

// FieldError is the problem of one field of the form.
type FieldError struct {
	// Field is one of the Field… names.
	Field string
	Err   *i18n.LocalizedError
}

// InvalidError lists every problem of a form, in the order of its fields. Nothing was written
// and no attempt was counted: it is the citizen's typing, not a guess.
type InvalidError struct {
	Fields []FieldError
}

func (e *InvalidError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Err.Key
	}
	return "invalid registration: " + strings.Join(parts, ", ")
}

// fieldError returns an InvalidError about one field.
func fieldError(field string, err error) *InvalidError {
	return &InvalidError{Fields: []FieldError{{Field: field, Err: localized(err)}}}
}

// localized returns err's message for the citizen.
func localized(err error) *i18n.LocalizedError {
	var le *i18n.LocalizedError
	if errors.As(err, &le) {
		return le
	}
	return i18n.NewError("error.generic")
}

// normalize trims what is not part of the value (spaces around the username, name and
// address; never anything of a password).
func (f Form) normalize() Form {
	f.Username, f.Name, f.Email = normalizeUsername(f.Username), strings.TrimSpace(f.Name), strings.TrimSpace(f.Email)
	return f
}

// validate returns every problem of f (normalized) as an *InvalidError, or nil. The rules are
// those of every account (internal/account) and the one password policy (internal/password).
func (f Form) validate() error {
	var fields []FieldError
	add := func(field string, err error) {
		if err != nil {
			fields = append(fields, FieldError{Field: field, Err: localized(err)})
		}
	}
	add(FieldUsername, account.ValidateUsername(f.Username))
	add(FieldName, account.ValidateName(f.Name))
	add(FieldEmail, mail.ValidateAddress(f.Email))
	add(FieldLanguage, account.ValidateLanguage(f.Language))
	add(FieldPassword, password.ValidateNew(f.Password, f.Username, f.Email))
	if f.Confirm != f.Password {
		add(FieldConfirm, ErrConfirm)
	}
	if len(fields) > 0 {
		return &InvalidError{Fields: fields}
	}
	return nil
}

// normalizeUsername trims the spaces around a username.
func normalizeUsername(u string) string { return strings.TrimSpace(u) }

// validateUsername checks a username by the rules of every account.
func validateUsername(u string) error { return account.ValidateUsername(u) }
