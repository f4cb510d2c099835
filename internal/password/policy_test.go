package password

import (
	"errors"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
)

func TestValidateNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		password        string
		username, email string
		want            error // nil, ErrTooShort, ErrTooLong, ErrInvalid, ErrPersonal or ErrCommon
		wantArg         any
	}{
		{"12 ascii", "abcdefghijkl", "", "", nil, nil},
		{"11 ascii", "abcdefghijk", "", "", ErrTooShort, MinLength},
		{"empty", "", "", "", ErrTooShort, MinLength},
		{"12 runes, 24 bytes", strings.Repeat("é", 12), "", "", nil, nil},
		{"11 runes, 33 bytes", strings.Repeat("漢", 11), "", "", ErrTooShort, MinLength},
		{"spaces count", "            ", "", "", nil, nil},
		{"1024 bytes", strings.Repeat("a", 1024), "", "", nil, nil},
		{"1025 bytes", strings.Repeat("a", 1025), "", "", ErrTooLong, MaxBytes},
		{"600 runes, 1200 bytes", strings.Repeat("é", 600), "", "", ErrTooLong, MaxBytes},
		{"invalid utf-8", "abcdefghijkl\xff", "", "", ErrInvalid, nil},
		{"truncated rune", "abcdefghijkl\xc3", "", "", ErrInvalid, nil},
		{"the username", "anna.peeters.1", "anna.peeters.1", "anna@example.org", ErrPersonal, nil},
		{"the username in other case", "Anna.Peeters.1", "anna.peeters.1", "", ErrPersonal, nil},
		{"the e-mail address", "Anna@Example.org", "anna", "anna@example.org", ErrPersonal, nil},
		{"the username and more", "anna.peeters.1!", "anna.peeters.1", "", nil, nil},
		{"common", "password1234", "", "", ErrCommon, nil},
		{"common in other case", "QwertyUIOP123", "", "", ErrCommon, nil},
		{"common, digits only", "123456789012", "", "", ErrCommon, nil},
		{"too short before common", "password", "", "", ErrTooShort, MinLength},
		{"not common", "correct horse battery staple", "", "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateNew(tt.password, tt.username, tt.email)
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

// TestCommonPasswordsFile: the shipped list is what Common's binary search needs — sorted by
// bytes, lower-case, without duplicates or empty lines — and every entry is found, the first
// and last included.
func TestCommonPasswordsFile(t *testing.T) {
	t.Parallel()
	list := commonPasswords()
	if len(list) < 10000 {
		t.Fatalf("%d common passwords, want the shipped list of tens of thousands", len(list))
	}
	if !sort.StringsAreSorted(list) {
		t.Error("common_passwords.txt is not sorted by bytes")
	}
	for i, p := range list {
		switch {
		case p == "":
			t.Errorf("line %d is empty", i+1)
		case p != strings.ToLower(p):
			t.Errorf("line %d %q is not lower case", i+1, p)
		case !utf8.ValidString(p) || strings.ContainsAny(p, "\r\t"):
			t.Errorf("line %d %q has a stray character", i+1, p)
		case i > 0 && list[i-1] == p:
			t.Errorf("line %d %q repeats the line before", i+1, p)
		}
		if !Common(p) || !Common(strings.ToUpper(p)) {
			t.Fatalf("Common(%q) = false for line %d", p, i+1)
		}
	}
	for _, p := range []string{"", "correct horse battery staple", list[0] + "\x00", "zzzzzzzzzzzzzzzzzzzzzz"} {
		if Common(p) {
			t.Errorf("Common(%q) = true", p)
		}
	}
}
