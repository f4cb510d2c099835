package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// fakeAudit is an in-memory audit log: an Appender and a Lister.
type fakeAudit struct {
	mu        sync.Mutex
	events    []store.AuditEvent
	listCalls []int64 // afterID of every ListAudit call
	err       error
}

var (
	_ Appender = (*fakeAudit)(nil)
	_ Lister   = (*fakeAudit)(nil)
)

func (f *fakeAudit) AppendAudit(_ context.Context, e *store.AuditEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	e.ID = int64(len(f.events) + 1)
	f.events = append(f.events, *e)
	return nil
}

func (f *fakeAudit) ListAudit(_ context.Context, afterID int64, limit int) ([]store.AuditEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listCalls = append(f.listCalls, afterID)
	if f.err != nil {
		return nil, f.err
	}
	var out []store.AuditEvent
	for _, e := range f.events {
		if e.ID > afterID && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

var fixed = time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)

func fixedNow() time.Time { return fixed }

func TestRecord(t *testing.T) {
	t.Parallel()
	brussels := time.FixedZone("CET", 3600)
	given := time.Date(2024, 12, 31, 23, 0, 0, 0, brussels)
	tests := []struct {
		name string
		in   store.AuditEvent
		want store.AuditEvent
	}{
		{
			"defaults filled",
			store.AuditEvent{Type: LogonFailure, Reason: ReasonBadCredentials, IP: "192.0.2.1"},
			store.AuditEvent{ID: 1, Time: fixed, Type: LogonFailure, Reason: ReasonBadCredentials, IP: "192.0.2.1", Actor: ActorCitizen},
		},
		{
			"given values kept",
			store.AuditEvent{Type: KeyDeactivated, Time: given, AccountID: 7, KeyKind: "tokencard", KeyID: 3, Actor: ActorOperator, Detail: map[string]string{"cause": "helpdesk"}},
			store.AuditEvent{ID: 1, Time: given, Type: KeyDeactivated, AccountID: 7, KeyKind: "tokencard", KeyID: 3, Actor: ActorOperator, Detail: map[string]string{"cause": "helpdesk"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := &fakeAudit{}
			if err := New(fixedNow, nil).Record(context.Background(), st, tt.in); err != nil {
				t.Fatalf("Record: %v", err)
			}
			if len(st.events) != 1 {
				t.Fatalf("%d events stored, want 1", len(st.events))
			}
			if diff := cmp.Diff(tt.want, st.events[0]); diff != "" {
				t.Errorf("stored event (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRecordErrors(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	r := New(fixedNow, slog.New(slog.NewJSONHandler(&logs, nil)))
	st := &fakeAudit{}
	if err := r.Record(context.Background(), st, store.AuditEvent{AccountID: 1}); err == nil {
		t.Error("Record without a type succeeded")
	}
	boom := errors.New("disk full")
	st.err = boom
	if err := r.Record(context.Background(), st, store.AuditEvent{Type: LogonSuccess}); !errors.Is(err, boom) {
		t.Errorf("Record with a failing store = %v, want it to wrap %v", err, boom)
	}
	if len(st.events) != 0 || logs.Len() != 0 {
		t.Errorf("a failed Record stored %d events and logged %q, want nothing", len(st.events), logs.String())
	}
}

func TestRecordLogs(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	r := New(fixedNow, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	e := store.AuditEvent{
		Type: LogonSuccess, AccountID: 42, KeyKind: "totp", KeyID: 9, IP: "198.51.100.7",
		Detail: map[string]string{"client": "tax-portal", "note": "do-not-log-me"},
	}
	if err := r.Record(context.Background(), &fakeAudit{}, e); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("log line %q: %v", logs.String(), err)
	}
	delete(line, "time")
	want := map[string]any{
		"level": "INFO", "msg": "audit", "type": LogonSuccess, "account_id": 42.0, "key_kind": "totp",
		"key_id": 9.0, "reason": "", "ip": "198.51.100.7", "actor": ActorCitizen,
	}
	if diff := cmp.Diff(want, line); diff != "" {
		t.Errorf("log line (-want +got):\n%s", diff)
	}
	if strings.Contains(logs.String(), "do-not-log-me") {
		t.Error("Detail reached the log")
	}
}

func seed(t *testing.T, st *fakeAudit, n int) {
	t.Helper()
	r := New(fixedNow, nil)
	for i := range n {
		e := store.AuditEvent{Type: LogonFailure, Reason: ReasonWrongCode, AccountID: int64(i % 7), Time: fixed.Add(time.Duration(i) * time.Second)}
		if err := r.Record(context.Background(), st, e); err != nil {
			t.Fatal(err)
		}
	}
}

func TestExportPages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		events    int
		afterID   int64
		wantN     int
		wantCalls []int64
	}{
		{"empty", 0, 0, 0, []int64{0}},
		{"one", 1, 0, 1, []int64{0}},
		{"exactly one batch", 500, 0, 500, []int64{0, 500}},
		{"several batches", 1201, 0, 1201, []int64{0, 500, 1000}},
		{"continue after an id", 1201, 700, 501, []int64{700, 1200}},
		{"nothing new", 10, 10, 0, []int64{10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := &fakeAudit{}
			seed(t, st, tt.events)
			var out bytes.Buffer
			n, err := Export(context.Background(), st, &out, tt.afterID)
			if err != nil {
				t.Fatalf("Export: %v", err)
			}
			if n != tt.wantN {
				t.Errorf("Export wrote %d events, want %d", n, tt.wantN)
			}
			if diff := cmp.Diff(tt.wantCalls, st.listCalls); diff != "" {
				t.Errorf("ListAudit calls (-want +got):\n%s", diff)
			}
			// Every line is one event, in order, with ids following afterID.
			sc := bufio.NewScanner(&out)
			lines := 0
			for sc.Scan() {
				var got struct {
					ID int64 `json:"id"`
				}
				if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
					t.Fatalf("line %d %q: %v", lines+1, sc.Text(), err)
				}
				if want := tt.afterID + int64(lines) + 1; got.ID != want {
					t.Fatalf("line %d has id %d, want %d", lines+1, got.ID, want)
				}
				lines++
			}
			if lines != tt.wantN {
				t.Errorf("%d lines written, want %d", lines, tt.wantN)
			}
		})
	}
}

func TestExportFormat(t *testing.T) {
	t.Parallel()
	st := &fakeAudit{events: []store.AuditEvent{
		{ID: 1, Time: time.Date(2025, 3, 1, 10, 30, 0, 0, time.FixedZone("CET", 3600)), Type: LogonFailure, Reason: ReasonBadCredentials, IP: "192.0.2.1", Actor: ActorCitizen},
		{ID: 2, Time: time.Date(2025, 3, 1, 9, 31, 2, 500_000_000, time.UTC), Type: KeyDeactivated, AccountID: 7, KeyKind: "tokencard", KeyID: 3, Actor: ActorOperator, Detail: map[string]string{"cause": "<helpdesk>"}},
	}}
	var out bytes.Buffer
	if _, err := Export(context.Background(), st, &out, 0); err != nil {
		t.Fatal(err)
	}
	want := `{"id":1,"time":"2025-03-01T09:30:00Z","type":"logon.failure","account_id":0,"key_kind":"","key_id":0,"reason":"bad_credentials","ip":"192.0.2.1","actor":"citizen"}
{"id":2,"time":"2025-03-01T09:31:02.5Z","type":"key.deactivated","account_id":7,"key_kind":"tokencard","key_id":3,"reason":"","ip":"","actor":"operator","detail":{"cause":"<helpdesk>"}}
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("export (-want +got):\n%s", diff)
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestExportErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")

	st := &fakeAudit{}
	seed(t, st, 3)
	if _, err := Export(context.Background(), st, failingWriter{boom}, 0); !errors.Is(err, boom) {
		t.Errorf("Export to a failing writer = %v, want it to wrap %v", err, boom)
	}

	st.err = boom
	if _, err := Export(context.Background(), st, &bytes.Buffer{}, 0); !errors.Is(err, boom) {
		t.Errorf("Export from a failing store = %v, want it to wrap %v", err, boom)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Export(ctx, &fakeAudit{}, &bytes.Buffer{}, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Export with a cancelled context = %v, want Canceled", err)
	}
}

func TestEventConstantsDistinct(t *testing.T) {
	t.Parallel()
	for name, values := range map[string][]string{
		"types": {LogonSuccess, LogonFailure, LogonThrottled, KeyLocked, KeyActivated, KeyDeactivated,
			KeyExpired, EmailChanged, PhaseoutPromptShown, PhaseoutChoice, OperatorAction, SessionLogout,
			PasswordChanged, TokencardImported, AccountCreated, ChallengeRepeated},
		"reasons": {ReasonBadCredentials, ReasonWrongCode, ReasonCodeExpired, ReasonCodeTries, ReasonCodeUsed,
			ReasonKeyMissing, ReasonKeyLocked, ReasonThrottleStarted, ReasonThrottleEnded},
	} {
		seen := map[string]bool{}
		for _, v := range values {
			if v == "" || seen[v] {
				t.Errorf("%s: %q is empty or repeated", name, v)
			}
			seen[v] = true
		}
	}
}
