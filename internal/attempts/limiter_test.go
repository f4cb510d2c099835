package attempts

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/clock"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

func newClock() *clock.Fake { return clock.NewFake(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)) }

// eachStore runs fn on SQLite and on PostgreSQL, with a fresh store, a Limiter over it with the
// default policy, and the limiter's clock.
func eachStore(t *testing.T, fn func(t *testing.T, l *Limiter, st Store, c *clock.Fake)) {
	t.Helper()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		c := newClock()
		fn(t, New(db, DefaultPolicy(), c.Now), db, c)
	})
}

func failN(t *testing.T, l *Limiter, scope Scope, n int) {
	t.Helper()
	for range n {
		if _, err := l.Reserve(context.Background(), scope); err != nil {
			t.Fatalf("Reserve: %v", err)
		}
	}
}

func TestPolicyThrottle(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	tests := []struct {
		failures int
		want     time.Duration
	}{
		{0, 0},
		{1, 0},
		{4, 0},
		{5, time.Minute},
		{6, 2 * time.Minute},
		{7, 4 * time.Minute},
		{8, 8 * time.Minute},
		{9, 16 * time.Minute},
		{10, 32 * time.Minute},
		{11, time.Hour},
		{12, time.Hour},
		{99, time.Hour},
		{1 << 40, time.Hour},
	}
	for _, tt := range tests {
		if got := p.Throttle(tt.failures); got != tt.want {
			t.Errorf("Throttle(%d) = %s, want %s", tt.failures, got, tt.want)
		}
	}
	odd := Policy{Threshold: 1, Base: 7 * time.Second, Max: 20 * time.Second}
	for failures, want := range map[int]time.Duration{1: 7 * time.Second, 2: 14 * time.Second, 3: 20 * time.Second, 4: 20 * time.Second} {
		if got := odd.Throttle(failures); got != want {
			t.Errorf("%+v: Throttle(%d) = %s, want %s", odd, failures, got, want)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		p       Policy
		wantErr bool
	}{
		{"default", DefaultPolicy(), false},
		{"max equals base", Policy{Threshold: 1, Base: time.Second, Max: time.Second}, false},
		{"zero threshold", Policy{Threshold: 0, Base: time.Minute, Max: time.Hour}, true},
		{"zero base", Policy{Threshold: 5, Base: 0, Max: time.Hour}, true},
		{"max below base", Policy{Threshold: 5, Base: time.Hour, Max: time.Minute}, true},
		{"zero", Policy{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.p.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate(%+v) = %v, want error %v", tt.p, err, tt.wantErr)
			}
		})
	}
}

func TestThrottleAfterThreshold(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, l *Limiter, _ Store, c *clock.Fake) {
		ctx := context.Background()
		scope := PasswordScope("jan")
		start := c.Now()
		for i := 1; i <= 4; i++ {
			a, err := l.Reserve(ctx, scope)
			if err != nil {
				t.Fatal(err)
			}
			if a.Failures != i || !a.ThrottledUntil.IsZero() {
				t.Fatalf("failure %d: got %+v, want %d failures and no throttle", i, a, i)
			}
			if err := l.Check(ctx, scope); err != nil {
				t.Fatalf("Check after %d failures = %v, want nil", i, err)
			}
		}
		a, err := l.Reserve(ctx, scope)
		if err != nil {
			t.Fatal(err)
		}
		if a.Failures != 5 || !a.ThrottledUntil.Equal(start.Add(time.Minute)) {
			t.Fatalf("fifth failure: got %+v, want throttled until %s", a, start.Add(time.Minute))
		}
		if err := l.Throttled(a); !errors.Is(err, ErrThrottled) {
			t.Errorf("Throttled(fifth failure) = %v, want ErrThrottled", err)
		}
		err = l.Check(ctx, scope)
		var te *ThrottledError
		if !errors.As(err, &te) || !errors.Is(err, ErrThrottled) {
			t.Fatalf("Check after 5 failures = %v, want a *ThrottledError matching ErrThrottled", err)
		}
		if !te.Until.Equal(start.Add(time.Minute)) || te.Wait != time.Minute || te.Minutes() != 1 {
			t.Errorf("ThrottledError = %+v, want until %s, wait 1m, 1 minute", te, start.Add(time.Minute))
		}
		// Other scopes are unaffected.
		if err := l.Check(ctx, PasswordScope("piet")); err != nil {
			t.Errorf("Check of another scope = %v, want nil", err)
		}
	})
}

func TestThrottleWindowEndsExactly(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, l *Limiter, _ Store, c *clock.Fake) {
		ctx := context.Background()
		scope := FactorScope(7)
		failN(t, l, scope, 5)
		c.Advance(time.Minute - time.Nanosecond)
		if err := l.Check(ctx, scope); !errors.Is(err, ErrThrottled) {
			t.Fatalf("Check 1ns before the end = %v, want ErrThrottled", err)
		}
		c.Advance(time.Nanosecond)
		if err := l.Check(ctx, scope); err != nil {
			t.Fatalf("Check at the end = %v, want nil", err)
		}
	})
}

func TestThrottleDoubles(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, l *Limiter, _ Store, c *clock.Fake) {
		ctx := context.Background()
		scope := PasswordScope("jan")
		failN(t, l, scope, 4)
		want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
		for i, minutes := range want {
			a, err := l.Reserve(ctx, scope)
			if err != nil {
				t.Fatal(err)
			}
			if got, wantD := a.ThrottledUntil.Sub(c.Now()), minutes*time.Minute; got != wantD {
				t.Errorf("failure %d: throttled for %s, want %s", 5+i, got, wantD)
			}
			// Wait out the throttle, as a patient attacker would: the count keeps growing.
			c.Advance(a.ThrottledUntil.Sub(c.Now()))
			if err := l.Check(ctx, scope); err != nil {
				t.Fatalf("Check after the wait = %v, want nil", err)
			}
		}
	})
}

func TestSucceedResets(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, l *Limiter, _ Store, _ *clock.Fake) {
		ctx := context.Background()
		scope := FactorScope(3)
		failN(t, l, scope, 5)
		if err := l.Succeed(ctx, scope); err != nil {
			t.Fatal(err)
		}
		if err := l.Check(ctx, scope); err != nil {
			t.Fatalf("Check after Succeed = %v, want nil", err)
		}
		a, err := l.Reserve(ctx, scope)
		if err != nil {
			t.Fatal(err)
		}
		if a.Failures != 1 || !a.ThrottledUntil.IsZero() {
			t.Errorf("first failure after a reset: got %+v, want 1 failure and no throttle", a)
		}
	})
}

func TestThrottledMinutes(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		wait    time.Duration
		minutes int
		key     string
	}{
		{time.Nanosecond, 1, keyThrottledMinute},
		{30 * time.Second, 1, keyThrottledMinute},
		{time.Minute, 1, keyThrottledMinute},
		{time.Minute + time.Nanosecond, 2, keyThrottled},
		{2*time.Minute + 30*time.Second, 3, keyThrottled},
		{3 * time.Minute, 3, keyThrottled},
		{time.Hour, 60, keyThrottled},
	}
	for _, tt := range tests {
		t.Run(tt.wait.String(), func(t *testing.T) {
			t.Parallel()
			err := newThrottledError(now.Add(tt.wait), now, 0)
			if err.Minutes() != tt.minutes || err.Wait != tt.wait {
				t.Errorf("Minutes, Wait = %d, %s; want %d, %s", err.Minutes(), err.Wait, tt.minutes, tt.wait)
			}
			var le *i18n.LocalizedError
			if !errors.As(err, &le) {
				t.Fatalf("%v does not unwrap to an *i18n.LocalizedError", err)
			}
			if le.Key != tt.key || len(le.Args) != 1 || le.Args[0] != tt.minutes {
				t.Errorf("LocalizedError = %s %v, want %s [%d]", le.Key, le.Args, tt.key, tt.minutes)
			}
			if !errors.Is(err, ErrThrottled) {
				t.Error("errors.Is(err, ErrThrottled) = false")
			}
		})
	}
}

func TestStoreErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("database is down")
	l := New(failingStore{boom}, DefaultPolicy(), newClock().Now)
	ctx := context.Background()
	if err := l.Check(ctx, PasswordScope("jan")); !errors.Is(err, boom) || errors.Is(err, ErrThrottled) {
		t.Errorf("Check = %v, want the store's error", err)
	}
	if _, err := l.Reserve(ctx, PasswordScope("jan")); !errors.Is(err, boom) {
		t.Errorf("Reserve = %v, want the store's error", err)
	}
	if err := l.Succeed(ctx, PasswordScope("jan")); !errors.Is(err, boom) {
		t.Errorf("Succeed = %v, want the store's error", err)
	}
}

func TestScopes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		got, want Scope
	}{
		{PasswordScope("Jan.Peeters"), PasswordScope("jan.peeters")},
		{PasswordScope("JAN.PEETERS"), PasswordScope("jan.peeters")},
		{PasswordScope("Émile"), PasswordScope("émile")},
		{FactorScope(42), "factor:42"},
		{IPScope("logon", "192.0.2.1"), "ip:logon:192.0.2.1"},
		{IPScope("logon", "::ffff:192.0.2.1"), "ip:logon:192.0.2.1"},
		{IPScope("code", "2001:db8:1:2:3:4:5:6"), "ip:code:2001:db8:1:2::/64"},
		{IPScope("code", "2001:DB8:1:2::ffff"), "ip:code:2001:db8:1:2::/64"},
		{IPScope("code", "fe80::1%eth0"), "ip:code:fe80::/64"},
		{IPScope("logon", "not an ip"), "ip:logon:not an ip"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("scope = %q, want %q", tt.got, tt.want)
		}
	}
	// What is typed as a username (sometimes a password) never appears in the scope.
	if s := string(PasswordScope("hunter2-secret")); strings.Contains(s, "hunter2") || !strings.HasPrefix(s, "pwd:") {
		t.Errorf("PasswordScope leaks the typed username: %q", s)
	}
	if PasswordScope("anna") == PasswordScope("anne") {
		t.Error("different usernames share a scope")
	}
}

func TestWindowForgetsOldFailures(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, st *sqlstore.DB) {
		clk := newClock()
		l := New(st, Policy{Threshold: 3, Base: time.Minute, Max: time.Hour, Window: time.Hour}, clk.Now)
		ctx := context.Background()
		scope := IPScope("logon", "192.0.2.1")
		for i := 0; i < 2; i++ {
			if _, err := l.Reserve(ctx, scope); err != nil {
				t.Fatal(err)
			}
		}
		clk.Advance(time.Hour)
		a, err := l.Reserve(ctx, scope)
		if err != nil {
			t.Fatal(err)
		}
		if a.Failures != 1 {
			t.Errorf("after a quiet hour: %d failures, want the count to start again at 1", a.Failures)
		}
		clk.Advance(59 * time.Minute)
		if a, err = l.Reserve(ctx, scope); err != nil || a.Failures != 2 {
			t.Errorf("within the window: %d failures, %v; want 2", a.Failures, err)
		}
		if a, err = l.Reserve(ctx, scope); err != nil || a.Failures != 3 || l.Throttled(a) == nil {
			t.Errorf("third failure in the window: %+v, %v; want throttled", a, err)
		}
		if err := (Policy{Threshold: 1, Base: time.Second, Max: time.Second, Window: -1}).Validate(); err == nil {
			t.Error("negative window: want an error")
		}
	})
}

// TestReserveRefusesWhileThrottled: a reservation while throttled counts nothing and says how
// long to wait; Release takes one reservation back.
func TestReserveRefusesWhileThrottled(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, l *Limiter, st Store, c *clock.Fake) {
		ctx := context.Background()
		scope := PasswordScope("jan")
		failN(t, l, scope, 5)
		a, err := l.Reserve(ctx, scope)
		var te *ThrottledError
		if !errors.As(err, &te) || te.Minutes() != 1 || a.Failures != 5 {
			t.Fatalf("sixth reservation: %+v, %v; want refused after 5", a, err)
		}
		if got, err := st.GetAttempt(ctx, string(scope)); err != nil || got.Failures != 5 {
			t.Errorf("a refused reservation counted: %+v, %v", got, err)
		}
		c.Advance(time.Minute)
		if a, err = l.Reserve(ctx, scope); err != nil || a.Failures != 6 {
			t.Fatalf("after the throttle: %+v, %v", a, err)
		}
		if err := l.Release(ctx, scope); err != nil {
			t.Fatal(err)
		}
		if got, err := st.GetAttempt(ctx, string(scope)); err != nil || got.Failures != 5 {
			t.Errorf("after Release: %+v, %v; want 5 failures", got, err)
		}
	})
}
