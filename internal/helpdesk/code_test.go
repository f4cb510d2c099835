package helpdesk

import (
	"bytes"
	"testing"
)

func TestRecoveryCodeReading(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		typed, want string
		ok          bool
	}{
		{"ABCD-EFGH-JKLM-NPQR", "ABCDEFGHJKLMNPQR", true},
		{" abcd efgh\tjklm npqr ", "ABCDEFGHJKLMNPQR", true},
		{"ABCDEFGHJKLMNPQ", "", false},   // 15 characters
		{"ABCDEFGHJKLMNPQRS", "", false}, // 17
		{"ABCD-EFGH-JKLM-NPQ0", "", false},
		{"ABCD-EFGH-JKLM-NPQI", "", false}, // I and O, 0 and 1 are not in the alphabet
		{"", "", false},
		{"ABCD-EFGH-JKLM-NPQ€", "", false},
	} {
		got, ok := NormalizeRecoveryCode(c.typed)
		if got != c.want || ok != c.ok {
			t.Errorf("NormalizeRecoveryCode(%q) = %q, %v; want %q, %v", c.typed, got, ok, c.want, c.ok)
		}
	}
	if got := FormatRecoveryCode("ABCDEFGHJKLMNPQR"); got != "ABCD-EFGH-JKLM-NPQR" {
		t.Errorf("FormatRecoveryCode = %q", got)
	}
	// Every code drawn reads back as itself, formatted or not.
	for i := range 64 {
		raw := bytes.Repeat([]byte{byte(i * 4)}, 10)
		code := recoveryEncoding.EncodeToString(raw)
		if len(code) != RecoveryCodeLength {
			t.Fatalf("code %q has %d characters", code, len(code))
		}
		if got, ok := NormalizeRecoveryCode(FormatRecoveryCode(code)); !ok || got != code {
			t.Errorf("%q read back as %q, %v", code, got, ok)
		}
	}
}
