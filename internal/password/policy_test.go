package password

import (
	"errors"
	"strings"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
)

func TestValidateNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		password string
		want     error // nil, ErrTooShort, ErrTooLong or ErrInvalid
		wantArg  any
	}{
		{"12 ascii", "abcdefghijkl", nil, nil},
		{"11 ascii", "abcdefghijk", ErrTooShort, MinLength},
		{"empty", "", ErrTooShort, MinLength},
		{"12 runes, 24 bytes", strings.Repeat("é", 12), nil, nil},
		{"11 runes, 33 bytes", strings.Repeat("漢", 11), ErrTooShort, MinLength},
		{"spaces count", "            ", nil, nil},
		{"1024 bytes", strings.Repeat("a", 1024), nil, nil},
		{"1025 bytes", strings.Repeat("a", 1025), ErrTooLong, MaxBytes},
		{"600 runes, 1200 bytes", strings.Repeat("é", 600), ErrTooLong, MaxBytes},
		{"invalid utf-8", "abcdefghijkl\xff", ErrInvalid, nil},
		{"truncated rune", "abcdefghijkl\xc3", ErrInvalid, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateNew(tt.password)
			if tt.want == nil {
				if err != nil {
					t.Errorf("ValidateNew = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("ValidateNew = %v, want %v", err, tt.want)
			}
			var le *i18n.LocalizedError
			if !errors.As(err, &le) {
				t.Fatalf("ValidateNew = %T, want an *i18n.LocalizedError", err)
			}
			var wantArgs []any
			if tt.wantArg != nil {
				wantArgs = []any{tt.wantArg}
			}
			if len(le.Args) != len(wantArgs) || (len(wantArgs) == 1 && le.Args[0] != wantArgs[0]) {
				t.Errorf("ValidateNew args = %v, want %v", le.Args, wantArgs)
			}
		})
	}
}
