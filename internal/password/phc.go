package password

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ErrMalformedHash is returned by Verify when the stored hash is not a PHC string this package
// can verify. Compare with errors.Is.
var ErrMalformedHash = errors.New("malformed password hash")

var b64 = base64.RawStdEncoding.Strict()

// encode formats a PHC string.
func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$%s$%s$%s", argon2.Version, p, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decode parses a PHC string made by encode. The returned Params carry the salt and key
// lengths found; they are checked with Validate, so a hash from the database cannot ask for
// unbounded work.
func decode(encoded string) (Params, []byte, []byte, error) {
	fail := func(format string, args ...any) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformedHash, fmt.Sprintf(format, args...))
	}
	fields := strings.Split(encoded, "$")
	if len(fields) != 6 || fields[0] != "" {
		return fail("want $argon2id$v=19$m=…,t=…,p=…$salt$hash")
	}
	if fields[1] != "argon2id" {
		return fail("algorithm %q is not argon2id", fields[1])
	}
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return fail("unsupported version %q, want v=%d", fields[2], argon2.Version)
	}
	var p Params
	m, t, par, ok := cut3(fields[3])
	if !ok {
		return fail("parameters %q are not m=…,t=…,p=…", fields[3])
	}
	var err error
	if p.Memory, err = parseUint[uint32](m, "m=", 32); err != nil {
		return fail("memory: %v", err)
	}
	if p.Time, err = parseUint[uint32](t, "t=", 32); err != nil {
		return fail("time: %v", err)
	}
	if p.Threads, err = parseUint[uint8](par, "p=", 8); err != nil {
		return fail("threads: %v", err)
	}
	salt, err := b64.DecodeString(fields[4])
	if err != nil {
		return fail("salt is not unpadded base64")
	}
	key, err := b64.DecodeString(fields[5])
	if err != nil {
		return fail("hash is not unpadded base64")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := p.Validate(); err != nil {
		return fail("%v", err)
	}
	return p, salt, key, nil
}

func cut3(s string) (a, b, c string, ok bool) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

func parseUint[T uint8 | uint32](s, prefix string, bits int) (T, error) {
	digits, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, fmt.Errorf("%q does not start with %q", s, prefix)
	}
	if digits == "" || digits[0] < '0' || digits[0] > '9' {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	n, err := strconv.ParseUint(digits, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number in range", s)
	}
	return T(n), nil
}
