package keys

import (
	"errors"
	"testing"
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

func TestNormalizeCode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"012345", "012345", false},
		{" 123456 ", "123456", false},
		{"123 456", "123456", false},
		{"1 2\t3\n4\r5\u00a06", "123456", false},
		{"", "", true},
		{"   ", "", true},
		{"12345", "", true},
		{"1234567", "", true},
		{"12345a", "", true},
		{"１２３４５６", "", true},
	} {
		got, err := NormalizeCode(tt.in, 6)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("NormalizeCode(%q, 6) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrCodeFormat) {
			t.Errorf("NormalizeCode(%q, 6): error %v, want ErrCodeFormat", tt.in, err)
		}
	}
}
