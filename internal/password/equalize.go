package password

import (
	"context"
	"slices"
	"sync"
	"time"
)

// A failed logon must not say whether the username exists (SPEC §8), whatever mix of hash
// parameters the database holds. Verifying costs what the stored hash's parameters cost, so
// after a change of the configured parameters the accounts hashed before (until their next
// logon rehashes them) cost more or less than an unknown username did: measured, 39 ms against
// 100 ms. The Hasher therefore works in cost classes — an algorithm with its parameters
// ("$argon2id$v=19$m=19456,t=2,p=1", "$2b$10", "$pbkdf2-sha256$i=600000,l=32"; formats.go) — and makes every
// failure cost what the dearest class in use costs:
//
//   - An unknown username (Equalize), and an account without a usable password, cost one hash
//     of the configured class — real work, inside a hashing slot — and are then padded like
//     a wrong password of a cheaper class. They were once verified against the dearest class
//     itself, but that made every guessed username cost the CPU and memory of the dearest
//     class an import ever brought (bcrypt 14, argon2id with 1 GiB) and hold a slot for it:
//     a cheap denial of service. Now only a real account of a dear class costs its class.
//   - A wrong password of an account in a cheaper class (Verify) is padded: after its own hash
//     the Hasher waits until the answer took as long as a hash of the dearest class would take
//     now — its own hash's duration times the ratio of the two classes' recent median durations,
//     so the target follows the machine's load at this very moment, as the real work of an
//     unknown username does. On a busy machine a wait ends late (the woken goroutine waits for a
//     CPU), so waits start early by the median lateness of recent waits.
//
// Padding waits rather than hashing again: waiting costs neither CPU nor memory nor a hashing
// slot, so wrong passwords against old accounts cost the server no more than before; and no
// extra hash could add exactly the difference between two classes. Correct passwords are not
// padded: whoever sent one knows the account exists, and the rehash happens then.
//
// The classes in use are the configured one and those the store reports (WithStoredClasses):
// the store keeps each hash's parameters in an indexed column, so asking costs one index probe
// per class. Durations are measured per class on this node; a class never hashed here is
// measured once (a dummy hash) when it first matters.

// maxClasses bounds the per-class duration records (parameter sets in use are a handful).
const maxClasses = 32

// samplesPerClass is how many recent durations the median of a class is taken over.
const samplesPerClass = 31

// lateness is the durations record of how late the padding waits end (not a cost class).
const lateness = "wait lateness"

// StoredClasses lists the cost classes of the stored password hashes: each hash's parameters
// without salt and digest, as store.Store's PasswordHashParams returns them.
type StoredClasses func(ctx context.Context) ([]string, error)

// Option configures a Hasher.
type Option func(*Hasher)

// WithHashObserver makes the Hasher tell observe the cost class of every hash it runs (after
// it ran): tests count what a path hashes, never timing it.
func WithHashObserver(observe func(class string)) Option {
	return func(h *Hasher) { h.observe = observe }
}

// WithStoredClasses makes the Hasher equalise failures to the dearest class among the stored
// hashes' (asked of src on every failure) and its own parameters. Without it, only the
// configured parameters and the hash at hand count.
func WithStoredClasses(src StoredClasses) Option {
	return func(h *Hasher) { h.stored = src }
}

// costClass is one algorithm with its parameters: every hash of a class costs the same to
// verify. name is canonical, so the same parameters written differently are one class.
type costClass struct {
	name   string
	alg    algorithm
	params Params // argon2id's
	cost   int    // bcrypt's cost (log2 of its rounds), or PBKDF2's iterations
	keyLen int    // PBKDF2's output length in bytes
}

// classOf returns the cost class of argon2id hashes made with p.
func classOf(p Params) costClass {
	return costClass{name: "$argon2id$v=19$" + p.String(), alg: argon2id, params: p}
}

// durations keeps the recent hash durations of each class.
type durations struct {
	mu      sync.Mutex
	byClass map[string][]time.Duration
}

// add records one hash of class that took d.
func (r *durations) add(class string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byClass == nil {
		r.byClass = map[string][]time.Duration{}
	}
	s, ok := r.byClass[class]
	if !ok && len(r.byClass) >= maxClasses {
		for k := range r.byClass { // forget any other class: it is measured again when it matters
			delete(r.byClass, k)
			break
		}
	}
	s = append(s, d)
	if len(s) > samplesPerClass {
		s = s[len(s)-samplesPerClass:]
	}
	r.byClass[class] = s
}

// median returns the median recent duration of class, or 0 when it was never measured.
func (r *durations) median(class string) time.Duration {
	r.mu.Lock()
	s := slices.Clone(r.byClass[class])
	r.mu.Unlock()
	if len(s) == 0 {
		return 0
	}
	slices.Sort(s)
	return s[len(s)/2]
}

// classes returns the cost classes a failure is equalised over: the configured one, the stored
// ones, and also (when given) the class of the hash just verified. A store that cannot answer
// leaves the others; the logon fails on the store soon enough.
func (h *Hasher) classes(ctx context.Context, also *costClass) []costClass {
	out := []costClass{classOf(h.params)}
	seen := map[string]bool{out[0].name: true}
	add := func(c costClass) {
		if !seen[c.name] {
			seen[c.name] = true
			out = append(out, c)
		}
	}
	if also != nil {
		add(*also)
	}
	if h.stored != nil {
		names, err := h.stored(ctx)
		if err == nil {
			for _, n := range names {
				if c, ok := parseClass(n, h.params); ok {
					add(c)
				}
			}
		}
	}
	return out
}

// dearest returns the class among cs whose hashes take longest here. A class not yet measured
// is measured first, with one hash of plain; a single class needs no measuring.
func (h *Hasher) dearest(ctx context.Context, cs []costClass, plain string) costClass {
	if len(cs) == 1 {
		return cs[0]
	}
	best, bestD := cs[0], time.Duration(-1)
	for _, c := range cs {
		d := h.took.median(c.name)
		if d == 0 {
			d = h.measure(ctx, c, plain)
		}
		if d > bestD {
			best, bestD = c, d
		}
	}
	return best
}

// measure returns class c's median duration, hashing once to measure it when no other
// goroutine has meanwhile: concurrent failures wait for one measurement rather than each
// running a hash of a possibly dear class. It returns 0 when ctx ends first.
func (h *Hasher) measure(ctx context.Context, c costClass, plain string) time.Duration {
	select {
	case h.measuring <- struct{}{}:
	case <-ctx.Done():
		return 0
	}
	defer func() { <-h.measuring }()
	if d := h.took.median(c.name); d > 0 {
		return d
	}
	if _, _, err := h.run(ctx, c, []byte(plain), c.dummySalt()); err != nil {
		return 0 // ctx ended: whatever is chosen, the answer is abandoned
	}
	return h.took.median(c.name)
}

// pad makes a wrong password of class c, whose hash took took, cost what the dearest class in
// use costs, by waiting (see the comment at the top of this file). It returns early when ctx
// ends.
func (h *Hasher) pad(ctx context.Context, c costClass, took time.Duration, plain string) {
	dear := h.dearest(ctx, h.classes(ctx, &c), plain)
	if dear.name == c.name {
		return
	}
	mine, theirs := h.took.median(c.name), h.took.median(dear.name)
	if mine <= 0 || theirs <= mine {
		return
	}
	target := time.Duration(float64(took) * float64(theirs) / float64(mine))
	wait := target - took - h.took.median(lateness)
	if wait <= 0 {
		return
	}
	start := h.now()
	h.sleep(ctx, wait)
	if ctx.Err() == nil {
		h.took.add(lateness, h.now().Sub(start)-wait)
	}
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
