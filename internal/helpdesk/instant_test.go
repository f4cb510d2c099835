package helpdesk

import (
	"testing"
	"time"
)

// TestFormatInstant: the console's instants carry their zone's offset — winter and summer time
// in Brussels, and UTC said as such.
func TestFormatInstant(t *testing.T) {
	t.Parallel()
	loc, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		t.Skip("no zone data for Europe/Brussels")
	}
	for _, c := range []struct {
		at   time.Time
		loc  *time.Location
		want string
	}{
		{time.Date(2026, 12, 2, 11, 40, 0, 0, time.UTC), loc, "2026-12-02 12:40 UTC+01:00"},
		{time.Date(2026, 7, 1, 7, 5, 0, 0, time.UTC), loc, "2026-07-01 09:05 UTC+02:00"},
		{time.Date(2026, 12, 2, 11, 40, 0, 0, loc), time.UTC, "2026-12-02 10:40 UTC"},
		{time.Date(2026, 12, 2, 11, 40, 0, 0, time.UTC), time.FixedZone("", -3*3600-1800), "2026-12-02 08:10 UTC-03:30"},
		{time.Time{}, loc, "—"},
	} {
		if got := FormatInstant(c.at, c.loc); got != c.want {
			t.Errorf("FormatInstant(%s, %s) = %q, want %q", c.at, c.loc, got, c.want)
		}
	}
}
