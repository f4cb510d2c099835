package password

import (
	"context"
	"crypto/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// queueWatch records what a Hasher tells its QueueObserver.
type queueWatch struct {
	waiting, peak atomic.Int64
	waits         atomic.Int64
}

func (q *queueWatch) HashQueued(delta int) {
	n := q.waiting.Add(int64(delta))
	for old := q.peak.Load(); n > old && !q.peak.CompareAndSwap(old, n); old = q.peak.Load() {
	}
}

func (q *queueWatch) HashWaited(time.Duration) { q.waits.Add(1) }

// TestQueueObserver: with one slot held, the hashes behind it show as waiting, every hash
// that got a slot reports its wait, and the queue is empty again afterwards — also when a
// waiting hash gives up because its request ended.
func TestQueueObserver(t *testing.T) {
	t.Parallel()
	q := &queueWatch{}
	h := New(cheap, 1, rand.Reader, WithQueueObserver(q))
	release := make(chan struct{})
	started := make(chan struct{})
	derive := h.derive
	var first atomic.Bool
	h.derive = func(c costClass, password, salt []byte) []byte {
		if first.CompareAndSwap(false, true) {
			close(started)
			<-release
		}
		return derive(c, password, salt)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = h.Hash(ctx, "first") })
	<-started
	for range 3 {
		wg.Go(func() { _, _ = h.Hash(ctx, "queued") })
	}
	gone, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { _, err := h.Hash(gone, "given up"); errc <- err }()
	for q.waiting.Load() < 4 {
		time.Sleep(time.Millisecond) // wait for the goroutines to queue; no time rule depends on it
	}
	cancel()
	if err := <-errc; err == nil {
		t.Error("a hash whose request ended while it waited did not fail")
	}
	close(release)
	wg.Wait()
	if q.peak.Load() != 4 || q.waiting.Load() != 0 || q.waits.Load() != 4 {
		t.Errorf("peak %d waiting, %d waiting at the end, %d waits reported; want 4, 0, 4",
			q.peak.Load(), q.waiting.Load(), q.waits.Load())
	}
}
