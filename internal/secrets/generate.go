package secrets

import (
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
