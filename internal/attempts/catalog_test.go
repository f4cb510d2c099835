package attempts

import (
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
)

func TestThrottledMessage(t *testing.T) {
	t.Parallel()
	b, err := i18n.Load("en")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		wait time.Duration
		want string
	}{
		{40 * time.Second, "Too many attempts. Try again in 1 minute."},
		{2*time.Minute + time.Second, "Too many attempts. Try again in 3 minutes."},
	}
	for _, tt := range tests {
		if got := b.Printer("en").Error(newThrottledError(now.Add(tt.wait), now, 0)); got != tt.want {
			t.Errorf("message for %s = %q, want %q", tt.wait, got, tt.want)
		}
	}
	for _, lang := range i18n.Languages() {
		for _, key := range []string{keyThrottled, keyThrottledMinute} {
			if !b.Has(lang, key) {
				t.Errorf("catalogue %s lacks %s", lang, key)
			}
		}
	}
}
