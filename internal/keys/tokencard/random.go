package tokencard

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
)

// uniform returns a number in [0, n) drawn from r without modulo bias (rejection sampling).
func uniform(r io.Reader, n uint32) (uint32, error) {
	if n == 0 {
		return 0, fmt.Errorf("uniform: n is 0")
	}
	limit := (1 << 32) / uint64(n) * uint64(n) // largest multiple of n that fits in 32 bits
	var buf [4]byte
	for {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return 0, fmt.Errorf("random: %w", err)
		}
		if v := uint64(binary.BigEndian.Uint32(buf[:])); v < limit {
			return uint32(v % uint64(n)), nil
		}
	}
}

// DemoCodes derives the 24 codes of the demo card serial from the demo seed, so that demo mode
// can print the card again without storing its codes: the demo creates its card with
// NewKey(h, account, serial, DemoCodes(seed, serial), now) and re-derives the codes from the
// stored serial when asked to print it. The same seed and serial always give the same codes;
// different serials give unrelated codes. Never use it for real cards.
func DemoCodes(seed []byte, serial string) [Positions]string {
	var codes [Positions]string
	for i := range codes {
		codes[i] = demoCode(seed, serial, i+1)
	}
	return codes
}

// demoCode derives one code with HMAC-SHA256 in counter mode and rejection sampling, so every
// code is uniform in 000000..999999.
func demoCode(seed []byte, serial string, pos int) string {
	const limit = (1 << 32) / 1_000_000 * 1_000_000
	for ctr := 0; ; ctr++ {
		mac := hmac.New(sha256.New, seed)
		mac.Write([]byte("sleutelbos demo tokencard\x00" + serial + "\x00" + strconv.Itoa(pos) + "\x00" + strconv.Itoa(ctr)))
		sum := mac.Sum(nil)
		for off := 0; off+4 <= len(sum); off += 4 {
			if v := binary.BigEndian.Uint32(sum[off:]); v < limit {
				return fmt.Sprintf("%06d", v%1_000_000)
			}
		}
	}
}
