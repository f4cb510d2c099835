package tokencard

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"strconv"

	"github.com/sleutelbos/sleutelbos/internal/secrets"
)

// DemoCodes derives the 24 codes of the demo card serial from the demo seed, so that demo mode
// can print the card again without storing its codes: the demo creates its card with
// NewKey(h, account, serial, DemoCodes(seed, serial), now) and re-derives the codes from the
// stored serial when asked to print it. The same seed and serial always give the same codes;
// different serials give unrelated codes. Never use it for real cards.
func DemoCodes(seed []byte, serial string) [Positions]string {
	var codes [Positions]string
	for i := range codes {
		n, err := secrets.Uniform(&demoStream{seed: seed, label: "sleutelbos demo tokencard\x00" + serial + "\x00" + strconv.Itoa(i+1)}, 1_000_000)
		if err != nil {
			panic(fmt.Sprintf("demo card code: %v", err)) // unreachable: the stream never ends
		}
		codes[i] = fmt.Sprintf("%0*d", CodeLength, n)
	}
	return codes
}

// demoStream is an endless deterministic byte stream: HMAC-SHA256(seed, label + "\x00" + ctr)
// for ctr = 0, 1, 2, … (counter mode), so a uniform draw from it is as unpredictable as the seed.
type demoStream struct {
	seed  []byte
	label string
	ctr   int
	buf   []byte
}

// Read fills p from the stream; it never fails.
func (s *demoStream) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(s.buf) == 0 {
			mac := hmac.New(sha256.New, s.seed)
			mac.Write([]byte(s.label + "\x00" + strconv.Itoa(s.ctr)))
			s.buf, s.ctr = mac.Sum(nil), s.ctr+1
		}
		c := copy(p[n:], s.buf)
		s.buf, n = s.buf[c:], n+c
	}
	return n, nil
}
