package login_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRefusalsAggregated: 200 requests refused by one throttle period leave two audit rows and
// two log lines, not 200: one at the first refusal and one with the total once the period is
// over — written by the next request of the scope, or by the sweeper when nobody comes back.
func TestRefusalsAggregated(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		var logs syncBuffer
		w := logintest.New(t, db, logintest.Options{Deps: func(d *login.Deps) {
			d.Audit = audit.New(d.Now, slog.New(slog.NewTextHandler(&logs, nil)))
		}})
		c := login.Client{IP: "192.0.2.1"}
		try := func(user, password string) error {
			tx := w.Service.Start(keys.LevelLow, "/")
			if err := w.Service.Choose(tx, keys.Password); err != nil {
				t.Fatal(err)
			}
			return w.Service.SubmitPassword(ctx, tx, user, password, c)
		}
		throttled := func(user string, refusals int) {
			t.Helper()
			for i := range 5 {
				if err := try(user, "wrong wrong wrong"); !errors.Is(err, login.ErrBadCredentials) {
					t.Fatalf("failure %d: %v", i+1, err)
				}
			}
			for i := range refusals {
				if err := try(user, "wrong wrong wrong"); !errors.Is(err, attempts.ErrThrottled) {
					t.Fatalf("refusal %d: %v, want throttled", i+1, err)
				}
			}
		}
		events := func() []store.AuditEvent {
			t.Helper()
			evs, err := db.ListAudit(ctx, 0, 10000)
			if err != nil {
				t.Fatal(err)
			}
			var out []store.AuditEvent
			for _, e := range evs {
				if e.Type == audit.LogonThrottled || (e.Type == audit.LogonFailure && e.Reason != audit.ReasonBadCredentials) {
					out = append(out, e)
				}
			}
			return out
		}
		logLines := func() int { return strings.Count(logs.String(), "type="+audit.LogonThrottled) }
		check := func(what string, e store.AuditEvent, reason, scope string, refused, ip string) {
			t.Helper()
			if e.Type != audit.LogonThrottled || e.Reason != reason || e.Detail["scope"] != scope || e.Detail["refused"] != refused || e.IP != ip || e.AccountID != 0 {
				t.Errorf("%s: %+v, want %s %s with scope %s, %s refused, ip %q, no account", what, e, audit.LogonThrottled, reason, scope, refused, ip)
			}
		}

		scope := string(login.PasswordScopeOf(w.Service, "jan"))
		throttled("jan", 200)
		evs := events()
		if len(evs) != 1 {
			t.Fatalf("200 refusals left %d audit rows, want 1: %+v", len(evs), evs)
		}
		check("first refusal", evs[0], audit.ReasonThrottleStarted, scope, "1", c.IP)
		if evs[0].Detail["until"] != w.Clock.Now().Add(time.Minute).Format(time.RFC3339) {
			t.Errorf("until = %q, want the end of the 1-minute throttle", evs[0].Detail["until"])
		}
		if n := logLines(); n != 1 {
			t.Errorf("%d log lines for the refusals, want 1", n)
		}

		// The throttle is over: the next request reports the period's total.
		w.Clock.Advance(time.Minute)
		if err := try("jan", "wrong wrong wrong"); !errors.Is(err, login.ErrBadCredentials) {
			t.Fatalf("after the throttle: %v", err)
		}
		evs = events()
		if len(evs) != 2 {
			t.Fatalf("%d audit rows after the period, want 2: %+v", len(evs), evs)
		}
		check("period total", evs[1], audit.ReasonThrottleEnded, scope, "200", "")
		if n := logLines(); n != 2 {
			t.Errorf("%d log lines, want 2", n)
		}

		// Nobody comes back after the throttle: the sweeper reports the total, once.
		throttled("nobody-knows-me", 50)
		w.Clock.Advance(time.Minute)
		n, err := w.Service.ReportEndedThrottles(ctx)
		if err != nil || n != 1 {
			t.Fatalf("ReportEndedThrottles = %d, %v; want 1 period", n, err)
		}
		if n, err := w.Service.ReportEndedThrottles(ctx); err != nil || n != 0 {
			t.Errorf("second ReportEndedThrottles = %d, %v; want nothing left", n, err)
		}
		evs = events()
		if len(evs) != 4 {
			t.Fatalf("%d audit rows, want 4: %+v", len(evs), evs)
		}
		other := string(login.PasswordScopeOf(w.Service, "nobody-knows-me"))
		check("first refusal of the second scope", evs[2], audit.ReasonThrottleStarted, other, "1", c.IP)
		check("swept total", evs[3], audit.ReasonThrottleEnded, other, "50", "")
	})
}
