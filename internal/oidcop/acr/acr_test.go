package acr

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sleutelbos/sleutelbos/internal/keys"
)

const (
	eidasLow  = "http://eidas.europa.eu/LoA/low"
	eidasSubs = "http://eidas.europa.eu/LoA/substantial"
	eidasHigh = "http://eidas.europa.eu/LoA/high"
	fas200    = "urn:be:fedict:iam:fas:Level200"
	fas400    = "urn:be:fedict:iam:fas:Level400"
)

func TestDefault(t *testing.T) {
	t.Parallel()
	tab := MustParse(Default)
	if diff := cmp.Diff([]string{eidasLow, eidasSubs, eidasHigh, fas200, fas400}, tab.Values()); diff != "" {
		t.Errorf("Values (-want +got):\n%s", diff)
	}
	for v, want := range map[string]keys.Level{eidasLow: keys.LevelLow, eidasSubs: keys.LevelSubstantial, eidasHigh: keys.LevelHigh,
		fas200: keys.LevelLow, fas400: keys.LevelSubstantial} {
		if got, ok := tab.Level(v); !ok || got != want {
			t.Errorf("Level(%s) = %v, %v; want %v", v, got, ok, want)
		}
	}
	if _, ok := tab.Level("urn:be:fedict:iam:fas:Level500"); ok {
		t.Error("an unknown value has a level")
	}
}

func TestMinLevel(t *testing.T) {
	t.Parallel()
	tab := MustParse(Default)
	tests := []struct {
		requested []string
		want      keys.Level
		ok        bool
	}{
		{nil, keys.LevelNone, false},
		{[]string{"urn:unknown"}, keys.LevelNone, false},
		{[]string{fas400}, keys.LevelSubstantial, true},
		{[]string{"urn:unknown", eidasHigh}, keys.LevelHigh, true},
		// Any listed value satisfies the request: the lowest counts.
		{[]string{eidasSubs, fas200}, keys.LevelLow, true},
	}
	for _, tt := range tests {
		got, ok := tab.MinLevel(tt.requested)
		if got != tt.want || ok != tt.ok {
			t.Errorf("MinLevel(%q) = %v, %v; want %v, %v", tt.requested, got, ok, tt.want, tt.ok)
		}
	}
}

func TestName(t *testing.T) {
	t.Parallel()
	tab := MustParse(Default)
	tests := []struct {
		reached   keys.Level
		requested []string
		want      string
	}{
		{keys.LevelLow, nil, eidasLow},
		{keys.LevelSubstantial, nil, eidasSubs},
		{keys.LevelSubstantial, []string{fas400}, fas400},
		{keys.LevelSubstantial, []string{eidasSubs}, eidasSubs},
		// More than asked: named in the family the service speaks.
		{keys.LevelSubstantial, []string{fas200}, fas400},
		{keys.LevelSubstantial, []string{eidasLow}, eidasSubs},
		{keys.LevelSubstantial, []string{"urn:unknown", fas200}, fas400},
		// FAS has no name for high: the table's first name.
		{keys.LevelHigh, []string{fas400}, eidasHigh},
		// A listed value that names the level reached exactly wins.
		{keys.LevelLow, []string{eidasSubs, fas200}, fas200},
	}
	for _, tt := range tests {
		if got := tab.Name(tt.reached, tt.requested); got != tt.want {
			t.Errorf("Name(%v, %q) = %q, want %q", tt.reached, tt.requested, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec string
		want []string
	}{
		{"", []string{"entry 1 is empty"}},
		{"a=low,b=substantial", []string{"no acr value names level high"}},
		{"a=low,b=medium,c", []string{"entry 2", "medium", "entry 3", "want value=level"}},
		{"a=low,a=high,b=substantial", []string{`"a" is listed twice`}},
		{"a b=low,=high,c=substantial", []string{"entry 1", "without spaces", "entry 2", "no acr value"}},
		{strings.Repeat("x", 300) + "=low", []string{"longer than 256"}},
	}
	for _, tt := range tests {
		_, err := Parse(tt.spec)
		if err == nil {
			t.Errorf("Parse(%q) succeeded", tt.spec)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Parse(%q) = %v; want it to mention %q", tt.spec, err, w)
			}
		}
	}
	custom, err := Parse(" urn:x:y?a=b = low , urn:x:sub=substantial,urn:x:high=high ")
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := custom.Level("urn:x:y?a=b"); !ok || l != keys.LevelLow {
		t.Errorf("a value with '=' in it: %v, %v", l, ok)
	}
}
