package password

import (
	"runtime/debug"
)

// Sizes behind HeapLimit, in bytes.
const (
	// gcBase is the room left for everything but hashing: templates, catalogues, connections
	// and the requests in progress (a serving node's live heap is some 10 to 20 MiB).
	gcBase = 64 << 20
	// gcBatch is how many finished hashes' memory may lie as garbage before a collection.
	gcBatch = 6
)

// HeapLimit returns a soft limit for the Go heap of a process that computes up to hashers
// argon2id hashes with p at once: gcBase, plus the hashes in progress, plus the garbage of
// gcBatch finished ones. Each hash allocates p.Memory KiB that is garbage the moment it ends;
// with Go's default GOGC=100 and a live heap of some 15 MiB, a 19 MiB hash crosses the heap goal
// and the collector runs after nearly every hash (0.4 collections per logon were measured),
// marking the whole live heap each time. Under this limit with GOGC off, it runs once per
// gcBatch hashes, and the heap never holds more than the limit: the hash semaphore already
// bounds the memory in use, the limit bounds the garbage. With the defaults (19 MiB, 2 hashers)
// that is 64 + 8 × 19 = 216 MiB.
func HeapLimit(p Params, hashers int) int64 {
	hashers = max(hashers, 1)
	perHash := int64(p.Memory) << 10
	return gcBase + int64(hashers+gcBatch)*perHash
}

// TuneGC sets the process's collector to run under a soft memory limit of limitBytes instead of
// after each doubling of the live heap (GOGC off, GOMEMLIMIT=limitBytes): see HeapLimit. It is
// a setting of the whole process, for a main function to make once. Should the live heap itself
// ever approach the limit, the runtime still collects, spending at most about half the CPU on it
// (its GC CPU limiter), rather than run out of memory: the limit is a budget, not a cap.
func TuneGC(limitBytes int64) {
	debug.SetMemoryLimit(limitBytes)
	debug.SetGCPercent(-1)
}
