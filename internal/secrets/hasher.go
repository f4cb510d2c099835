package secrets

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
)

// MinHashKeySize is the shortest key NewHasher accepts, in bytes.
const MinHashKeySize = 32

// Hasher computes keyed hashes (HMAC-SHA256) of values that are stored only to be compared:
// codes and session ids. Without the key, a stolen database does not let anyone test guesses
// offline. A Hasher is safe for concurrent use.
type Hasher struct {
	key []byte
}

// NewHasher returns a Hasher with key, which must be at least 32 bytes. The key is copied.
func NewHasher(key []byte) (*Hasher, error) {
	if len(key) < MinHashKeySize {
		return nil, fmt.Errorf("new hasher: key is %d bytes, want at least %d", len(key), MinHashKeySize)
	}
	return &Hasher{key: append([]byte(nil), key...)}, nil
}

// Sum returns the 32-byte keyed hash of parts in domain. domain names the purpose
// ("tokencard.code", "session.id") so equal values hashed for different purposes differ. The
// domain and every part are length-prefixed, so no two different (domain, parts) lists hash the
// same input: Sum("d", "ab", "c") and Sum("d", "a", "bc") differ.
func (h *Hasher) Sum(domain string, parts ...string) []byte {
	mac := hmac.New(sha256.New, h.key)
	var n [8]byte
	write := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		mac.Write(n[:])
		io.WriteString(mac, s)
	}
	write(domain)
	for _, p := range parts {
		write(p)
	}
	return mac.Sum(nil)
}

// Equal reports whether two hashes are equal, taking time that depends only on their lengths.
func (h *Hasher) Equal(a, b []byte) bool {
	return subtle.ConstantTimeCompare(a, b) == 1
}
