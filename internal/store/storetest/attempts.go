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
	// The third reservation throttled the scope for 3 minutes from 3 s: refused, unchanged.
	before, err := s.GetAttempt(ctx, "pwd:1")
	must(t, err)
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
