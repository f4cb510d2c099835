package attempts

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

func TestQuota(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		c := newClock() // 09:00:00
		q, err := NewQuota(db, 3, 15*time.Minute, c.Now)
		if err != nil {
			t.Fatal(err)
		}
		a, b := IPScope("prelogon", "192.0.2.1"), IPScope("prelogon", "192.0.2.2")
		c.Advance(5 * time.Minute)
		for i := range 3 {
			if err := q.Take(ctx, a); err != nil {
				t.Fatalf("use %d of 3: %v", i+1, err)
			}
		}
		err = q.Take(ctx, a)
		var te *ThrottledError
		if !errors.As(err, &te) || !errors.Is(err, ErrThrottled) {
			t.Fatalf("fourth use: %v, want a ThrottledError", err)
		}
		// The window is 09:00–09:15: ten minutes left at 09:05.
		if want := c.Now().Add(10 * time.Minute); !te.Until.Equal(want) || te.Minutes() != 10 {
			t.Errorf("refused until %v (%d minutes), want %v (10)", te.Until, te.Minutes(), want)
		}
		if err := q.Take(ctx, b); err != nil {
			t.Errorf("another address: %v", err)
		}
		c.Advance(10*time.Minute - time.Second)
		if err := q.Take(ctx, a); !errors.Is(err, ErrThrottled) {
			t.Errorf("one second before the window ends: %v, want throttled", err)
		} else if errors.As(err, &te); te.Minutes() != 1 {
			t.Errorf("one second before the window ends: %d minutes, want 1", te.Minutes())
		}
		c.Advance(time.Second)
		for i := range 3 {
			if err := q.Take(ctx, a); err != nil {
				t.Fatalf("use %d of the next window: %v", i+1, err)
			}
		}
	})
}

// TestQuotaBurst: a burst of parallel uses gets exactly the quota.
func TestQuotaBurst(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		c := newClock()
		q, err := NewQuota(db, 5, time.Hour, c.Now)
		if err != nil {
			t.Fatal(err)
		}
		var ok, refused atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch err := q.Take(context.Background(), IPScope("prelogon", "198.51.100.9")); {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrThrottled):
					refused.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 5 || refused.Load() != 15 {
			t.Errorf("%d uses allowed and %d refused, want 5 and 15", ok.Load(), refused.Load())
		}
	})
}

func TestNewQuotaValidates(t *testing.T) {
	t.Parallel()
	now := newClock().Now
	st := failingStore{}
	for _, bad := range []struct {
		max    int
		window time.Duration
	}{{0, time.Minute}, {1, 0}, {1, time.Millisecond}} {
		if _, err := NewQuota(st, bad.max, bad.window, now); err == nil {
			t.Errorf("NewQuota(%d, %s) accepted", bad.max, bad.window)
		}
	}
	boom := errors.New("database is down")
	q, err := NewQuota(failingStore{err: boom}, 1, time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Take(context.Background(), IPScope("prelogon", "192.0.2.1")); !errors.Is(err, boom) || errors.Is(err, ErrThrottled) {
		t.Errorf("Take on a failing store: %v", err)
	}
}

// TestQuotaReturn: a use given back frees its place in the window it was taken in; one of a
// window that has ended changes nothing (the next window has its own count, and no return
// makes room beyond the quota).
func TestQuotaReturn(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		c := newClock() // 09:00:00
		q, err := NewQuota(db, 2, 15*time.Minute, c.Now)
		if err != nil {
			t.Fatal(err)
		}
		a := IPScope("prelogon", "192.0.2.1")
		first := c.Now()
		for range 2 {
			if err := q.Take(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		if err := q.Take(ctx, a); !errors.Is(err, ErrThrottled) {
			t.Fatalf("third use: %v, want throttled", err)
		}
		c.Advance(time.Minute)
		if err := q.Return(ctx, a, first); err != nil {
			t.Fatal(err)
		}
		if err := q.Take(ctx, a); err != nil {
			t.Fatalf("after a use was given back: %v", err)
		}
		if err := q.Take(ctx, a); !errors.Is(err, ErrThrottled) {
			t.Fatalf("one use given back made room for %v, want one", err)
		}
		c.Advance(15 * time.Minute) // next window, 09:15–09:30
		next := c.Now()
		for range 2 {
			if err := q.Take(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		if err := q.Return(ctx, a, first); err != nil { // of the ended window
			t.Fatal(err)
		}
		if err := q.Take(ctx, a); !errors.Is(err, ErrThrottled) {
			t.Fatalf("a use of an ended window given back made room: %v", err)
		}
		if err := q.Return(ctx, a, next); err != nil {
			t.Fatal(err)
		}
		if err := q.Take(ctx, a); err != nil {
			t.Fatalf("after a use of this window was given back: %v", err)
		}
	})
}
