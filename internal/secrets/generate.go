package secrets

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Generate returns n bytes read from rand.
func Generate(rand io.Reader, n int) ([]byte, error) {
	if n <= 0 {
		return nil, fmt.Errorf("generate %d random bytes: want a positive count", n)
	}
	if rand == nil {
		return nil, errors.New("generate random bytes: no random source")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(rand, b); err != nil {
		return nil, fmt.Errorf("generate %d random bytes: %w", n, err)
	}
	return b, nil
}

// Uniform returns a number in [0, n) read from rand without modulo bias: it reads 4 bytes at a
// time (big-endian) and rejects values at or above the largest multiple of n below 2^32, so
// every number is equally likely. The one uniform draw of the code base: e-mailed codes, card
// positions, demo card codes (from an HMAC stream).
func Uniform(rand io.Reader, n uint32) (uint32, error) {
	if n == 0 {
		return 0, errors.New("uniform random number below 0: want a positive bound")
	}
	limit := (1 << 32) / uint64(n) * uint64(n)
	var buf [4]byte
	for {
		if _, err := io.ReadFull(rand, buf[:]); err != nil {
			return 0, fmt.Errorf("uniform random number below %d: %w", n, err)
		}
		if v := uint64(binary.BigEndian.Uint32(buf[:])); v < limit {
			return uint32(v % uint64(n)), nil
		}
	}
}
