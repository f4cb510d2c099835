package keys

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
)

func TestResendLimitError(t *testing.T) {
	t.Parallel()
	b, err := i18n.Load("en")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		wait    time.Duration
		minutes int
		text    string
	}{
		{12 * time.Minute, 12, "You can request a new code in 12 minutes."},
		{9*time.Minute + time.Microsecond, 9, "in 9 minutes."}, // a code exactly a window old still counts
		{9*time.Minute + time.Second, 10, "in 10 minutes."},
		{90 * time.Second, 2, "in 2 minutes."},
		{30 * time.Second, 1, "in 1 minute."},
		{0, 1, "in 1 minute."},
	} {
		e := NewResendLimitError(tt.wait)
		if !errors.Is(e, ErrResendLimit) || e.Minutes() != tt.minutes || e.Wait != tt.wait {
			t.Errorf("wait %s: Is(ErrResendLimit) %v, %d minutes; want true, %d", tt.wait, errors.Is(e, ErrResendLimit), e.Minutes(), tt.minutes)
		}
		var le *i18n.LocalizedError
		if !errors.As(e, &le) {
			t.Fatalf("wait %s: no LocalizedError", tt.wait)
		}
		for _, lang := range i18n.Languages() {
			if !b.Has(lang, le.Key) {
				t.Errorf("catalogue %s lacks %s", lang, le.Key)
			}
		}
		if got := b.Printer("en").Error(le); !strings.Contains(got, tt.text) {
			t.Errorf("wait %s: %q, want it to say %q", tt.wait, got, tt.text)
		}
	}
}
