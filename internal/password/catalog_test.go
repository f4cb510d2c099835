package password

import (
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
)

func TestPolicyMessages(t *testing.T) {
	t.Parallel()
	b, err := i18n.Load("en")
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range i18n.Languages() {
		for _, le := range []*i18n.LocalizedError{ErrTooShort, ErrTooLong, ErrInvalid, ErrCommon, ErrPersonal} {
			if !b.Has(lang, le.Key) {
				t.Errorf("catalogue %s lacks %s", lang, le.Key)
			}
		}
	}
	if got, want := b.Printer("en").Error(ValidateNew("short", "", "")), "Your password is too short. Use at least 12 characters."; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
}
