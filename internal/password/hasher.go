package password

import (
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"runtime"
	"time"
)

// Hasher hashes passwords with argon2id and verifies them (and imported bcrypt and PBKDF2
// hashes), running at most a fixed number of hashes at once. It is safe for concurrent use when its random source is (crypto/rand.Reader is).
type Hasher struct {
	params Params
	rand   io.Reader
	sem    chan struct{}
	// derive runs a class's hash function (deriveKey); tests replace it to observe concurrency.
	derive func(c costClass, password, salt []byte) []byte
	// stored lists the cost classes of the stored hashes (nil: only the configured one).
	stored StoredClasses
	// took records how long each class's hashes take here, for equalising failures.
	took durations
	// now and sleep measure hashes and pad failures: the real clock, which tests replace. This
	// is the machine's actual speed, not a rule's time, so it is not the injected clock.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration)
	// measuring lets one goroutine at a time measure a class never hashed here (dearest):
	// a burst of failures right after a dear class appears costs one hash of it, not one each.
	measuring chan struct{}
	// observe, when set (WithHashObserver), is told the class of every hash run.
	observe func(class string)
	// queue, when set, is told how many hashes wait for a slot and how long they waited.
	queue QueueObserver
}

// QueueObserver watches the hashing slots' queue (internal/metrics implements it).
type QueueObserver interface {
	HashQueued(delta int)       // a hash starts (+1) or stops (-1) waiting for a slot
	HashWaited(d time.Duration) // a hash got its slot after waiting d
}

// WithQueueObserver reports the hashing slots' queue to q.
func WithQueueObserver(q QueueObserver) Option { return func(h *Hasher) { h.queue = q } }

// acquire takes a hashing slot, waiting for one as long as ctx allows.
func (h *Hasher) acquire(ctx context.Context) error {
	if h.queue == nil {
		select {
		case h.sem <- struct{}{}:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("wait for a hashing slot: %w", ctx.Err())
		}
	}
	start := h.now()
	h.queue.HashQueued(1)
	defer h.queue.HashQueued(-1)
	select {
	case h.sem <- struct{}{}:
		h.queue.HashWaited(h.now().Sub(start))
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for a hashing slot: %w", ctx.Err())
	}
}

// Slots is how many hashes run at once for the setting maxConcurrent: itself, or
// runtime.GOMAXPROCS(0) when it is 0 or less (the rule of New and of HeapLimit's callers).
func Slots(maxConcurrent int) int {
	if maxConcurrent <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return maxConcurrent
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
	maxConcurrent = Slots(maxConcurrent)
	h := &Hasher{
		params:    p,
		rand:      rand,
		sem:       make(chan struct{}, maxConcurrent),
		derive:    deriveKey,
		now:       time.Now,
		sleep:     sleep,
		measuring: make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(h)
	}
	return h
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
	key, _, err := h.run(ctx, classOf(h.params), []byte(plain), salt)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return encode(h.params, salt, key), nil
}

// Verify reports whether plain matches encoded: a PHC string made by Hash (possibly with other
// parameters), or a hash imported from another system (bcrypt, PBKDF2: see formats.go).
// needsRehash is true when the password matches and encoded was made otherwise than the
// Hasher's Hash would make it now: the caller should then store a new Hash of plain. It is
// never true for a wrong password.
//
// A wrong password takes as long as verifying one of the dearest cost class in use (see
// equalize.go): an account hashed with cheaper parameters is not told apart from others, nor
// from an unknown username (Equalize). A right one returns as soon as it is checked. An
// account without a usable password — none imported ("") or a hash this package cannot
// verify — is a wrong password too, at the cost of an unknown username: an error here would
// tell that the account exists. Only the context's end is an error.
func (h *Hasher) Verify(ctx context.Context, encoded, plain string) (ok, needsRehash bool, err error) {
	s, err := parseStored(encoded)
	if err != nil {
		h.Equalize(ctx, plain)
		if err := ctx.Err(); err != nil {
			return false, false, fmt.Errorf("verify password: %w", err)
		}
		return false, false, nil
	}
	got, took, err := h.run(ctx, s.class, []byte(plain), s.salt)
	if err != nil {
		return false, false, fmt.Errorf("verify password: %w", err)
	}
	if subtle.ConstantTimeCompare(got, s.want) != 1 {
		h.pad(ctx, s.class, took, plain)
		return false, false, nil
	}
	return true, s.class.alg != argon2id || s.params != h.params, nil
}

// Usable reports whether encoded is a password hash Verify can match: not "none" (empty), not
// malformed.
func Usable(encoded string) bool {
	_, err := parseStored(encoded)
	return err == nil
}

// Equalize costs what a wrong password costs, and discards the result: one hash of the
// configured class, then — when a dearer class is still stored — a wait until it took as long
// as a hash of the dearest class in use would (the padding of a wrong password of a cheaper
// class; equalize.go). The logon flow calls it when the username is unknown, so that an
// unknown username and a wrong password take the same time and no one learns which usernames
// exist. Guessing usernames costs the server one configured hash each, whatever dear legacy
// class an import brought. It returns early when ctx ends.
func (h *Hasher) Equalize(ctx context.Context, plain string) {
	c := classOf(h.params)
	// The salt's value does not change the cost, so no randomness is spent on it.
	if _, took, err := h.run(ctx, c, []byte(plain), c.dummySalt()); err == nil {
		h.pad(ctx, c, took, plain)
	}
}

// FailureCost returns the dearest cost class in use and how long one of its hashes takes on
// this machine now (measuring, with one hash each, the classes not measured yet): what a
// failed logon costs. `admin users import` prints it after an import.
func (h *Hasher) FailureCost(ctx context.Context) (class string, took time.Duration, err error) {
	c := h.dearest(ctx, h.classes(ctx, nil), "failure cost")
	if err := ctx.Err(); err != nil {
		return "", 0, fmt.Errorf("measure failure cost: %w", err)
	}
	d := h.took.median(c.name)
	if d == 0 { // a single class is not measured by dearest
		if _, d, err = h.run(ctx, c, []byte("failure cost"), c.dummySalt()); err != nil {
			return "", 0, fmt.Errorf("measure failure cost: %w", err)
		}
	}
	return c.name, d, nil
}

// run runs class c's hash function once a slot is free, and records how long it took (the wait
// for the slot excluded) for the class.
func (h *Hasher) run(ctx context.Context, c costClass, password, salt []byte) ([]byte, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("wait for a hashing slot: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return nil, 0, err
	}
	defer func() { <-h.sem }()
	start := h.now()
	key := h.derive(c, password, salt)
	took := h.now().Sub(start)
	h.took.add(c.name, took)
	if h.observe != nil {
		h.observe(c.name)
	}
	return key, took, nil
}
