package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Tests that race goroutines against each other, as several server nodes would.
var concurrentTests = []test{
	{"AdvanceKeyCounter", testConcurrentAdvanceKeyCounter},
	{"UseCode", testConcurrentUseCode},
	{"AddFailure", testConcurrentAddFailure},
	{"ClaimMessages", testConcurrentClaimMessages},
}

// racers is how many goroutines race for one thing.
const racers = 20

// race runs fn(i) for i in [0, n) at once and waits for all.
func race(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

func testConcurrentAdvanceKeyCounter(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "anna")
	k := newKey(t, s, a.ID, "totp", "")
	// Every step is replayed by 20 requests at once: each must be accepted exactly once.
	for step := int64(1); step <= 3; step++ {
		var mu sync.Mutex
		accepted := 0
		race(racers, func(int) {
			ok, err := s.AdvanceKeyCounter(ctx, k.ID, step)
			if err != nil {
				t.Errorf("AdvanceKeyCounter: %v", err)
				return
			}
			if ok {
				mu.Lock()
				accepted++
				mu.Unlock()
			}
		})
		if accepted != 1 {
			t.Errorf("step %d accepted %d times by %d concurrent callers, want exactly once", step, accepted, racers)
		}
	}
	got, err := s.GetKey(ctx, k.ID)
	must(t, err)
	if got.Counter != 3 {
		t.Errorf("counter = %d, want 3", got.Counter)
	}
}

func testConcurrentUseCode(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "anna")
	c := newCode(t, s, a.ID, store.CodeLogon, t0)
	var mu sync.Mutex
	used := 0
	race(racers, func(i int) {
		ok, err := s.UseCode(ctx, c.ID, at(time.Duration(i+1)*time.Second))
		if err != nil {
			t.Errorf("UseCode: %v", err)
			return
		}
		if ok {
			mu.Lock()
			used++
			mu.Unlock()
		}
	})
	if used != 1 {
		t.Errorf("code used %d times by %d concurrent callers, want exactly once", used, racers)
	}
}

func testConcurrentAddFailure(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	const perRacer = 5
	var mu sync.Mutex
	seen := map[int]int{} // failure count returned → how often
	race(racers, func(int) {
		for range perRacer {
			a, err := s.AddFailure(ctx, "ip:logon:192.0.2.1", t0, func(failures int) time.Time {
				return at(time.Duration(failures) * time.Second)
			})
			if err != nil {
				t.Errorf("AddFailure: %v", err)
				return
			}
			if !a.ThrottledUntil.Equal(at(time.Duration(a.Failures) * time.Second)) {
				t.Errorf("AddFailure returned %d failures but throttled until %v", a.Failures, a.ThrottledUntil)
			}
			mu.Lock()
			seen[a.Failures]++
			mu.Unlock()
		}
	})
	const total = racers * perRacer
	for n := 1; n <= total; n++ {
		if seen[n] != 1 {
			t.Errorf("failure count %d returned %d times, want once", n, seen[n])
		}
	}
	got, err := s.GetAttempt(ctx, "ip:logon:192.0.2.1")
	must(t, err)
	if got.Failures != total || !got.ThrottledUntil.Equal(at(total*time.Second)) {
		t.Errorf("after %d concurrent failures: %d failures, throttled until %v; want %d, %v",
			total, got.Failures, got.ThrottledUntil, total, at(total*time.Second))
	}
}

func testConcurrentClaimMessages(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	const messages = 200
	want := map[int64]bool{}
	for i := range messages {
		want[enqueue(t, s, newMessage(i, t0)).ID] = true
	}
	var mu sync.Mutex
	claimedBy := map[int64]string{}
	race(2, func(i int) {
		owner := fmt.Sprintf("node-%d", i)
		for rounds := 0; rounds < messages; rounds++ {
			got, err := s.ClaimMessages(ctx, owner, t0, at(time.Hour), 7)
			if err != nil {
				t.Errorf("%s: ClaimMessages: %v", owner, err)
				return
			}
			if len(got) == 0 {
				return
			}
			mu.Lock()
			for _, m := range got {
				if prev, dup := claimedBy[m.ID]; dup {
					t.Errorf("message %d claimed by %s and by %s", m.ID, prev, owner)
				}
				claimedBy[m.ID] = owner
				if m.LeaseOwner != owner {
					t.Errorf("%s got message %d leased to %q", owner, m.ID, m.LeaseOwner)
				}
			}
			mu.Unlock()
		}
	})
	// Whatever a claimer skipped while the other held it must be claimable now; nothing may remain.
	rest, err := s.ClaimMessages(ctx, "node-late", t0, at(time.Hour), messages)
	must(t, err)
	for _, m := range rest {
		if prev, dup := claimedBy[m.ID]; dup {
			t.Errorf("message %d claimed by %s and by node-late", m.ID, prev)
		}
		claimedBy[m.ID] = "node-late"
	}
	if len(claimedBy) != messages {
		t.Errorf("%d distinct messages claimed, want %d", len(claimedBy), messages)
	}
	for id := range claimedBy {
		if !want[id] {
			t.Errorf("claimed unknown message %d", id)
		}
	}
	perOwner := map[string]int{}
	for _, owner := range claimedBy {
		perOwner[owner]++
	}
	t.Logf("claims per owner: %v", perOwner)
	for id, owner := range claimedBy {
		m, err := s.GetMessage(ctx, id)
		must(t, err)
		if m.State != store.MessageSending || m.LeaseOwner != owner || m.Attempts != 1 {
			t.Errorf("message %d: state %s, owner %q, attempts %d; want sending, %q, 1", id, m.State, m.LeaseOwner, m.Attempts, owner)
		}
	}
}
