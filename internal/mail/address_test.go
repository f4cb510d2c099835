package mail

import (
	"errors"
	"strings"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
)

func TestValidateAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		ok   bool
	}{
		{"jan@example.be", true},
		{"jan.peeters+sleutelbos@mail.example.co.uk", true},
		{"o'brien@example.ie", true},
		{"JAN@EXAMPLE.BE", true},
		{strings.Repeat("a", 64) + "@example.be", true},
		{"a@" + strings.Repeat("b", 245) + ".be", true}, // exactly 250
		{"", false},
		{"jan", false},
		{"jan@localhost", false},
		{"jan@example", false},
		{"Jan <jan@example.be>", false},
		{"<jan@example.be>", false},
		{" jan@example.be", false},
		{"jan@example.be ", false},
		{"jan@example.be\r\nBcc: evil@x.be", false},
		{"jan@example.be\nBcc: evil@x.be", false},
		{"jan\x00@example.be", false},
		{"jan@@example.be", false},
		{"jan@example..be", false},
		{"jan@.example.be", false},
		{"jan@example.be.", false},
		{"jan@[192.0.2.1]", false},
		{"jan@example.be, piet@example.be", false},
		{`"jan peeters"@example.be`, false},
		{strings.Repeat("a", 65) + "@example.be", false},
		{"a@" + strings.Repeat("b", 250) + ".be", false}, // 255
	}
	for _, tt := range tests {
		err := ValidateAddress(tt.addr)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateAddress(%q) = %v, want ok=%v", tt.addr, err, tt.ok)
			continue
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("ValidateAddress(%q) = %v, want errors.Is ErrInvalidAddress", tt.addr, err)
		}
		var le *i18n.LocalizedError
		if !errors.As(err, &le) || le.Key != "mail.error.invalid_address" || le.Err == nil {
			t.Errorf("ValidateAddress(%q) = %#v, want a LocalizedError mail.error.invalid_address with a cause", tt.addr, err)
		}
	}
}

func TestOneLine(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"Jan Peeters", "Jan Peeters"},
		{"Jan\r\nBcc: evil@x", "Jan Bcc: evil@x"},
		{"  Jan \t Peeters\n", "Jan Peeters"},
		{"a\u2028b\u0085c", "a b c"},
		{"vous\u00a0?", "vous\u00a0?"},
	}
	for _, tt := range tests {
		if got := oneLine(tt.in); got != tt.want {
			t.Errorf("oneLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWrapText(t *testing.T) {
	t.Parallel()
	long := "https://login.example.be/" + strings.Repeat("x", 80)
	tests := []struct {
		in    string
		width int
		want  string
	}{
		{"short line\n    123456", 20, "short line\n    123456"},
		{"one two three four five", 10, "one two\nthree four\nfive"},
		{"see " + long + " now", 20, "see\n" + long + "\nnow"},
		{"ne\u00a0pas couper\u00a0?", 12, "ne\u00a0pas\ncouper\u00a0?"},
	}
	for _, tt := range tests {
		if got := wrapText(tt.in, tt.width); got != tt.want {
			t.Errorf("wrapText(%q, %d) = %q, want %q", tt.in, tt.width, got, tt.want)
		}
	}
}

func TestMaskAddress(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"demo@example.org", "d•••@example.org"},
		{"j@example.be", "j•••@example.be"},
		{"jan.peeters@mail.example.be", "j•••@mail.example.be"},
		{"élise.dupont@example.fr", "é•••@example.fr"},
		{"a@b@example.be", "a•••@example.be"},
		{`"a@b"@example.org`, `"•••@example.org`},
		{"", "•••"},
		{"no-at-sign", "•••"},
		{"@example.be", "•••"},
		{"jan@", "•••"},
	} {
		if got := MaskAddress(tt.in); got != tt.want {
			t.Errorf("MaskAddress(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
