package secrets

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func newTestHasher(t testing.TB, key []byte) *Hasher {
	t.Helper()
	h, err := NewHasher(key)
	if err != nil {
		t.Fatalf("NewHasher: %v", err)
	}
	return h
}

func TestNewHasher(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		keyLen  int
		wantErr bool
	}{
		{"empty", 0, true},
		{"31 bytes", 31, true},
		{"32 bytes", 32, false},
		{"64 bytes", 64, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewHasher(make([]byte, tt.keyLen))
			if (err != nil) != tt.wantErr {
				t.Errorf("NewHasher(%d bytes) error = %v, want error %v", tt.keyLen, err, tt.wantErr)
			}
		})
	}
}

func TestHasherSum(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t, bytes.Repeat([]byte{1}, 32))
	other := newTestHasher(t, bytes.Repeat([]byte{2}, 32))

	base := h.Sum("tokencard.code", "42", "18", "123456")
	if len(base) != 32 {
		t.Fatalf("Sum is %d bytes, want 32", len(base))
	}
	if !h.Equal(base, h.Sum("tokencard.code", "42", "18", "123456")) {
		t.Error("Sum is not deterministic")
	}
	if h.Equal(base, other.Sum("tokencard.code", "42", "18", "123456")) {
		t.Error("Sum under another key is equal")
	}
	// Every pair must differ: moving bytes between the domain and the parts, splitting
	// differently, or adding an empty part changes the hash.
	inputs := []struct {
		domain string
		parts  []string
	}{
		{"d", []string{"ab", "c"}},
		{"d", []string{"a", "bc"}},
		{"d", []string{"abc"}},
		{"da", []string{"bc"}},
		{"d", []string{"ab", "c", ""}},
		{"d", []string{"", "ab", "c"}},
		{"d", nil},
		{"", []string{"d"}},
		{"", nil},
		{"e", []string{"ab", "c"}},
	}
	seen := map[string]int{}
	for i, in := range inputs {
		sum := string(h.Sum(in.domain, in.parts...))
		if j, dup := seen[sum]; dup {
			t.Errorf("Sum(%q, %q) equals Sum(%q, %q)", in.domain, in.parts, inputs[j].domain, inputs[j].parts)
		}
		seen[sum] = i
	}
}

func TestNewHasherCopiesKey(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{1}, 32)
	h := newTestHasher(t, key)
	before := h.Sum("d", "x")
	clear(key)
	if !h.Equal(before, h.Sum("d", "x")) {
		t.Error("Sum changed after the caller cleared its key")
	}
}

func TestHasherEqual(t *testing.T) {
	t.Parallel()
	h := newTestHasher(t, make([]byte, 32))
	tests := []struct {
		a, b []byte
		want bool
	}{
		{[]byte("abc"), []byte("abc"), true},
		{[]byte("abc"), []byte("abd"), false},
		{[]byte("abc"), []byte("ab"), false},
		{nil, []byte{}, true},
		{nil, []byte{0}, false},
	}
	for _, tt := range tests {
		if got := h.Equal(tt.a, tt.b); got != tt.want {
			t.Errorf("Equal(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	src := strings.Repeat("x", 64)
	tests := []struct {
		name    string
		rand    func() *strings.Reader
		n       int
		wantErr bool
	}{
		{"16 bytes", func() *strings.Reader { return strings.NewReader(src) }, 16, false},
		{"all of it", func() *strings.Reader { return strings.NewReader(src) }, 64, false},
		{"short source", func() *strings.Reader { return strings.NewReader(src) }, 65, true},
		{"zero", func() *strings.Reader { return strings.NewReader(src) }, 0, true},
		{"negative", func() *strings.Reader { return strings.NewReader(src) }, -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Generate(tt.rand(), tt.n)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Generate(%d) = %x, want an error", tt.n, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Generate(%d): %v", tt.n, err)
			}
			if string(got) != src[:tt.n] {
				t.Errorf("Generate(%d) = %q, want %q", tt.n, got, src[:tt.n])
			}
		})
	}
	boom := errors.New("boom")
	if _, err := Generate(iotest.ErrReader(boom), 8); !errors.Is(err, boom) {
		t.Errorf("Generate from a failing source: err = %v, want it to wrap %v", err, boom)
	}
	if _, err := Generate(nil, 8); err == nil {
		t.Error("Generate with a nil source succeeded")
	}
}

func BenchmarkSum(b *testing.B) {
	h := newTestHasher(b, bytes.Repeat([]byte{1}, 32))
	b.ReportAllocs()
	for b.Loop() {
		h.Sum("tokencard.code", "123456789", "18", "123456")
	}
}
