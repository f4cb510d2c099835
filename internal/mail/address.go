package mail

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
)

// MaxAddressLength is the longest e-mail address accepted (RFC 5321's path limit less the
// angle brackets).
const MaxAddressLength = 254

// maxLocalPartLength is RFC 5321's limit on the part before the @.
const maxLocalPartLength = 64

// ErrInvalidAddress is the error ValidateAddress returns (compare with errors.Is). It is an
// i18n.LocalizedError, so a web form can show it in the citizen's language.
var ErrInvalidAddress = i18n.NewError("mail.error.invalid_address")

// ValidateAddress reports whether addr is an e-mail address Sleutelbos accepts: a bare
// address (no display name, no angle brackets, no surrounding spaces) that net/mail parses to
// itself, at most 254 characters, without control characters, with a dot in the domain. Call it
// where the address is entered; Enqueue checks it again. The error is an *i18n.LocalizedError
// with key "mail.error.invalid_address" wrapping the reason.
func ValidateAddress(addr string) error {
	if err := checkAddress(addr); err != nil {
		return &i18n.LocalizedError{Key: ErrInvalidAddress.Key, Err: err}
	}
	return nil
}

func checkAddress(addr string) error {
	switch {
	case addr == "":
		return errors.New("empty address")
	case len(addr) > MaxAddressLength:
		return fmt.Errorf("address is %d bytes long, the limit is %d", len(addr), MaxAddressLength)
	case strings.ContainsFunc(addr, isControl):
		return errors.New("address contains a control character")
	}
	parsed, err := mail.ParseAddress(addr)
	if err != nil {
		return fmt.Errorf("parse address: %w", err)
	}
	if parsed.Name != "" || parsed.Address != addr {
		return errors.New("not a bare address (display name, brackets, quotes or spaces)")
	}
	at := strings.LastIndexByte(addr, '@')
	local, domain := addr[:at], addr[at+1:]
	switch {
	case len(local) > maxLocalPartLength:
		return fmt.Errorf("local part is %d bytes long, the limit is %d", len(local), maxLocalPartLength)
	case strings.HasPrefix(domain, "["):
		return errors.New("address literals are not accepted")
	case !strings.Contains(domain, "."):
		return errors.New("domain has no dot")
	case strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, ".."):
		return errors.New("domain has an empty label")
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// oneLine flattens s for use in a header: every control character (CR, LF, TAB, …) and line
// or paragraph separator becomes a space, runs of ASCII spaces collapse and the ends are
// trimmed. Header injection needs a line break, so a flattened value can never start a new
// header. No-break spaces are kept.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if isControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	parts := strings.Split(s, " ")
	kept := parts[:0]
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, " ")
}

// mailParseAddress returns the bare address of s, which may carry a display name.
func mailParseAddress(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", err
	}
	return a.Address, nil
}

// MaskAddress shows an address without revealing it: the first character of the local part,
// "•••", and the domain ("d•••@example.org"). Pages use it to say where a code went. Something
// that is not an address becomes "•••".
func MaskAddress(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return "•••"
	}
	first, _ := utf8.DecodeRuneInString(addr)
	return string(first) + "•••" + addr[at:]
}
