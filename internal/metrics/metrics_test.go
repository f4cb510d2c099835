package metrics

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func TestObserveAudit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		event store.AuditEvent
		want  string // a sample line that must appear
	}{
		{"logon", store.AuditEvent{Type: audit.LogonSuccess, KeyKind: "totp", Detail: map[string]string{"level": "substantial"}},
			`sleutelbos_logons_total{kind="totp",level="substantial"} 1`},
		{"failure", store.AuditEvent{Type: audit.LogonFailure, KeyKind: "tokencard", Reason: audit.ReasonWrongCode},
			`sleutelbos_logon_failures_total{kind="tokencard",reason="wrong_code"} 1`},
		{"failure without a kind", store.AuditEvent{Type: audit.LogonFailure, Reason: audit.ReasonBadCredentials},
			`sleutelbos_logon_failures_total{kind="none",reason="bad_credentials"} 1`},
		{"lockout", store.AuditEvent{Type: audit.KeyLocked, KeyKind: "emailcode"},
			`sleutelbos_key_lockouts_total{kind="emailcode"} 1`},
		{"throttle started", audit.Throttled(store.AuditEvent{}, store.Attempt{Scope: "pwd:secret-hash", Refused: 1}, audit.ReasonThrottleStarted),
			`sleutelbos_throttles_total{scope="pwd"} 1`},
		{"throttle ended", audit.Throttled(store.AuditEvent{}, store.Attempt{Scope: "ip:logon:192.0.2.1", Refused: 4711}, audit.ReasonThrottleEnded),
			`sleutelbos_throttle_refusals_total{scope="ip"} 4711`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := New()
			m.ObserveAudit(tt.event)
			m.ObserveAudit(store.AuditEvent{Type: audit.KeyActivated}) // not a metric: ignored
			text := scrape(t, m)
			if !strings.Contains(text, tt.want+"\n") {
				t.Errorf("no %s in\n%s", tt.want, sleutelbosLines(text))
			}
			if strings.Contains(text, "secret-hash") || strings.Contains(text, "192.0.2.1") {
				t.Error("a throttle scope's username hash or address became a label")
			}
		})
	}
}

func TestObserveRequestBoundsLabels(t *testing.T) {
	t.Parallel()
	m := New()
	m.ObserveRequest("", "PROPFIND", 404, time.Millisecond)
	m.ObserveRequest("GET /login", "GET", 200, 20*time.Millisecond)
	text := scrape(t, m)
	for _, want := range []string{
		`sleutelbos_http_request_duration_seconds_count{code="404",method="other",route="unmatched"} 1`,
		`sleutelbos_http_request_duration_seconds_bucket{code="200",method="GET",route="GET /login",le="0.025"} 1`,
		`sleutelbos_http_request_duration_seconds_bucket{code="200",method="GET",route="GET /login",le="0.01"} 0`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("no %s in\n%s", want, sleutelbosLines(text))
		}
	}
}

type outboxStub struct {
	status store.OutboxStatus
	err    error
}

func (o outboxStub) OutboxStatus(context.Context) (store.OutboxStatus, error) { return o.status, o.err }

func TestOutboxCollector(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	m := New()
	m.WatchOutbox(outboxStub{status: store.OutboxStatus{
		Counts:        map[store.MessageState]int{store.MessagePending: 3, store.MessageFailed: 1},
		OldestPending: now.Add(-90 * time.Second),
	}}, func() time.Time { return now }, time.Second)
	text := scrape(t, m)
	for _, want := range []string{
		`sleutelbos_outbox_messages{state="pending"} 3`, `sleutelbos_outbox_messages{state="failed"} 1`,
		`sleutelbos_outbox_messages{state="sent"} 0`, `sleutelbos_outbox_oldest_pending_age_seconds 90`,
		`sleutelbos_outbox_status_up 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("no %s in\n%s", want, sleutelbosLines(text))
		}
	}

	down := New()
	down.WatchOutbox(outboxStub{err: errors.New("database gone")}, time.Now, time.Second)
	if text := scrape(t, down); !strings.Contains(text, "sleutelbos_outbox_status_up 0\n") || strings.Contains(text, "sleutelbos_outbox_messages{") {
		t.Errorf("an unreadable outbox is not reported as down:\n%s", sleutelbosLines(text))
	}
}

func sleutelbosLines(text string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "sleutelbos_") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
