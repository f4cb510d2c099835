package clock

import (
	"sync"
	"testing"
	"time"
)

func TestFake(t *testing.T) {
	t.Parallel()
	start := time.Date(2024, 1, 30, 23, 59, 0, 0, time.UTC)
	c := NewFake(start)
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); c.Advance(time.Second); _ = c.Now() }()
	}
	wg.Wait()
	if got := c.Now(); !got.Equal(start.Add(10 * time.Second)) {
		t.Errorf("Now() = %v after 10 s", got)
	}
	c.Set(start)
	if !c.Now().Equal(start) {
		t.Errorf("Set did not move the clock")
	}
}
