package storetest

import (
	"errors"
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
	{"ReserveAttempt", testConcurrentReserveAttempt},
	{"BeginAttemptBurst", testConcurrentBeginBurst},
	{"ReserveBurst", testConcurrentReserveBurst},
	{"RefusalsTakenOnce", testConcurrentRefusalsTakenOnce},
	{"ClaimMessages", testConcurrentClaimMessages},
	{"RotateSession", testConcurrentRotateSession},
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

func testConcurrentReserveAttempt(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	const perRacer = 5
	var mu sync.Mutex
	seen := map[int]int{} // count returned → how often
	race(racers, func(int) {
		for range perRacer {
			a, ok, err := s.ReserveAttempt(ctx, "ip:logon:192.0.2.1", t0, 0, func(int) time.Time { return time.Time{} })
			if err != nil || !ok {
				t.Errorf("ReserveAttempt: %v, %v", ok, err)
				return
			}
			mu.Lock()
			seen[a.Failures]++
			mu.Unlock()
		}
	})
	const total = racers * perRacer
	for n := 1; n <= total; n++ {
		if seen[n] != 1 {
			t.Errorf("count %d returned %d times, want once", n, seen[n])
		}
	}
	got, err := s.GetAttempt(ctx, "ip:logon:192.0.2.1")
	must(t, err)
	if got.Failures != total {
		t.Errorf("after %d concurrent reservations: %d", total, got.Failures)
	}
}

// testConcurrentReserveBurst: a burst of parallel attempts on a scope that throttles after 5
// gets exactly 5 — the property that stops parallel password guessing.
func testConcurrentReserveBurst(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	var mu sync.Mutex
	granted := 0
	race(racers*3, func(int) {
		_, ok, err := s.ReserveAttempt(ctx, "pwd:burst", t0, 0, func(failures int) time.Time {
			if failures < 5 {
				return time.Time{}
			}
			return t0.Add(time.Minute)
		})
		if err != nil {
			t.Errorf("ReserveAttempt: %v", err)
			return
		}
		if ok {
			mu.Lock()
			granted++
			mu.Unlock()
		}
	})
	if granted != 5 {
		t.Errorf("%d of %d parallel attempts granted, want 5", granted, racers*3)
	}
}

// testConcurrentBeginBurst: reservations in flight are counted before checking just the same:
// a parallel burst on a scope that throttles after 5 gets exactly 5, and every other one is
// told the scope is busy with attempts in flight (no refusal counted).
func testConcurrentBeginBurst(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	var mu sync.Mutex
	granted, inFlight := 0, 0
	race(racers*3, func(int) {
		a, ok, err := s.BeginAttempt(ctx, "pwd:beginburst", t0, 0, func(failures int) time.Time {
			if failures < 5 {
				return time.Time{}
			}
			return t0.Add(time.Minute)
		})
		if err != nil {
			t.Errorf("BeginAttempt: %v", err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if ok {
			granted++
		} else if a.Pending > 0 && a.Refused == 0 {
			inFlight++
		}
	})
	if granted != 5 || inFlight != racers*3-5 {
		t.Errorf("%d of %d parallel attempts granted, %d refused as in flight; want 5 and %d", granted, racers*3, inFlight, racers*3-5)
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

// testConcurrentRotateSession races rotations of one session, each the way the web layer
// rotates: in one Tx, create a new row and delete the old one, rolling back unless the delete
// removed it. Exactly one rotation may commit: one logon, completed once.
func testConcurrentRotateSession(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	old := store.Session{IDHash: []byte("pre-logon"), CreatedAt: t0, LastSeenAt: t0}
	must(t, s.CreateSession(ctx, &old))
	var mu sync.Mutex
	committed, gone := 0, 0
	race(racers, func(i int) {
		err := s.Tx(ctx, func(tx store.Store) error {
			next := store.Session{IDHash: []byte(fmt.Sprintf("rotated-%d", i)), AccountID: 7, CreatedAt: t0, LastSeenAt: t0}
			if err := tx.CreateSession(ctx, &next); err != nil {
				return err
			}
			return tx.DeleteSession(ctx, old.IDHash)
		})
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			committed++
		case errors.Is(err, store.ErrNotFound):
			gone++
		default:
			t.Errorf("rotation %d: %v", i, err)
		}
	})
	if committed != 1 || gone != racers-1 {
		t.Errorf("%d rotations committed and %d found the old session gone, want 1 and %d", committed, gone, racers-1)
	}
	kept := 0
	for i := range racers {
		_, err := s.GetSession(ctx, []byte(fmt.Sprintf("rotated-%d", i)))
		switch {
		case err == nil:
			kept++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("rotated session %d: %v", i, err)
		}
	}
	if kept != 1 {
		t.Errorf("%d rotated sessions kept, want 1: a rolled-back rotation's new row must go too", kept)
	}
}

// testConcurrentRefusalsTakenOnce: refusals counted by a burst are each reported once — taken
// by the first reservation after the throttle or by a sweep on another node, never both —
// however those race.
func testConcurrentRefusalsTakenOnce(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	const scopes = 5
	for i := range scopes {
		scope := fmt.Sprintf("pwd:burst%d", i)
		if _, _, err := s.ReserveAttempt(ctx, scope, t0, 0, func(int) time.Time { return at(time.Minute) }); err != nil {
			t.Fatal(err)
		}
	}
	// Every racer is refused once in every scope.
	race(racers, func(int) {
		for i := range scopes {
			if _, ok, err := s.ReserveAttempt(ctx, fmt.Sprintf("pwd:burst%d", i), at(time.Second), 0, nil); err != nil || ok {
				t.Errorf("refusal: %v, %v", ok, err)
			}
		}
	})
	var mu sync.Mutex
	taken := map[string]int{}
	race(racers, func(i int) {
		if i%2 == 0 {
			got, err := s.TakeEndedRefusals(ctx, at(time.Hour), 2)
			if err != nil {
				t.Errorf("TakeEndedRefusals: %v", err)
				return
			}
			mu.Lock()
			for _, a := range got {
				taken[a.Scope] += a.Refused
			}
			mu.Unlock()
			return
		}
		scope := fmt.Sprintf("pwd:burst%d", i%scopes)
		a, ok, err := s.ReserveAttempt(ctx, scope, at(2*time.Minute), 0, nil)
		if err != nil || !ok {
			t.Errorf("reservation after the throttle: %v, %v", ok, err)
			return
		}
		mu.Lock()
		taken[scope] += a.Refused
		mu.Unlock()
	})
	rest, err := s.TakeEndedRefusals(ctx, at(time.Hour), 0)
	must(t, err)
	for _, a := range rest {
		taken[a.Scope] += a.Refused
	}
	for i := range scopes {
		if got := taken[fmt.Sprintf("pwd:burst%d", i)]; got != racers {
			t.Errorf("pwd:burst%d: %d refusals reported, want each of the %d exactly once", i, got, racers)
		}
	}
}
