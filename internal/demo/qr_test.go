package demo

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	qrcode "github.com/skip2/go-qrcode"
)

func TestTerminalQR(t *testing.T) {
	t.Parallel()
	uri := "otpauth://totp/Sleutelbos:demo?algorithm=SHA1&digits=6&issuer=Sleutelbos&period=30&secret=3UFB3PQ7AESARAGWAOGVDFYEZEBO4VVF"
	q, err := qrcode.New(uri, QRLevel)
	if err != nil {
		t.Fatal(err)
	}
	want := q.Bitmap()
	for _, ansi := range []bool{false, true} {
		lines, err := TerminalQR(uri, ansi)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(lines); got != (len(want)+1)/2 {
			t.Errorf("ansi=%v: %d lines for %d rows of modules", ansi, got, len(want))
		}
		got, err := ParseTerminalQR(lines, len(want))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ansi=%v: the printed QR code is not the URI's (-want +got):\n%s", ansi, diff)
		}
		// The quiet zone is light: the first line is all full blocks.
		first := strings.TrimSuffix(strings.TrimPrefix(lines[0], ansiStart), ansiReset)
		if strings.Trim(first, blockFull) != "" {
			t.Errorf("ansi=%v: first line %q is not the light quiet zone", ansi, first)
		}
		if ansi != strings.HasPrefix(lines[0], "\x1b[") {
			t.Errorf("ansi=%v: line %q", ansi, lines[0])
		}
	}
	if _, err := ParseTerminalQR([]string{"x"}, 2); err == nil {
		t.Error("ParseTerminalQR accepted a line that is no QR code")
	}
}
