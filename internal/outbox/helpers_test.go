package outbox

import (
	"context"
	"github.com/sleutelbos/sleutelbos/internal/clock"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/outbox/smtptest"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// t0 is the fake clock's start.
var t0 = time.Date(2024, 1, 15, 9, 30, 0, 0, time.UTC)

func newClock() *clock.Fake { return clock.NewFake(t0) }

const testFrom = "Sleutelbos <noreply@example.be>"

// testConfig is a delivery configuration for srv: no TLS (a relay on localhost), small batches,
// 30 s base back-off.
func testConfig(srv *smtptest.Server) Config {
	return Config{
		Host:         srv.Host(),
		Port:         srv.Port(),
		TLSPolicy:    TLSNone,
		Timeout:      5 * time.Second,
		From:         testFrom,
		HELO:         "sleutelbos.test",
		BatchSize:    10,
		PollInterval: 20 * time.Millisecond,
		Lease:        time.Minute,
		MaxAttempts:  5,
		BaseBackoff:  30 * time.Second,
		MaxBackoff:   10 * time.Minute,
	}
}

func testLogger(t testing.TB) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testWriter sends log lines to t.Log, so they show only for failing tests.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

func newSender(t testing.TB, cfg Config) *SMTPSender {
	t.Helper()
	s, err := NewSMTPSender(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newTestWorker(t testing.TB, st store.Outbox, cfg Config, node string, now func() time.Time) *Worker {
	t.Helper()
	return NewWorker(st, newSender(t, cfg), cfg, node, now, testLogger(t))
}

func newComposer(t testing.TB, now func() time.Time) *mail.Composer {
	t.Helper()
	b, err := i18n.Load("en")
	if err != nil {
		t.Fatal(err)
	}
	c, err := mail.NewComposer(b, mail.ComposerConfig{
		ServiceName: "Sleutelbos",
		BaseURL:     "https://login.example.be",
		From:        testFrom,
		Now:         now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// codeData is a logon code that stays valid for as long as any test runs, on the fake clock or
// the real one (TestExpiredCodeNotSent lets one expire).
var codeData = map[string]any{"Code": "482913", "Minutes": 5, "ExpiresAt": time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}

func citizen(lang string) mail.Recipient {
	return mail.Recipient{AccountID: 42, Name: "Jan Peeters", Address: "jan@example.be", Language: lang}
}

// enqueue puts one logon-code message for citizen(lang) in st and returns it as stored.
func enqueue(t testing.TB, st store.Outbox, c *mail.Composer, lang string) store.Message {
	t.Helper()
	return enqueueTo(t, st, c, citizen(lang), mail.TemplateLogonCode, codeData)
}

func enqueueTo(t testing.TB, st store.Outbox, c *mail.Composer, to mail.Recipient, template string, data map[string]any) store.Message {
	t.Helper()
	m, err := c.Render(to, template, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Enqueue(context.Background(), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func getMessage(t testing.TB, st store.Outbox, id int64) store.Message {
	t.Helper()
	m, err := st.GetMessage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func runOnce(t testing.TB, w *Worker, want int) {
	t.Helper()
	n, err := w.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Fatalf("RunOnce claimed %d messages, want %d", n, want)
	}
}

// deliverOne enqueues one message, lets w run once and checks where the message ended: in
// state want, with wantError in its last error.
func deliverOne(t *testing.T, db store.Outbox, w *Worker, now func() time.Time, want store.MessageState, wantError string) {
	t.Helper()
	m := enqueue(t, db, newComposer(t, now), "en")
	runOnce(t, w, 1)
	got := getMessage(t, db, m.ID)
	if got.State != want || !strings.Contains(got.LastError, wantError) {
		t.Errorf("state %s, last error %q; want %s with %q", got.State, got.LastError, want, wantError)
	}
}

// eachStore runs fn in parallel on SQLite and PostgreSQL, each with a fresh store.
func eachStore(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	t.Helper()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		fn(t, db)
	})
}
