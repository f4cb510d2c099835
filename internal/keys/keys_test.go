package keys

import (
	"errors"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
)

type fakeKind struct {
	name  string
	level Level
}

func (f fakeKind) Name() string  { return f.name }
func (f fakeKind) Level() Level  { return f.level }
func (f fakeKind) AMR() []string { return []string{"pwd"} }

func TestRegistry(t *testing.T) {
	t.Parallel()
	r, err := NewRegistry(fakeKind{"b", LevelSubstantial}, fakeKind{"a", LevelLow}, fakeKind{"c", LevelSubstantial})
	if err != nil {
		t.Fatal(err)
	}
	names := func(ks []Kind) (out []string) {
		for _, k := range ks {
			out = append(out, k.Name())
		}
		return out
	}
	if got := names(r.Meeting(LevelLow)); len(got) != 3 || got[0] != "a" || got[1] != "b" || got[2] != "c" {
		t.Errorf("Meeting(low) = %v, want [a b c]", got)
	}
	if got := names(r.Meeting(LevelSubstantial)); len(got) != 2 || got[0] != "b" {
		t.Errorf("Meeting(substantial) = %v, want [b c]", got)
	}
	if got := r.Meeting(LevelHigh); len(got) != 0 {
		t.Errorf("Meeting(high) = %v, want none", names(got))
	}
	if _, ok := r.Get("zz"); ok {
		t.Error("Get(zz) found a kind")
	}
	if _, err := NewRegistry(fakeKind{"a", LevelLow}, fakeKind{"a", LevelLow}); err == nil {
		t.Error("duplicate kind: want error")
	}
}

func TestParseLevel(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in      string
		want    Level
		wantErr bool
	}{{"low", LevelLow, false}, {"substantial", LevelSubstantial, false}, {"high", LevelHigh, false}, {"medium", LevelNone, true}} {
		got, err := ParseLevel(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseLevel(%q) = %v, %v", tt.in, got, err)
		}
		if err == nil && got.String() != tt.in {
			t.Errorf("%v.String() = %q", got, got.String())
		}
	}
}

func TestIsCode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in     string
		length int
		want   bool
	}{
		{"012345", 6, true},
		{"999999", 6, true},
		{"12345", 6, false},
		{"1234567", 6, false},
		{"12 456", 6, false},
		{"12345a", 6, false},
		{"１２３４５６", 6, false}, // full-width digits are not ASCII digits
		{"", 0, true},
		{"", 6, false},
		{"12345678", 8, true},
	} {
		if got := IsCode(tt.in, tt.length); got != tt.want {
			t.Errorf("IsCode(%q, %d) = %v, want %v", tt.in, tt.length, got, tt.want)
		}
	}
}

// TestNormalizeCode: the one reading of a typed code, for the logon and the activation wizard.
func TestNormalizeCode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in      string
		want    string
		wantErr error
	}{
		{"123456", "123456", nil},
		{"012345", "012345", nil},
		{" 123456\n", "123456", nil},
		{"123 456", "123456", nil},
		{"123-456", "123456", nil},
		{"12 34 56", "123456", nil},
		{"1 2\t3\n4\r5\u00a06", "123456", nil},
		{"123\u00a0456", "123456", nil},       // non-breaking space, as pasted from an e-mail
		{"123\u202f456", "123456", nil},       // narrow no-break space
		{"123\u2013456", "123456", nil},       // en dash
		{"123\u2212456", "123456", nil},       // minus sign
		{"\u200b123456\ufeff", "123456", nil}, // invisible format characters
		{"\t1-2 3-4 5-6\r\n", "123456", nil},
		{"", "", ErrCodeEmpty},
		{"   ", "", ErrCodeEmpty},
		{" - ", "", ErrCodeEmpty},
		{"12345", "", ErrCodeFormat},
		{"1234567", "", ErrCodeFormat},
		{"12345a", "", ErrCodeFormat},
		{"abcdef", "", ErrCodeFormat},
		{"12.3456", "", ErrCodeFormat},
		{"１２３４５６", "", ErrCodeFormat},
	} {
		got, err := NormalizeCode(tt.in, 6)
		if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("NormalizeCode(%q, 6) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && (!IsFormatError(err) || !IsRetryable(err)) {
			t.Errorf("NormalizeCode(%q, 6): %v is not a retryable format error", tt.in, err)
		}
	}
	var le *i18n.LocalizedError
	if _, err := NormalizeCode("12", 6); !errors.As(err, &le) || len(le.Args) != 1 || le.Args[0] != 6 {
		t.Errorf("NormalizeCode(\"12\", 6) = %v, want the length 6 as the message argument", err)
	}
}
