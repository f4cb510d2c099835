package phaseout

import (
	"strings"
	"testing"
	"time"
)

// bxl returns the Brussels wall-clock instant.
func bxl(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, Brussels())
}

// seed is the seed guide's token policy: activation already closed, the prompt until 30
// January 2024, disabled from 31 January 2024 00:00 Brussels time.
var seed = Policy{
	Kind:                 "tokencard",
	ActivationClosedFrom: bxl(2023, time.July, 1, 0, 0),
	MigrationPromptFrom:  bxl(2023, time.September, 1, 0, 0),
	DisabledFrom:         bxl(2024, time.January, 31, 0, 0),
}

func TestDecideSeed(t *testing.T) {
	t.Parallel()
	const us = time.Microsecond
	tests := []struct {
		name string
		now  time.Time
		want Phase
	}{
		{"long before", bxl(2020, time.January, 1, 0, 0), Normal},
		{"just before activation closes", seed.ActivationClosedFrom.Add(-us), Normal},
		{"at activation closing", seed.ActivationClosedFrom, ActivationClosed},
		{"just before the prompt", seed.MigrationPromptFrom.Add(-us), ActivationClosed},
		{"at the prompt", seed.MigrationPromptFrom, Prompt},
		{"30 January 2024, last microsecond in Brussels", bxl(2024, time.January, 31, 0, 0).Add(-us), Prompt},
		{"the same instant in UTC (22:59:59.999999Z)", time.Date(2024, time.January, 30, 22, 59, 59, 999999000, time.UTC), Prompt},
		{"31 January 2024 00:00 Brussels", bxl(2024, time.January, 31, 0, 0), Disabled},
		{"the same instant in UTC (23:00Z the day before)", time.Date(2024, time.January, 30, 23, 0, 0, 0, time.UTC), Disabled},
		{"31 January 2024 00:00 UTC, an hour later", time.Date(2024, time.January, 31, 0, 0, 0, 0, time.UTC), Disabled},
		{"years after", bxl(2030, time.January, 1, 0, 0), Disabled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Decide(seed, tc.now); got != tc.want {
				t.Errorf("Decide(seed, %s) = %s, want %s", tc.now.Format(time.RFC3339Nano), got, tc.want)
			}
		})
	}
}

// TestDecideDaylightSaving: a policy whose instants straddle the spring change (31 March 2024,
// 02:00 CET → 03:00 CEST) and the autumn one (27 October 2024, 03:00 CEST → 02:00 CET), given
// as plain dates: each boundary is midnight local time, whatever the offset that day.
func TestDecideDaylightSaving(t *testing.T) {
	t.Parallel()
	mustParse := func(s string) time.Time {
		t.Helper()
		at, err := ParseInstant(s)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	p := Policy{Kind: "totp", ActivationClosedFrom: mustParse("2024-03-30"), MigrationPromptFrom: mustParse("2024-04-01"),
		DisabledFrom: mustParse("2024-10-28")}
	if got, want := p.MigrationPromptFrom, time.Date(2024, 3, 31, 22, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("2024-04-01 (summer time) = %s, want %s", got, want)
	}
	if got, want := p.ActivationClosedFrom, time.Date(2024, 3, 29, 23, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("2024-03-30 (winter time) = %s, want %s", got, want)
	}
	if got, want := p.DisabledFrom, time.Date(2024, 10, 27, 23, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("2024-10-28 (winter time again) = %s, want %s", got, want)
	}
	tests := []struct {
		now  time.Time
		want Phase
	}{
		{time.Date(2024, 3, 29, 22, 59, 59, 0, time.UTC), Normal},
		{time.Date(2024, 3, 29, 23, 0, 0, 0, time.UTC), ActivationClosed},
		// 24 hours after closing is not yet the prompt: the day of the change has 23 hours.
		{p.ActivationClosedFrom.Add(47 * time.Hour), Prompt},
		{p.ActivationClosedFrom.Add(47*time.Hour - time.Second), ActivationClosed},
		{time.Date(2024, 10, 27, 22, 59, 59, 0, time.UTC), Prompt},
		{time.Date(2024, 10, 27, 23, 0, 0, 0, time.UTC), Disabled},
		{bxl(2024, time.October, 27, 23, 59), Prompt},
		{bxl(2024, time.October, 28, 0, 0), Disabled},
	}
	for _, tc := range tests {
		if got := Decide(p, tc.now); got != tc.want {
			t.Errorf("Decide at %s (%s) = %s, want %s", tc.now.UTC().Format(time.RFC3339), tc.now.In(Brussels()).Format(time.RFC3339), got, tc.want)
		}
	}
}

func TestDecideUnsetInstants(t *testing.T) {
	t.Parallel()
	at := bxl(2024, time.June, 1, 0, 0)
	tests := []struct {
		name string
		p    Policy
		now  time.Time
		want Phase
	}{
		{"no instants", Policy{Kind: "tokencard", UnusedMonths: 12}, at, Normal},
		{"only disabled, before", Policy{DisabledFrom: at}, at.Add(-time.Nanosecond), Normal},
		{"only disabled, at", Policy{DisabledFrom: at}, at, Disabled},
		{"only the prompt, at", Policy{MigrationPromptFrom: at}, at, Prompt},
		{"prompt and disabled, no closing, before both", Policy{MigrationPromptFrom: at, DisabledFrom: at.Add(time.Hour)}, at.Add(-time.Second), Normal},
	}
	for _, tc := range tests {
		if got := Decide(tc.p, tc.now); got != tc.want {
			t.Errorf("%s: Decide = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestCheckOrder(t *testing.T) {
	t.Parallel()
	a, b, c := bxl(2024, 1, 1, 0, 0), bxl(2024, 1, 2, 0, 0), bxl(2024, 1, 3, 0, 0)
	tests := []struct {
		name string
		p    Policy
		want []string // substrings of the error; none: valid
	}{
		{"the seed", seed, nil},
		{"only disabled", Policy{Kind: "k", DisabledFrom: a}, nil},
		{"only the unused period", Policy{Kind: "k", UnusedMonths: 12}, nil},
		{"nothing set", Policy{Kind: "k"}, []string{"sets nothing"}},
		{"no kind", Policy{DisabledFrom: a}, []string{"no key kind"}},
		{"reversed", Policy{Kind: "k", ActivationClosedFrom: c, MigrationPromptFrom: b, DisabledFrom: a},
			[]string{"activation-closed-from (2024-01-03T00:00:00+01:00) is after migration-prompt-from", "is after disabled-from", "migration-prompt-from (2024-01-02T00:00:00+01:00) is after disabled-from"}},
		{"equal prompt and disabled", Policy{Kind: "k", MigrationPromptFrom: b, DisabledFrom: b}, []string{"migration-prompt-from (2024-01-02T00:00:00+01:00) is equal to disabled-from"}},
		{"closing after disabled, prompt unset", Policy{Kind: "k", ActivationClosedFrom: c, DisabledFrom: a}, []string{"activation-closed-from", "is after disabled-from"}},
		{"negative period", Policy{Kind: "k", UnusedMonths: -1}, []string{"must be positive"}},
	}
	for _, tc := range tests {
		err := tc.p.CheckOrder()
		if len(tc.want) == 0 {
			if err != nil {
				t.Errorf("%s: CheckOrder = %v, want nil", tc.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: CheckOrder = nil, want an error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: CheckOrder = %q, want it to say %q", tc.name, err, w)
			}
		}
	}
}

func TestParseInstant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"2024-01-31", time.Date(2024, 1, 30, 23, 0, 0, 0, time.UTC), false},
		{" 2024-07-01 ", time.Date(2024, 6, 30, 22, 0, 0, 0, time.UTC), false},
		{"2024-01-31T00:00:00+01:00", time.Date(2024, 1, 30, 23, 0, 0, 0, time.UTC), false},
		{"2024-01-31T00:00:00Z", time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC), false},
		{"", time.Time{}, false},
		{"2024-02-30", time.Time{}, true},
		{"31/01/2024", time.Time{}, true},
		{"2024-01-31 00:00", time.Time{}, true},
		{"tomorrow", time.Time{}, true},
	}
	for _, tc := range tests {
		got, err := ParseInstant(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseInstant(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if !got.Equal(tc.want) {
			t.Errorf("ParseInstant(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseMonths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"12mo", 12, false}, {"12 months", 12, false}, {"1 month", 1, false}, {"1y", 12, false}, {"2 years", 24, false},
		{"6", 6, false}, {"", 0, false},
		{"0mo", 0, true}, {"-3mo", 0, true}, {"12d", 0, true}, {"twelve", 0, true}, {"5000y", 0, true},
	}
	for _, tc := range tests {
		got, err := ParseMonths(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseMonths(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestUnusedDeadline(t *testing.T) {
	t.Parallel()
	p := Policy{Kind: "tokencard", UnusedMonths: 12}
	// Calendar months in Brussels: a last use at 00:30 local on 1 March 2023 (winter time) is
	// due at 00:30 local on 1 March 2024.
	last := bxl(2023, time.March, 1, 0, 30)
	if got, want := p.UnusedDeadline(last), bxl(2024, time.March, 1, 0, 30); !got.Equal(want) {
		t.Errorf("UnusedDeadline = %s, want %s", got, want)
	}
	if got := (Policy{Kind: "tokencard"}).UnusedDeadline(last); !got.IsZero() {
		t.Errorf("UnusedDeadline without a period = %s, want zero", got)
	}
}
