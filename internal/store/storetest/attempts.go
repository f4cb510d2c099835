package storetest

import (
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

var attemptTests = []test{
	{"Counting", testAttemptCounting},
	{"Reset", testAttemptReset},
	{"Window", testAttemptWindow},
	{"ReleaseLiftsThrottle", testAttemptReleaseLiftsThrottle},
	{"DeleteBefore", testAttemptDeleteBefore},
	{"Refusals", testAttemptRefusals},
	{"TakeEndedRefusals", testTakeEndedRefusals},
	{"InFlight", testAttemptInFlight},
	{"InFlightStale", testAttemptInFlightStale},
}

// throttleFrom5 throttles until until from the fifth failure on.
func throttleFrom5(until time.Time) func(int) time.Time {
	return func(failures int) time.Time {
		if failures < 5 {
			return time.Time{}
		}
		return until
	}
}

// testAttemptInFlight: BeginAttempt counts like ReserveAttempt and keeps the attempt pending; a
// scope throttled only by pending attempts refuses without counting a refusal; settling keeps a
// failure counted, withdrawing takes it back (lifting the throttle), and a reset clears pending
// ones too. Once the pending ones are settled failures, the refusal is an ordinary one.
func testAttemptInFlight(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	const scope = "pwd:inflight"
	for i := 1; i <= 5; i++ {
		a, ok, err := s.BeginAttempt(ctx, scope, t0, 0, throttleFrom5(at(time.Minute)))
		if err != nil || !ok || a.Failures != i || a.Pending != i {
			t.Fatalf("BeginAttempt %d = %+v, %v, %v; want granted, %d failures, %d pending", i, a, ok, err, i, i)
		}
	}
	a, ok, err := s.BeginAttempt(ctx, scope, t0, 0, throttleFrom5(at(time.Minute)))
	if err != nil || ok || a.Failures != 5 || a.Pending != 5 || a.Refused != 0 {
		t.Fatalf("sixth, with 5 in flight = %+v, %v, %v; want refused, 5 failures, 5 pending, no refusal counted", a, ok, err)
	}
	must(t, s.SettleAttempt(ctx, scope, true, 5)) // nothing compared: taken back
	if a, ok, err = s.BeginAttempt(ctx, scope, t0, 0, throttleFrom5(at(time.Minute))); err != nil || !ok || a.Failures != 5 || a.Pending != 5 {
		t.Fatalf("after a withdrawal = %+v, %v, %v; want granted with 5 failures, 5 pending", a, ok, err)
	}
	for range 5 {
		must(t, s.SettleAttempt(ctx, scope, false, 5)) // all wrong
	}
	got, err := s.GetAttempt(ctx, scope)
	must(t, err)
	if got.Failures != 5 || got.Pending != 0 || !got.ThrottledUntil.Equal(at(time.Minute)) {
		t.Fatalf("after 5 settled failures: %+v; want 5 failures, none pending, throttled until %s", got, at(time.Minute))
	}
	must(t, s.SettleAttempt(ctx, scope, false, 5)) // one too many: never below zero
	if a, ok, err = s.BeginAttempt(ctx, scope, at(time.Second), 0, throttleFrom5(at(time.Minute))); err != nil || ok || a.Refused != 1 || a.Pending != 0 {
		t.Fatalf("with 5 settled failures = %+v, %v, %v; want an ordinary refusal (counted)", a, ok, err)
	}
	// A plain ReserveAttempt on a scope with pending attempts is refused as before.
	if _, _, err := s.BeginAttempt(ctx, "pwd:inflight2", t0, 0, throttleFrom5(at(time.Minute))); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, _, err := s.BeginAttempt(ctx, "pwd:inflight2", t0, 0, throttleFrom5(at(time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	if a, ok, err = s.ReserveAttempt(ctx, "pwd:inflight2", t0, 0, throttleFrom5(at(time.Minute))); err != nil || ok || a.Refused != 1 {
		t.Fatalf("ReserveAttempt with 5 in flight = %+v, %v, %v; want a counted refusal", a, ok, err)
	}
	must(t, s.ResetAttempts(ctx, "pwd:inflight2"))
	if got, err = s.GetAttempt(ctx, "pwd:inflight2"); err != nil || got.Failures != 0 || got.Pending != 0 {
		t.Fatalf("after a reset: %+v, %v; want nothing counted", got, err)
	}
}

// testAttemptInFlightStale: attempts left pending by requests that never settled them (a crash)
// count as settled failures once the scope has seen no reservation for PendingAttemptTTL.
func testAttemptInFlightStale(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	const scope = "pwd:stale"
	throttle := throttleFrom5(at(time.Hour))
	for range 5 {
		if _, _, err := s.BeginAttempt(ctx, scope, t0, 0, throttle); err != nil {
			t.Fatal(err)
		}
	}
	before := at(store.PendingAttemptTTL - time.Second)
	if a, ok, err := s.BeginAttempt(ctx, scope, before, 0, throttle); err != nil || ok || a.Pending != 5 || a.Refused != 0 {
		t.Fatalf("just before the bound = %+v, %v, %v; want refused as in flight", a, ok, err)
	}
	a, ok, err := s.BeginAttempt(ctx, scope, at(store.PendingAttemptTTL), 0, throttle)
	if err != nil || ok || a.Pending != 0 || a.Failures != 5 || a.Refused != 1 {
		t.Fatalf("at the bound = %+v, %v, %v; want an ordinary refusal, 5 settled failures", a, ok, err)
	}
	got, err := s.GetAttempt(ctx, scope)
	must(t, err)
	if got.Pending != 0 {
		t.Errorf("stale pending attempts kept: %+v", got)
	}
}

// throttleFor throttles from the first failure on, until until.
func throttleFor(until time.Time) func(int) time.Time {
	return func(int) time.Time { return until }
}

// testAttemptRefusals: refused reservations are counted on the row; the first reservation after
// the throttle takes the period's count (and the row starts again with none); a reset and a
// release keep unreported refusals, and the sweep of quiet counters does not remove them.
func testAttemptRefusals(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	if _, _, err := s.ReserveAttempt(ctx, "pwd:r", t0, 0, throttleFor(at(time.Minute))); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 7; i++ {
		got, ok, err := s.ReserveAttempt(ctx, "pwd:r", at(time.Duration(i)*time.Second), 0, throttleFor(at(time.Hour)))
		must(t, err)
		want := store.Attempt{Scope: "pwd:r", Failures: 1, ThrottledUntil: at(time.Minute), UpdatedAt: t0, Refused: i}
		if ok {
			t.Fatalf("refusal %d was granted", i)
		}
		if d := diff(want, got); d != "" {
			t.Errorf("refusal %d (-want +got):\n%s", i, d)
		}
	}
	if got, err := s.GetAttempt(ctx, "pwd:r"); err != nil || got.Refused != 7 {
		t.Errorf("GetAttempt after 7 refusals: %+v, %v", got, err)
	}
	got, ok, err := s.ReserveAttempt(ctx, "pwd:r", at(time.Minute), 0, throttleFor(at(3*time.Minute)))
	must(t, err)
	if !ok || got.Failures != 2 || got.Refused != 7 {
		t.Errorf("reservation after the throttle: %+v, %v; want granted, 2 failures, the period's 7 refusals", got, ok)
	}
	if got, _ := s.GetAttempt(ctx, "pwd:r"); got.Refused != 0 {
		t.Errorf("the taken refusals are still stored: %d", got.Refused)
	}
	// A new period counts from one.
	if got, ok, _ := s.ReserveAttempt(ctx, "pwd:r", at(2*time.Minute), 0, nil); ok || got.Refused != 1 {
		t.Errorf("first refusal of the next period: %+v, %v", got, ok)
	}

	// A reset (a success) keeps unreported refusals on a counter without failures or throttle.
	must(t, s.ResetAttempts(ctx, "pwd:r"))
	got, err = s.GetAttempt(ctx, "pwd:r")
	must(t, err)
	if got.Failures != 0 || !got.ThrottledUntil.IsZero() || got.Refused != 1 {
		t.Errorf("after a reset: %+v, want no failures, no throttle, 1 refusal kept", got)
	}
	if n, err := s.DeleteAttemptsBefore(ctx, at(48*time.Hour)); err != nil || n != 0 {
		t.Errorf("DeleteAttemptsBefore removed %d (%v), want the counter with a refusal kept", n, err)
	}
	// Released back to zero, a counter with refusals stays too.
	if _, _, err := s.ReserveAttempt(ctx, "ip:logon:192.0.2.5", t0, 0, throttleFor(at(time.Minute))); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.ReserveAttempt(ctx, "ip:logon:192.0.2.5", t0, 0, nil); ok {
		t.Fatal("a reservation while throttled was granted")
	}
	must(t, s.ReleaseAttempt(ctx, "ip:logon:192.0.2.5", 1))
	if got, _ := s.GetAttempt(ctx, "ip:logon:192.0.2.5"); got.Refused != 1 || got.Failures != 0 {
		t.Errorf("after a release to zero: %+v, want the refusal kept", got)
	}
}

// testTakeEndedRefusals: the refusals of throttles that ended are taken once, oldest first, in
// batches; those of a throttle still running stay.
func testTakeEndedRefusals(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	refuse := func(scope string, until time.Time, n int) {
		t.Helper()
		_, _, err := s.ReserveAttempt(ctx, scope, t0, 0, throttleFor(until))
		must(t, err)
		for range n {
			if _, ok, err := s.ReserveAttempt(ctx, scope, t0, 0, nil); err != nil || ok {
				t.Fatalf("refusal in %s: %v, %v", scope, ok, err)
			}
		}
	}
	refuse("pwd:b", at(2*time.Minute), 3)
	refuse("pwd:a", at(time.Minute), 5)
	refuse("pwd:running", at(time.Hour), 4)
	refuse("pwd:none", at(time.Minute), 0)

	got, err := s.TakeEndedRefusals(ctx, at(10*time.Minute), 1)
	must(t, err)
	want := []store.Attempt{{Scope: "pwd:a", Failures: 1, ThrottledUntil: at(time.Minute), UpdatedAt: t0, Refused: 5}}
	if d := diff(want, got); d != "" {
		t.Errorf("first batch of one (-want +got):\n%s", d)
	}
	got, err = s.TakeEndedRefusals(ctx, at(10*time.Minute), 0)
	must(t, err)
	want = []store.Attempt{{Scope: "pwd:b", Failures: 1, ThrottledUntil: at(2 * time.Minute), UpdatedAt: t0, Refused: 3}}
	if d := diff(want, got); d != "" {
		t.Errorf("the rest (-want +got):\n%s", d)
	}
	if got, err = s.TakeEndedRefusals(ctx, at(10*time.Minute), 0); err != nil || len(got) != 0 {
		t.Errorf("taken twice: %+v, %v", got, err)
	}
	for scope, want := range map[string]int{"pwd:a": 0, "pwd:b": 0, "pwd:running": 4} {
		a, err := s.GetAttempt(ctx, scope)
		must(t, err)
		if a.Refused != want || a.Failures != 1 {
			t.Errorf("%s after taking: %+v, want %d refusals and its failure kept", scope, a, want)
		}
	}
	// At the very end of the running throttle its count is taken too.
	if got, err = s.TakeEndedRefusals(ctx, at(time.Hour), 0); err != nil || len(got) != 1 || got[0].Refused != 4 {
		t.Errorf("at the end of the last throttle: %+v, %v", got, err)
	}
}

func testAttemptDeleteBefore(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	noThrottle := func(int) time.Time { return time.Time{} }
	_, _, err := s.ReserveAttempt(ctx, "pwd:old", t0, 0, noThrottle)
	must(t, err)
	_, _, err = s.ReserveAttempt(ctx, "pwd:throttled", t0, 0, func(int) time.Time { return at(48 * time.Hour) })
	must(t, err)
	_, _, err = s.ReserveAttempt(ctx, "pwd:recent", at(25*time.Hour), 0, noThrottle)
	must(t, err)
	n, err := s.DeleteAttemptsBefore(ctx, at(24*time.Hour))
	must(t, err)
	if n != 1 {
		t.Errorf("DeleteAttemptsBefore removed %d, want only the quiet, unthrottled counter", n)
	}
	for scope, want := range map[string]int{"pwd:old": 0, "pwd:throttled": 1, "pwd:recent": 1} {
		got, err := s.GetAttempt(ctx, scope)
		must(t, err)
		if got.Failures != want {
			t.Errorf("%s: %d failures after the sweep, want %d", scope, got.Failures, want)
		}
	}
}

func testAttemptWindow(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	for range 2 {
		_, _, err := s.ReserveAttempt(ctx, "ip:logon:192.0.2.9", t0, time.Hour, throttleAfter3(t0))
		must(t, err)
	}
	got, ok, err := s.ReserveAttempt(ctx, "ip:logon:192.0.2.9", at(59*time.Minute), time.Hour, throttleAfter3(t0))
	must(t, err)
	if !ok || got.Failures != 3 {
		t.Errorf("within the window: %+v, %v; want the third attempt", got, ok)
	}
	later := at(59*time.Minute + time.Hour + 3*time.Minute)
	got, ok, err = s.ReserveAttempt(ctx, "ip:logon:192.0.2.9", later, time.Hour, throttleAfter3(later))
	must(t, err)
	if !ok || got.Failures != 1 {
		t.Errorf("after a quiet window: %+v, %v; want the count to start again at 1", got, ok)
	}
}

func testAttemptReleaseLiftsThrottle(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	for range 3 { // the third reservation throttles (threshold 3)
		_, _, err := s.ReserveAttempt(ctx, "ip:logon:192.0.2.8", t0, 0, throttleAfter3(t0))
		must(t, err)
	}
	must(t, s.ReleaseAttempt(ctx, "ip:logon:192.0.2.8", 3))
	got, err := s.GetAttempt(ctx, "ip:logon:192.0.2.8")
	must(t, err)
	if got.Failures != 2 || !got.ThrottledUntil.IsZero() {
		t.Errorf("after releasing the throttling attempt: %+v, want 2 and no throttle", got)
	}
	if _, ok, err := s.ReserveAttempt(ctx, "ip:logon:192.0.2.8", t0, 0, throttleAfter3(t0)); err != nil || !ok {
		t.Errorf("a reservation after the release: %v, %v", ok, err)
	}
	for range 3 {
		must(t, s.ReleaseAttempt(ctx, "ip:logon:192.0.2.8", 3))
	}
	got, err = s.GetAttempt(ctx, "ip:logon:192.0.2.8")
	must(t, err)
	if d := diff(store.Attempt{Scope: "ip:logon:192.0.2.8"}, got); d != "" {
		t.Errorf("a counter back at zero should be gone (-want +got):\n%s", d)
	}
}

// throttleAfter3 throttles for one minute per failure from the third failure on.
func throttleAfter3(now time.Time) func(int) time.Time {
	return func(failures int) time.Time {
		if failures < 3 {
			return time.Time{}
		}
		return now.Add(time.Duration(failures) * time.Minute)
	}
}

func testAttemptCounting(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	got, err := s.GetAttempt(ctx, "pwd:1")
	must(t, err)
	if d := diff(store.Attempt{Scope: "pwd:1"}, got); d != "" {
		t.Errorf("GetAttempt of a new scope (-want +got):\n%s", d)
	}
	for i := 1; i <= 3; i++ {
		now := at(time.Duration(i) * time.Second)
		var calledWith int
		throttle := func(failures int) time.Time {
			calledWith = failures
			return throttleAfter3(now)(failures)
		}
		want := store.Attempt{Scope: "pwd:1", Failures: i, ThrottledUntil: throttleAfter3(now)(i), UpdatedAt: now}
		got, ok, err := s.ReserveAttempt(ctx, "pwd:1", now, 0, throttle)
		must(t, err)
		if !ok || calledWith != i {
			t.Errorf("reservation %d: ok %v, throttle called with %d", i, ok, calledWith)
		}
		if d := diff(want, got); d != "" {
			t.Errorf("ReserveAttempt %d (-want +got):\n%s", i, d)
		}
		stored, err := s.GetAttempt(ctx, "pwd:1")
		must(t, err)
		if d := diff(want, stored); d != "" {
			t.Errorf("GetAttempt after reservation %d (-want +got):\n%s", i, d)
		}
	}
	// The third reservation throttled the scope for 3 minutes from 3 s: refused, unchanged but
	// for the refusal counted.
	before, err := s.GetAttempt(ctx, "pwd:1")
	must(t, err)
	before.Refused++
	got, ok, err := s.ReserveAttempt(ctx, "pwd:1", at(time.Minute), 0, throttleAfter3(at(time.Minute)))
	must(t, err)
	if ok {
		t.Error("a reservation while throttled was granted")
	}
	if d := diff(before, got); d != "" {
		t.Errorf("a refused reservation changed the counter (-want +got):\n%s", d)
	}
	later := at(3*time.Second + 3*time.Minute)
	if got, ok, err = s.ReserveAttempt(ctx, "pwd:1", later, 0, throttleAfter3(later)); err != nil || !ok || got.Failures != 4 {
		t.Errorf("reservation when the throttle ended: %+v, %v, %v", got, ok, err)
	}
	other, err := s.GetAttempt(ctx, "pwd:2")
	must(t, err)
	if other.Failures != 0 {
		t.Errorf("another scope counts %d failures", other.Failures)
	}
}

func testAttemptReset(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	for range 2 {
		_, _, err := s.ReserveAttempt(ctx, "ip:logon:192.0.2.1", t0, 0, throttleAfter3(t0))
		must(t, err)
	}
	_, _, err := s.ReserveAttempt(ctx, "key:7", t0, 0, throttleAfter3(t0))
	must(t, err)
	must(t, s.ReleaseAttempt(ctx, "ip:logon:192.0.2.1", 3))
	got, err := s.GetAttempt(ctx, "ip:logon:192.0.2.1")
	must(t, err)
	if got.Failures != 1 {
		t.Errorf("after one release of two: %d", got.Failures)
	}
	must(t, s.ReleaseAttempt(ctx, "ip:logon:192.0.2.1", 3))
	must(t, s.ReleaseAttempt(ctx, "ip:logon:192.0.2.1", 3))
	must(t, s.ReleaseAttempt(ctx, "never:seen", 3))
	if got, _ = s.GetAttempt(ctx, "ip:logon:192.0.2.1"); got.Failures != 0 {
		t.Errorf("release below zero: %d", got.Failures)
	}
	must(t, s.ResetAttempts(ctx, "ip:logon:192.0.2.1"))
	got, err = s.GetAttempt(ctx, "ip:logon:192.0.2.1")
	must(t, err)
	if d := diff(store.Attempt{Scope: "ip:logon:192.0.2.1"}, got); d != "" {
		t.Errorf("after ResetAttempts (-want +got):\n%s", d)
	}
	got, _, err = s.ReserveAttempt(ctx, "ip:logon:192.0.2.1", t0, 0, throttleAfter3(t0))
	must(t, err)
	if got.Failures != 1 {
		t.Errorf("first reservation after reset counts %d", got.Failures)
	}
	got, err = s.GetAttempt(ctx, "key:7")
	must(t, err)
	if got.Failures != 1 {
		t.Errorf("reset changed another scope: %d failures", got.Failures)
	}
	if err := s.ResetAttempts(ctx, "never:seen"); err != nil {
		t.Errorf("ResetAttempts of an unknown scope: %v", err)
	}
}
