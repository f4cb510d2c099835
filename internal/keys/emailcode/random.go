package emailcode

import (
	"encoding/binary"
	"fmt"
	"io"
)

// randomCode returns CodeLength uniformly random digits: 32-bit draws at or above the largest
// multiple of 10^6 are rejected, so no code is likelier than another.
func randomCode(r io.Reader) (string, error) {
	const n = 1_000_000
	const limit = (1 << 32) / n * n
	var buf [4]byte
	for {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", fmt.Errorf("random code: %w", err)
		}
		if v := binary.BigEndian.Uint32(buf[:]); v < limit {
			return fmt.Sprintf("%06d", v%n), nil
		}
	}
}

// isCode reports whether s is exactly CodeLength ASCII digits.
func isCode(s string) bool {
	if len(s) != CodeLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
