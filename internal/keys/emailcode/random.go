package emailcode

import (
	"fmt"
	"io"

	"github.com/sleutelbos/sleutelbos/internal/secrets"
)

// randomCode returns a new code (NewCode).
func randomCode(r io.Reader) (string, error) { return NewCode(r) }

// NewCode returns CodeLength uniformly random digits read from r: no code is likelier than
// another. Every e-mailed code is drawn so, the self-registration's too (internal/signup).
func NewCode(r io.Reader) (string, error) {
	n, err := secrets.Uniform(r, 1_000_000)
	if err != nil {
		return "", fmt.Errorf("random code: %w", err)
	}
	return fmt.Sprintf("%0*d", CodeLength, n), nil
}
