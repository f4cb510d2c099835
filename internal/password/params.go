package password

import (
	"errors"
	"fmt"
)

// Bounds for Params. The upper bounds keep a hash (configured, or read from the database)
// from exhausting the server.
const (
	minTime    = 1
	maxTime    = 64
	maxMemory  = 1 << 20 // KiB: 1 GiB
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 128
)

// Params are argon2id's cost parameters and output sizes.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8  // lanes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes of derived hash
}

// DefaultParams returns the parameters Sleutelbos hashes with: 19 MiB of memory, two passes,
// one lane, a 16-byte salt and a 32-byte hash (the OWASP recommendation).
func DefaultParams() Params {
	return Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// String formats p as in a PHC string ("m=19456,t=2,p=1").
func (p Params) String() string {
	return fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, p.Threads)
}

// Validate reports every parameter outside the accepted range.
func (p Params) Validate() error {
	var errs []error
	if p.Threads < 1 {
		errs = append(errs, errors.New("argon2id threads is 0, want at least 1"))
	}
	if minMem := 8 * uint32(max(p.Threads, 1)); p.Memory < minMem {
		errs = append(errs, fmt.Errorf("argon2id memory is %d KiB, want at least %d KiB (8 KiB per thread)", p.Memory, minMem))
	}
	if p.Memory > maxMemory {
		errs = append(errs, fmt.Errorf("argon2id memory is %d KiB, want at most %d KiB (1 GiB)", p.Memory, maxMemory))
	}
	if p.Time < minTime || p.Time > maxTime {
		errs = append(errs, fmt.Errorf("argon2id time is %d, want %d to %d", p.Time, minTime, maxTime))
	}
	if p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen {
		errs = append(errs, fmt.Errorf("argon2id salt length is %d bytes, want %d to %d", p.SaltLen, minSaltLen, maxSaltLen))
	}
	if p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen {
		errs = append(errs, fmt.Errorf("argon2id key length is %d bytes, want %d to %d", p.KeyLen, minKeyLen, maxKeyLen))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid password hashing parameters: %w", err)
	}
	return nil
}
