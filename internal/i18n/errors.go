package i18n

import "errors"

// LocalizedError is an error a citizen may see: a catalogue key and its arguments, translated
// when rendered. Error() returns the key so logs stay language-neutral.
type LocalizedError struct {
	Key  string
	Args []any
	// Err is an optional underlying cause, kept for logs and errors.Is.
	Err error
}

// NewError returns a LocalizedError for key with args.
func NewError(key string, args ...any) *LocalizedError {
	return &LocalizedError{Key: key, Args: args}
}

func (e *LocalizedError) Error() string {
	if e.Err != nil {
		return e.Key + ": " + e.Err.Error()
	}
	return e.Key
}

// Unwrap returns the underlying cause.
func (e *LocalizedError) Unwrap() error { return e.Err }

// Is makes errors.Is match two LocalizedErrors with the same key, so domain packages can
// export sentinel values such as ErrWrongCode.
func (e *LocalizedError) Is(target error) bool {
	t, ok := target.(*LocalizedError)
	return ok && t.Key == e.Key
}

func asLocalized(err error, le **LocalizedError) bool { return errors.As(err, le) }
