package password

import (
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"runtime"
	"time"

	"golang.org/x/crypto/argon2"
)

// Hasher hashes and verifies passwords with argon2id, running at most a fixed number of hashes
// at once. It is safe for concurrent use when its random source is (crypto/rand.Reader is).
type Hasher struct {
	params Params
	rand   io.Reader
	sem    chan struct{}
	// derive computes the argon2id key; tests replace it to observe concurrency.
	derive func(password, salt []byte, p Params) []byte
	// stored lists the cost classes of the stored hashes (nil: only the configured one).
	stored StoredClasses
	// took records how long each class's hashes take here, for equalising failures.
	took durations
	// now and sleep measure hashes and pad failures: the real clock, which tests replace. This
	// is the machine's actual speed, not a rule's time, so it is not the injected clock.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration)
}

// New returns a Hasher that hashes new passwords with p and runs at most maxConcurrent hashes
// at once (maxConcurrent ≤ 0 means runtime.GOMAXPROCS(0)). rand supplies the salts. New panics
// when p is invalid or rand is nil: validate configured parameters with Params.Validate first.
// Give the logon's Hasher WithStoredClasses, so that failures cost the same whatever
// parameters the stored hashes were made with.
func New(p Params, maxConcurrent int, rand io.Reader, opts ...Option) *Hasher {
	if err := p.Validate(); err != nil {
		panic("password.New: " + err.Error())
	}
	if rand == nil {
		panic("password.New: nil random source")
	}
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.GOMAXPROCS(0)
	}
	h := &Hasher{
		params: p,
		rand:   rand,
		sem:    make(chan struct{}, maxConcurrent),
		derive: argon2Key,
		now:    time.Now,
		sleep:  sleep,
	}
	for _, o := range opts {
		o(h)
	}
	return h
}

func argon2Key(password, salt []byte, p Params) []byte {
	return argon2.IDKey(password, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// Hash returns the PHC string of plain with a fresh random salt. It waits for a free slot and
// returns the context's error when ctx ends first.
func (h *Hasher) Hash(ctx context.Context, plain string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := io.ReadFull(h.rand, salt); err != nil {
		return "", fmt.Errorf("hash password: read salt: %w", err)
	}
	key, _, err := h.run(ctx, []byte(plain), salt, h.params)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return encode(h.params, salt, key), nil
}

// Verify reports whether plain matches encoded, a PHC string made by Hash (possibly with other
// parameters). needsRehash is true when the password matches and encoded was made with other
// parameters than the Hasher's: the caller should then store a new Hash of plain. It is never
// true for a wrong password. A malformed encoded yields an error wrapping ErrMalformedHash.
//
// A wrong password takes as long as verifying one of the dearest cost class in use (see
// equalize.go): an account hashed with cheaper parameters is not told apart from others, nor
// from an unknown username (Equalize). A right one returns as soon as it is checked.
func (h *Hasher) Verify(ctx context.Context, encoded, plain string) (ok, needsRehash bool, err error) {
	p, salt, want, err := decode(encoded)
	if err != nil {
		return false, false, fmt.Errorf("verify password: %w", err)
	}
	got, took, err := h.run(ctx, []byte(plain), salt, p)
	if err != nil {
		return false, false, fmt.Errorf("verify password: %w", err)
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		h.pad(ctx, classOf(p), took, plain)
		return false, false, nil
	}
	return true, p != h.params, nil
}

// Equalize costs what a wrong password costs, and discards the result: one hash of the dearest
// cost class in use (the configured parameters, or a dearer set still stored). The logon flow
// calls it when the username is unknown, so that an unknown username and a wrong password take
// the same time and no one learns which usernames exist. It returns early when ctx ends.
func (h *Hasher) Equalize(ctx context.Context, plain string) {
	c := h.dearest(ctx, h.classes(ctx, nil), plain)
	// The salt's value does not change argon2id's cost, so no randomness is spent on it.
	_, _, _ = h.run(ctx, []byte(plain), make([]byte, c.params.SaltLen), c.params)
}

// run derives a key once a slot is free, and records how long the derivation took (the wait
// for the slot excluded) for its cost class.
func (h *Hasher) run(ctx context.Context, password, salt []byte, p Params) ([]byte, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("wait for a hashing slot: %w", err)
	}
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, 0, fmt.Errorf("wait for a hashing slot: %w", ctx.Err())
	}
	defer func() { <-h.sem }()
	start := h.now()
	key := h.derive(password, salt, p)
	took := h.now().Sub(start)
	h.took.add(classOf(p).name, took)
	return key, took, nil
}
