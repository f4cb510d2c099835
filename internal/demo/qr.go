package demo

import (
	"fmt"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// QRLevel is the error correction of the terminal QR codes: low keeps them small, and a screen
// is not a damaged label.
const QRLevel = qrcode.Low

// QRIndent starts every line of a printed QR code.
const QRIndent = "      "

// Half blocks draw two rows of modules per line of text: the upper row in the top half of a
// character cell, the lower row in the bottom half.
const (
	blockNone  = " "
	blockUpper = "▀"
	blockLower = "▄"
	blockFull  = "█"
)

// ANSI colours for TerminalQR: light foreground on dark background, so "light" blocks are
// light and everything else dark whatever the terminal's own colours.
const (
	ansiStart = "\x1b[97;40m"
	ansiReset = "\x1b[0m"
)

// TerminalQR returns the QR code of text (quiet zone included) as lines of Unicode half
// blocks. Light modules are drawn, dark ones left blank: on a dark terminal background the
// code reads as printed. With ansi, each line sets that background and foreground itself.
func TerminalQR(text string, ansi bool) ([]string, error) {
	q, err := qrcode.New(text, QRLevel)
	if err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	bm := q.Bitmap() // true: dark module
	var lines []string
	for y := 0; y < len(bm); y += 2 {
		var sb strings.Builder
		if ansi {
			sb.WriteString(ansiStart)
		}
		for x := range bm[y] {
			upper := !bm[y][x]
			lower := y+1 < len(bm) && !bm[y+1][x]
			switch {
			case upper && lower:
				sb.WriteString(blockFull)
			case upper:
				sb.WriteString(blockUpper)
			case lower:
				sb.WriteString(blockLower)
			default:
				sb.WriteString(blockNone)
			}
		}
		if ansi {
			sb.WriteString(ansiReset)
		}
		lines = append(lines, sb.String())
	}
	return lines, nil
}

// ParseTerminalQR turns lines printed by TerminalQR back into the module bitmap (true: dark),
// for tests. rows is the bitmap's height (an odd height leaves the last lower half unused).
func ParseTerminalQR(lines []string, rows int) ([][]bool, error) {
	bm := make([][]bool, 0, rows)
	for i, line := range lines {
		line = strings.TrimSuffix(strings.TrimPrefix(line, ansiStart), ansiReset)
		var upper, lower []bool
		for _, r := range line {
			switch string(r) {
			case blockFull:
				upper, lower = append(upper, false), append(lower, false)
			case blockUpper:
				upper, lower = append(upper, false), append(lower, true)
			case blockLower:
				upper, lower = append(upper, true), append(lower, false)
			case blockNone:
				upper, lower = append(upper, true), append(lower, true)
			default:
				return nil, fmt.Errorf("line %d: %q is not a half block", i+1, r)
			}
		}
		bm = append(bm, upper)
		if len(bm) < rows {
			bm = append(bm, lower)
		}
	}
	if len(bm) != rows {
		return nil, fmt.Errorf("%d lines make %d rows, want %d", len(lines), len(bm), rows)
	}
	return bm, nil
}
