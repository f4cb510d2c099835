package outbox

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// seedStates puts one message in each state: pending (created t0), sent, failed and held.
func seedStates(t *testing.T, db *sqlstore.DB) (failed, held, sent int64) {
	t.Helper()
	ctx := context.Background()
	mk := func(state store.MessageState, created time.Time) int64 {
		m := store.Message{MessageID: "<x@example.be>", ToAddress: "jan@example.be", State: state, CreatedAt: created, NextAttemptAt: created}
		if err := db.Enqueue(ctx, &m); err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	mk(store.MessagePending, t0.Add(time.Hour))
	mk(store.MessagePending, t0)
	return mk(store.MessageFailed, t0), mk(store.MessageHeld, t0), mk(store.MessageSent, t0)
}

func TestStatus(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		ctx := context.Background()
		var buf bytes.Buffer
		if err := Status(ctx, db, &buf); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "Oldest pending: none") || !strings.Contains(buf.String(), "total             0") {
			t.Errorf("empty outbox status:\n%s", buf.String())
		}
		seedStates(t, db)
		buf.Reset()
		if err := Status(ctx, db, &buf); err != nil {
			t.Fatal(err)
		}
		want := `STATE      MESSAGES
pending           2
sending           0
sent              1
failed            1
held              1
total             5
Oldest pending: created 2024-01-15T09:30:00Z
`
		if got := buf.String(); got != want {
			t.Errorf("Status output:\n%s\nwant:\n%s", got, want)
		}
	})
}

func TestRetry(t *testing.T) {
	t.Parallel()
	eachStore(t, testRetry)
}

func testRetry(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	failed, held, sent := seedStates(t, db)
	now := t0.Add(24 * time.Hour)
	// Messages that carried a code, valid for 5 minutes: long expired now.
	withCode := func(state store.MessageState) int64 {
		m := store.Message{MessageID: "<c@example.be>", ToAddress: "jan@example.be", Template: "logon_code", State: state,
			TextBody: "Your code is 123456", CreatedAt: t0, NextAttemptAt: t0, SecretUntil: t0.Add(5 * time.Minute)}
		if err := db.Enqueue(ctx, &m); err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	failedCode, heldCode := withCode(store.MessageFailed), withCode(store.MessageHeld)
	skippedOne := "Skipped 1 failed message that carried a code: the text was removed when it failed, " +
		"and the citizen asks for a new code instead.\n"
	tests := []struct {
		name       string
		id         int64
		all        bool
		wantOut    string
		wantErr    string
		wantPended []int64
	}{
		{"neither", 0, false, "", "give a message id", nil},
		{"both", failed, true, "", "not both", nil},
		{"missing", 9999, false, "", "message 9999 does not exist", nil},
		{"sent message", sent, false, "", "neither failed nor held", nil},
		{"held message", held, false, "Requeued message 4.\n", "", []int64{held}},
		{"held message with an expired code", heldCode, false, "", "carried a code that has expired", nil},
		{"failed message with a code", failedCode, false, "", "carried a code that has expired", nil},
		{"all failed", 0, true, "Requeued 1 failed message.\n" + skippedOne, "", []int64{failed}},
		{"all failed again", 0, true, "Requeued 0 failed messages.\n" + skippedOne, "", nil},
	}
	defer func() {
		for _, id := range []int64{failedCode, heldCode} {
			if m := getMessage(t, db, id); m.State == store.MessagePending {
				t.Errorf("message %d, whose code expired, was requeued", id)
			}
		}
	}()
	for _, tt := range tests { // in order: they share the store
		var buf bytes.Buffer
		err := Retry(ctx, db, &buf, tt.id, tt.all, now)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: Retry error %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: Retry: %v", tt.name, err)
			continue
		}
		if buf.String() != tt.wantOut {
			t.Errorf("%s: output %q, want %q", tt.name, buf.String(), tt.wantOut)
		}
		for _, id := range tt.wantPended {
			m := getMessage(t, db, id)
			if m.State != store.MessagePending || !m.NextAttemptAt.Equal(now) || m.Attempts != 0 {
				t.Errorf("%s: message %d is %s due %v with %d attempts; want pending, due now, 0", tt.name, id, m.State, m.NextAttemptAt, m.Attempts)
			}
		}
	}
}
