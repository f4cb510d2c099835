package password

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestHeapLimit(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	tests := []struct {
		name    string
		p       Params
		hashers int
		want    int64
	}{
		{"defaults, two hashers", DefaultParams(), 2, 64*mib + 8*19*mib},
		{"no hashers counts one", DefaultParams(), 0, 64*mib + 7*19*mib},
		{"64 MiB, four hashers", Params{Memory: 64 << 10}, 4, 64*mib + 10*64*mib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := HeapLimit(tt.p, tt.hashers); got != tt.want {
				t.Errorf("HeapLimit = %d MiB, want %d MiB", got/mib, tt.want/mib)
			}
		})
	}
}

// TestTuneGCBatchesCollections hashes in a loop under the tuned collector and counts the
// collections: under Go's defaults every one or two hashes of 19 MiB start one; under the limit
// only one per batch. It changes the process's GC settings, so it is not parallel and puts
// them back.
func TestTuneGCBatchesCollections(t *testing.T) {
	oldLimit := debug.SetMemoryLimit(-1)
	oldPercent := debug.SetGCPercent(100)
	t.Cleanup(func() {
		debug.SetMemoryLimit(oldLimit)
		debug.SetGCPercent(oldPercent)
	})
	p := Params{Memory: 8 << 10, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32} // 8 MiB: quick
	const hashes = 24
	collections := func() uint32 {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := range hashes {
			deriveKey(classOf(p), []byte("correct horse"), []byte{byte(i), 1, 2, 3, 4, 5, 6, 7})
		}
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		return after.NumGC - before.NumGC
	}
	untuned := collections()
	TuneGC(HeapLimit(p, 1) + 64<<20) // the test binary's heap is larger than a node's
	tuned := collections()
	t.Logf("collections over %d hashes: %d with Go's defaults, %d tuned", hashes, untuned, tuned)
	if max := uint32(hashes / gcBatch); tuned > max+1 {
		t.Errorf("tuned: %d collections over %d hashes, want at most one per %d hashes (%d)", tuned, hashes, gcBatch, max+1)
	}
	if tuned >= untuned {
		t.Errorf("tuned: %d collections, not fewer than Go's defaults' %d", tuned, untuned)
	}
}
