package secrets

import (
	"bytes"
	"testing"
)

func TestUniformRejectsBiasedDraws(t *testing.T) {
	t.Parallel()
	// 0xFFFFFFFF is above the largest multiple of 24 below 2³², so it must be redrawn.
	r := bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 25})
	got, err := Uniform(r, 24)
	if err != nil || got != 1 {
		t.Errorf("Uniform = %d, %v; want 1 (second draw 25 mod 24)", got, err)
	}
	// 4294000000 is the largest multiple of 10⁶ below 2³²: it and above are redrawn.
	r = bytes.NewReader([]byte{0xff, 0xf1, 0x3d, 0x80, 0xff, 0xf1, 0x3d, 0x7f})
	if got, err := Uniform(r, 1_000_000); err != nil || got != 999_999 {
		t.Errorf("Uniform(10⁶) = %d, %v; want 999999 (4293999999 mod 10⁶ after one redraw)", got, err)
	}
	if _, err := Uniform(bytes.NewReader(nil), 24); err == nil {
		t.Error("Uniform on an empty reader: want error")
	}
	if _, err := Uniform(bytes.NewReader(make([]byte, 8)), 0); err == nil {
		t.Error("Uniform below 0: want error")
	}
}
