package outbox

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	mailpkg "github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/outbox/smtptest"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// TestDeliverContentAndHeaders sends one message per language and per template to a real SMTP
// server and checks what arrives: envelope, headers (decoded), both bodies, and the store state.
func TestDeliverContentAndHeaders(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		srv := smtptest.Start(t)
		clk := newClock()
		c := newComposer(t, clk.Now)
		w := newTestWorker(t, db, testConfig(srv), "node-a", clk.Now)

		type sent struct {
			lang string
			m    store.Message
		}
		var want []sent
		for _, lang := range i18n.Languages() {
			to := citizen(lang)
			to.Name = "Jan Peeters-Dupont é" // non-ASCII forces header encoding
			want = append(want,
				sent{lang, enqueueTo(t, db, c, to, mailpkg.TemplateLogonCode, codeData)},
				sent{lang, enqueueTo(t, db, c, to, mailpkg.TemplatePhaseoutReminder, map[string]any{
					"Kind": "tokencard", "DisabledFrom": time.Date(2024, 1, 30, 23, 0, 0, 0, time.UTC),
					"ActivateURL": "https://login.example.be/keys/activate",
				})})
		}
		runOnce(t, w, len(want))
		got := srv.Messages()
		if len(got) != len(want) {
			t.Fatalf("server accepted %d messages, want %d", len(got), len(want))
		}
		byID := map[string]smtptest.Received{}
		for _, r := range got {
			byID[r.MessageID()] = r
		}
		for _, s := range want {
			m := s.m
			r, ok := byID[m.MessageID]
			if !ok {
				t.Errorf("%s %s: Message-ID %s not received", s.lang, m.Template, m.MessageID)
				continue
			}
			if r.From != "noreply@example.be" || len(r.To) != 1 || r.To[0] != "jan@example.be" {
				t.Errorf("%s: envelope from %q to %q", s.lang, r.From, r.To)
			}
			if got := r.Subject(); got != m.Subject {
				t.Errorf("%s: Subject %q, want %q", s.lang, got, m.Subject)
			}
			if strings.Contains(r.Header.Get("Subject"), "é") || strings.Contains(r.Header.Get("To"), "é") {
				t.Errorf("%s: non-ASCII header sent unencoded: %q / %q", s.lang, r.Header.Get("Subject"), r.Header.Get("To"))
			}
			toAddrs, err := r.Header.AddressList("To")
			if err != nil || len(toAddrs) != 1 || toAddrs[0].Name != "Jan Peeters-Dupont é" || toAddrs[0].Address != "jan@example.be" {
				t.Errorf("%s: To %v (%v), want the citizen's name and address", s.lang, toAddrs, err)
			}
			from, err := mail.ParseAddress(r.Header.Get("From"))
			if err != nil || from.Name != "Sleutelbos" || from.Address != "noreply@example.be" {
				t.Errorf("%s: From %q", s.lang, r.Header.Get("From"))
			}
			date, err := r.Header.Date()
			if err != nil || !date.Equal(t0) {
				t.Errorf("%s: Date %v (%v), want the creation time %v", s.lang, date, err, t0)
			}
			if got := r.Header.Get("Auto-Submitted"); got != "auto-generated" {
				t.Errorf("%s: Auto-Submitted %q", s.lang, got)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
				t.Errorf("%s: Content-Type %q, want multipart/alternative", s.lang, ct)
			}
			if r.Header.Get("Bcc") != "" || r.Header.Get("User-Agent") != "" || r.Header.Get("X-Mailer") != "" {
				t.Errorf("%s: unexpected header in %v", s.lang, r.Header)
			}
			text, html, err := r.Parts()
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.ReplaceAll(text, "\r\n", "\n"); got != m.TextBody {
				t.Errorf("%s: text part differs:\n%s\nwant:\n%s", s.lang, got, m.TextBody)
			}
			if got := strings.ReplaceAll(html, "\r\n", "\n"); got != m.HTMLBody {
				t.Errorf("%s: HTML part differs", s.lang)
			}
			if !strings.Contains(html, `lang="`+s.lang+`"`) {
				t.Errorf("%s: HTML part lacks its language", s.lang)
			}
			stored := getMessage(t, db, m.ID)
			if stored.State != store.MessageSent || !stored.SentAt.Equal(t0) || stored.Attempts != 1 || stored.LeaseOwner != "" {
				t.Errorf("%s: stored %s, sent %v, attempts %d, owner %q", s.lang, stored.State, stored.SentAt, stored.Attempts, stored.LeaseOwner)
			}
		}
		if st := w.Stats(); st.Sent != uint64(len(want)) {
			t.Errorf("Stats() = %+v", st)
		}
	})
}

// TestTemporaryFailureRetried: a 4xx answer schedules a retry after the back-off (a fixed clock
// is advanced, nothing sleeps), and the retry carries the same Message-ID.
func TestTemporaryFailureRetried(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		srv := smtptest.Start(t)
		clk := newClock()
		cfg := testConfig(srv)
		w := newTestWorker(t, db, cfg, "node-a", clk.Now)
		m := enqueue(t, db, newComposer(t, clk.Now), "nl")

		srv.TempFailNext(1)
		runOnce(t, w, 1)
		got := getMessage(t, db, m.ID)
		if got.State != store.MessagePending || got.Attempts != 1 || !got.NextAttemptAt.Equal(t0.Add(cfg.BaseBackoff)) {
			t.Fatalf("after 451: state %s, attempts %d, next %v; want pending, 1, %v", got.State, got.Attempts, got.NextAttemptAt, t0.Add(cfg.BaseBackoff))
		}
		if !strings.Contains(got.LastError, "451") || !strings.Contains(got.LastError, "try again later") {
			t.Errorf("LastError = %q, want the server's 451 answer", got.LastError)
		}

		clk.Advance(cfg.BaseBackoff - time.Second)
		runOnce(t, w, 0) // not yet due
		clk.Advance(time.Second)
		runOnce(t, w, 1)

		got = getMessage(t, db, m.ID)
		if got.State != store.MessageSent || got.Attempts != 2 {
			t.Fatalf("after retry: state %s, attempts %d; want sent, 2", got.State, got.Attempts)
		}
		attempts := srv.Attempts()
		if len(attempts) != 2 || attempts[0].Accepted || !attempts[1].Accepted {
			t.Fatalf("server saw %d attempts: %+v", len(attempts), attempts)
		}
		if attempts[0].MessageID() != m.MessageID || attempts[1].MessageID() != m.MessageID {
			t.Errorf("Message-IDs %q then %q, want %q both times", attempts[0].MessageID(), attempts[1].MessageID(), m.MessageID)
		}
		if len(srv.Messages()) != 1 {
			t.Errorf("delivered %d times, want once", len(srv.Messages()))
		}
	})
}

func TestPermanentFailure(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		srv := smtptest.Start(t)
		clk := newClock()
		w := newTestWorker(t, db, testConfig(srv), "node-a", clk.Now)
		m := enqueue(t, db, newComposer(t, clk.Now), "fr")

		srv.RejectNext(1)
		runOnce(t, w, 1)
		got := getMessage(t, db, m.ID)
		if got.State != store.MessageFailed || got.Attempts != 1 {
			t.Fatalf("after 550: state %s, attempts %d; want failed, 1", got.State, got.Attempts)
		}
		if !strings.Contains(got.LastError, "550") || !strings.Contains(got.LastError, "mailbox unavailable") {
			t.Errorf("LastError = %q, want the server's 550 answer", got.LastError)
		}
		if got.TextBody != "" || got.HTMLBody != "" {
			t.Errorf("a failed message kept the text of its code:\n%s", got.TextBody)
		}
		clk.Advance(24 * time.Hour)
		runOnce(t, w, 0)
		if w.Stats().Failed != 1 {
			t.Errorf("Stats() = %+v", w.Stats())
		}
	})
}

// TestExpiredCodeNotSent: a message whose code expired while it waited for a retry is failed,
// without its text, instead of being sent.
func TestExpiredCodeNotSent(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, db *sqlstore.DB) {
		srv := smtptest.Start(t)
		clk := newClock()
		cfg := testConfig(srv)
		w := newTestWorker(t, db, cfg, "node-a", clk.Now)
		expiry := t0.Add(time.Hour)
		m := enqueueTo(t, db, newComposer(t, clk.Now), citizen("de"), mailpkg.TemplateLogonCode,
			map[string]any{"Code": "482913", "Minutes": 5, "ExpiresAt": expiry})
		if !m.SecretUntil.Equal(expiry) {
			t.Fatalf("SecretUntil = %v, want the code's expiry %v", m.SecretUntil, expiry)
		}
		srv.TempFailNext(1)
		runOnce(t, w, 1)
		clk.Advance(time.Hour)
		// Claimed before any sweep emptied it: the worker itself refuses to send it.
		runOnce(t, w, 1)
		got := getMessage(t, db, m.ID)
		if got.State != store.MessageFailed || got.LastError != store.CodeExpiredBeforeDelivery {
			t.Errorf("state %s, last error %q; want failed, %q", got.State, got.LastError, store.CodeExpiredBeforeDelivery)
		}
		if got.TextBody != "" || got.HTMLBody != "" {
			t.Errorf("the failed message kept the text of its code:\n%s", got.TextBody)
		}
		if n := len(srv.Attempts()); n != 1 {
			t.Errorf("the server saw %d attempts, want only the first", n)
		}
	})
}

func TestMaxAttempts(t *testing.T) {
	t.Parallel()
	eachStore(t, testMaxAttempts)
}

func testMaxAttempts(t *testing.T, db *sqlstore.DB) {
	srv := smtptest.Start(t)
	clk := newClock()
	cfg := testConfig(srv)
	cfg.MaxAttempts = 3
	w := newTestWorker(t, db, cfg, "node-a", clk.Now)
	m := enqueue(t, db, newComposer(t, clk.Now), "de")

	srv.TempFailNext(3)
	for attempt := 1; attempt <= 3; attempt++ {
		runOnce(t, w, 1)
		got := getMessage(t, db, m.ID)
		wantState := store.MessagePending
		if attempt == 3 {
			wantState = store.MessageFailed
		}
		if got.State != wantState || got.Attempts != attempt {
			t.Fatalf("attempt %d: state %s, attempts %d; want %s", attempt, got.State, got.Attempts, wantState)
		}
		if attempt < 3 {
			if want := clk.Now().Add(Backoff(cfg.BaseBackoff, cfg.MaxBackoff, attempt)); !got.NextAttemptAt.Equal(want) {
				t.Errorf("attempt %d: next %v, want %v", attempt, got.NextAttemptAt, want)
			}
			clk.Advance(cfg.MaxBackoff)
		}
	}
}

// TestServerDownThenUp: with the SMTP server down the message waits; once it is back, the
// message is delivered.
func TestServerDownThenUp(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		srv := smtptest.Start(t)
		clk := newClock()
		cfg := testConfig(srv)
		w := newTestWorker(t, db, cfg, "node-a", clk.Now)
		m := enqueue(t, db, newComposer(t, clk.Now), "en")

		srv.Stop()
		runOnce(t, w, 1)
		got := getMessage(t, db, m.ID)
		if got.State != store.MessagePending || got.LastError == "" {
			t.Fatalf("server down: state %s, last error %q; want pending with the dial error", got.State, got.LastError)
		}
		srv.Restart()
		clk.Advance(cfg.BaseBackoff)
		runOnce(t, w, 1)
		if got := getMessage(t, db, m.ID); got.State != store.MessageSent {
			t.Fatalf("server up again: state %s (%s), want sent", got.State, got.LastError)
		}
		if msgs := srv.Messages(); len(msgs) != 1 || msgs[0].MessageID() != m.MessageID {
			t.Errorf("server received %d messages", len(msgs))
		}
	})
}

func TestAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		user, pass string
		wantState  store.MessageState
		wantError  string
	}{
		{"right credentials", "sleutelbos", "s3cret pass", store.MessageSent, ""},
		{"wrong password: retried, not failed", "sleutelbos", "wrong", store.MessagePending, "535"},
		{"no credentials: retried, not failed", "", "", store.MessagePending, "502"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, db *sqlstore.DB) {
				srv := smtptest.Start(t)
				srv.RequireAuth("sleutelbos", "s3cret pass")
				clk := newClock()
				cfg := testConfig(srv)
				cfg.Username, cfg.Password = tt.user, tt.pass
				w := newTestWorker(t, db, cfg, "node-a", clk.Now)
				deliverOne(t, db, w, clk.Now, tt.wantState, tt.wantError)
			})
		})
	}
}

func TestTLSPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		starttls  bool
		policy    string
		trust     bool
		auth      bool
		wantState store.MessageState
		wantError string
	}{
		{"mandatory with STARTTLS", true, TLSMandatory, true, false, store.MessageSent, ""},
		{"mandatory with STARTTLS and AUTH", true, TLSMandatory, true, true, store.MessageSent, ""},
		{"mandatory without STARTTLS", false, TLSMandatory, true, false, store.MessagePending, "STARTTLS"},
		{"mandatory with an untrusted certificate", true, TLSMandatory, false, false, store.MessagePending, "certificate"},
		{"opportunistic without STARTTLS", false, TLSOpportunistic, true, false, store.MessageSent, ""},
		{"opportunistic with STARTTLS", true, TLSOpportunistic, true, false, store.MessageSent, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, db *sqlstore.DB) {
				var opts []smtptest.Option
				if tt.starttls {
					opts = append(opts, smtptest.WithSTARTTLS())
				}
				srv := smtptest.Start(t, opts...)
				clk := newClock()
				cfg := testConfig(srv)
				cfg.TLSPolicy = tt.policy
				if tt.auth {
					srv.RequireAuth("u", "p")
					cfg.Username, cfg.Password = "u", "p"
				}
				tlsCfg := srv.ClientTLSConfig()
				if !tt.trust {
					tlsCfg = nil
				}
				s, err := NewSMTPSender(cfg, tlsCfg)
				if err != nil {
					t.Fatal(err)
				}
				w := NewWorker(db, s, cfg, "node-a", clk.Now, testLogger(t))
				deliverOne(t, db, w, clk.Now, tt.wantState, tt.wantError)
			})
		})
	}
}

func TestTimeoutIsTemporary(t *testing.T) {
	t.Parallel()
	eachStore(t, testTimeoutIsTemporary)
}

func testTimeoutIsTemporary(t *testing.T, db *sqlstore.DB) {
	srv := smtptest.Start(t)
	srv.SetDelay(time.Second)
	clk := newClock()
	cfg := testConfig(srv)
	cfg.Timeout = 200 * time.Millisecond
	w := newTestWorker(t, db, cfg, "node-a", clk.Now)
	m := enqueue(t, db, newComposer(t, clk.Now), "en")
	runOnce(t, w, 1)
	if got := getMessage(t, db, m.ID); got.State != store.MessagePending || got.LastError == "" {
		t.Errorf("slow server: state %s, last error %q; want pending with an error", got.State, got.LastError)
	}
}

// TestHeaderInjection: CR/LF in a name or subject can neither add a header nor a recipient,
// whether it comes through the composer or was stored raw.
func TestHeaderInjection(t *testing.T) {
	t.Parallel()
	eachStore(t, testHeaderInjection)
}

func testHeaderInjection(t *testing.T, db *sqlstore.DB) {
	srv := smtptest.Start(t)
	clk := newClock()
	w := newTestWorker(t, db, testConfig(srv), "node-a", clk.Now)

	to := citizen("en")
	to.Name = "Jan\r\nBcc: evil@x.example"
	composed := enqueueTo(t, db, newComposer(t, clk.Now), to, mailpkg.TemplateLogonCode, codeData)
	raw := store.Message{
		MessageID: "<raw-1@example.be>", ToAddress: "jan@example.be",
		ToName:   "Jan\r\nBcc: evil@x.example",
		Subject:  "Hello\r\nBcc: evil@x.example\r\n\r\nbody",
		TextBody: "text", HTMLBody: "<p>html</p>", NextAttemptAt: t0, CreatedAt: t0,
	}
	if err := db.Enqueue(context.Background(), &raw); err != nil {
		t.Fatal(err)
	}
	runOnce(t, w, 2)
	msgs := srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("delivered %d messages, want 2", len(msgs))
	}
	for _, r := range msgs {
		if len(r.To) != 1 || r.To[0] != "jan@example.be" {
			t.Errorf("%s: envelope recipients %q, want only jan@example.be", r.MessageID(), r.To)
		}
		if r.Header.Get("Bcc") != "" || strings.Contains(string(r.Data), "\r\nBcc:") {
			t.Errorf("%s: a Bcc header was injected:\n%s", r.MessageID(), r.Data)
		}
		toAddrs, err := r.Header.AddressList("To")
		if err != nil || len(toAddrs) != 1 || toAddrs[0].Name != "Jan Bcc: evil@x.example" {
			t.Errorf("%s: To %v (%v)", r.MessageID(), toAddrs, err)
		}
	}
	if got := getMessage(t, db, composed.ID); got.State != store.MessageSent {
		t.Errorf("composed message %s", got.State)
	}
}

// TestLeaseExpiryReclaim stands in for "serve killed with SIGKILL after claiming, before
// sending": a worker claims and dies; nobody can take the message while the lease holds; after
// it, another worker delivers it exactly once, and the dead worker's late bookkeeping is refused.
func TestLeaseExpiryReclaim(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		srv := smtptest.Start(t)
		clk := newClock()
		cfg := testConfig(srv)
		m := enqueue(t, db, newComposer(t, clk.Now), "nl")

		claimed, err := db.ClaimMessages(context.Background(), "node-dead", clk.Now(), clk.Now().Add(cfg.Lease), cfg.BatchSize)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim by the doomed node: %d messages, %v", len(claimed), err)
		}
		// node-dead is SIGKILLed here: it never sends and never records anything.

		w := newTestWorker(t, db, cfg, "node-b", clk.Now)
		clk.Advance(cfg.Lease - time.Second)
		runOnce(t, w, 0) // the lease still holds
		clk.Advance(time.Second)
		runOnce(t, w, 1)

		got := getMessage(t, db, m.ID)
		if got.State != store.MessageSent || got.Attempts != 2 {
			t.Fatalf("after the lease: state %s, attempts %d; want sent, 2", got.State, got.Attempts)
		}
		if msgs := srv.Messages(); len(msgs) != 1 || msgs[0].MessageID() != m.MessageID {
			t.Fatalf("server received %d messages, want exactly one", len(msgs))
		}
		if err := db.MarkSent(context.Background(), m.ID, "node-dead", clk.Now()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("late MarkSent by the dead node = %v, want store.ErrNotFound", err)
		}
	})
}

// sendHook wraps a Sender to run code around a send.
type sendHook struct {
	Sender
	before func(store.Message)
}

func (h sendHook) Send(ctx context.Context, m store.Message) error {
	if h.before != nil {
		h.before(m)
	}
	return h.Sender.Send(ctx, m)
}

// TestLostLease documents the at-least-once window: a worker that outlives its lease while
// sending delivers, but another node has already delivered the same message (same Message-ID);
// the late MarkSent is refused and nothing is counted twice in the store.
func TestLostLease(t *testing.T) {
	t.Parallel()
	eachStore(t, testLostLease)
}

func testLostLease(t *testing.T, db *sqlstore.DB) {
	srv := smtptest.Start(t)
	clk := newClock()
	cfg := testConfig(srv)
	m := enqueue(t, db, newComposer(t, clk.Now), "en")
	b := newTestWorker(t, db, cfg, "node-b", clk.Now)
	var once sync.Once
	slow := sendHook{Sender: newSender(t, cfg), before: func(store.Message) {
		once.Do(func() { // node-a stalls past its lease; node-b takes over
			clk.Advance(cfg.Lease)
			runOnce(t, b, 1)
		})
	}}
	a := NewWorker(db, slow, cfg, "node-a", clk.Now, testLogger(t))
	runOnce(t, a, 1)

	msgs := srv.Messages()
	if len(msgs) != 2 || msgs[0].MessageID() != m.MessageID || msgs[1].MessageID() != m.MessageID {
		t.Fatalf("server received %d messages; want the same Message-ID twice", len(msgs))
	}
	if got := getMessage(t, db, m.ID); got.State != store.MessageSent {
		t.Errorf("state %s, want sent", got.State)
	}
	if a.Stats().Sent != 0 || b.Stats().Sent != 1 {
		t.Errorf("stats a=%+v b=%+v; only b should count the delivery", a.Stats(), b.Stats())
	}
}

// TestHeldMessagesStay: without SMTP the composer holds messages; no worker ever claims them.
func TestHeldMessagesStay(t *testing.T) {
	t.Parallel()
	eachStore(t, testHeldMessagesStay)
}

func testHeldMessagesStay(t *testing.T, db *sqlstore.DB) {
	srv := smtptest.Start(t)
	clk := newClock()
	b, err := i18n.Load("en")
	if err != nil {
		t.Fatal(err)
	}
	c, err := mailpkg.NewComposer(b, mailpkg.ComposerConfig{ServiceName: "Sleutelbos", BaseURL: "https://login.example.be", From: testFrom, Now: clk.Now, Hold: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Enqueue(context.Background(), db, citizen("en"), mailpkg.TemplateLogonCode, codeData); err != nil {
		t.Fatal(err)
	}
	w := newTestWorker(t, db, testConfig(srv), "node-a", clk.Now)
	runOnce(t, w, 0)
	msgs, err := db.ListMessages(context.Background(), 10)
	if err != nil || len(msgs) != 1 || msgs[0].State != store.MessageHeld {
		t.Fatalf("ListMessages = %+v, %v; want one held message", msgs, err)
	}
}

// TestRunWakeAndShutdown: Run sleeps for its poll interval, a Wake delivers at once, and
// cancelling the context stops it.
func TestRunWakeAndShutdown(t *testing.T) {
	t.Parallel()
	eachStore(t, testRunWakeAndShutdown)
}

func testRunWakeAndShutdown(t *testing.T, db *sqlstore.DB) {
	srv := smtptest.Start(t)
	cfg := testConfig(srv)
	cfg.PollInterval = time.Hour
	w := newTestWorker(t, db, cfg, "node-a", time.Now)
	b, err := i18n.Load("en")
	if err != nil {
		t.Fatal(err)
	}
	c, err := mailpkg.NewComposer(b, mailpkg.ComposerConfig{ServiceName: "Sleutelbos", BaseURL: "https://login.example.be", From: testFrom, Wake: w.Wake})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	for i := range 3 {
		if err := c.Enqueue(ctx, db, citizen("en"), mailpkg.TemplateLogonCode, codeData); err != nil {
			t.Fatal(err)
		}
		srv.WaitForMessages(t, i+1, 10*time.Second)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run() = %v, want nil after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// TestShutdownGivesBackTheRest: cancelling during a batch finishes the message being sent and
// puts the others back, due at once, for the next claim.
func TestShutdownGivesBackTheRest(t *testing.T) {
	t.Parallel()
	eachStore(t, testShutdownGivesBackTheRest)
}

func testShutdownGivesBackTheRest(t *testing.T, db *sqlstore.DB) {
	srv := smtptest.Start(t)
	clk := newClock()
	cfg := testConfig(srv)
	c := newComposer(t, clk.Now)
	var ids []int64
	for range 3 {
		ids = append(ids, enqueue(t, db, c, "en").ID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hook := sendHook{Sender: newSender(t, cfg), before: func(store.Message) { cancel() }}
	w := NewWorker(db, hook, cfg, "node-a", clk.Now, testLogger(t))
	n, err := w.RunOnce(ctx)
	if err != nil || n != 3 {
		t.Fatalf("RunOnce = %d, %v", n, err)
	}
	if got := getMessage(t, db, ids[0]); got.State != store.MessageSent {
		t.Errorf("the message in flight: %s, want sent", got.State)
	}
	for _, id := range ids[1:] {
		got := getMessage(t, db, id)
		if got.State != store.MessagePending || !got.NextAttemptAt.Equal(clk.Now()) || got.LeaseOwner != "" {
			t.Errorf("message %d: %s due %v owner %q; want pending, due now, no owner", id, got.State, got.NextAttemptAt, got.LeaseOwner)
		}
	}
	if st := w.Stats(); st.Sent != 1 || st.Abandoned != 2 {
		t.Errorf("Stats() = %+v", st)
	}
	runOnce(t, newTestWorker(t, db, cfg, "node-b", clk.Now), 2)
	if len(srv.Messages()) != 3 {
		t.Errorf("delivered %d, want 3", len(srv.Messages()))
	}
}

// TestLeaseRunningOut: a worker whose lease would end before the next delivery finishes gives
// the rest of the batch back instead of risking a double send.
func TestLeaseRunningOut(t *testing.T) {
	t.Parallel()
	eachStore(t, testLeaseRunningOut)
}

func testLeaseRunningOut(t *testing.T, db *sqlstore.DB) {
	srv := smtptest.Start(t)
	clk := newClock()
	cfg := testConfig(srv)
	c := newComposer(t, clk.Now)
	for range 3 {
		enqueue(t, db, c, "en")
	}
	// After the first send, less than two timeouts of lease are left: one for the send and one
	// of margin to record it before another node may claim the message.
	hook := sendHook{Sender: newSender(t, cfg), before: func(store.Message) { clk.Advance(cfg.Lease - 2*cfg.Timeout + time.Second) }}
	w := NewWorker(db, hook, cfg, "node-a", clk.Now, testLogger(t))
	runOnce(t, w, 3)
	if st := w.Stats(); st.Sent != 1 || st.Abandoned != 2 {
		t.Errorf("Stats() = %+v, want 1 sent and 2 given back", st)
	}
}

func TestJitter(t *testing.T) {
	t.Parallel()
	cfg := Config{BaseBackoff: time.Minute, MaxBackoff: time.Hour}
	w := NewWorker(nil, nil, cfg, "n", nil, nil, WithJitter(rand.New(rand.NewPCG(1, 2))))
	exact := NewWorker(nil, nil, cfg, "n", nil, nil)
	seen := map[time.Duration]bool{}
	for attempt := 1; attempt <= 8; attempt++ {
		d := Backoff(cfg.BaseBackoff, cfg.MaxBackoff, attempt)
		if got := exact.backoff(attempt); got != d {
			t.Errorf("no jitter: backoff(%d) = %v, want %v", attempt, got, d)
		}
		for range 20 {
			got := w.backoff(attempt)
			if got < d/2 || got > d {
				t.Fatalf("jittered backoff(%d) = %v, want within [%v, %v]", attempt, got, d/2, d)
			}
			seen[got] = true
		}
	}
	if len(seen) < 100 {
		t.Errorf("jitter produced only %d distinct delays", len(seen))
	}
}

// TestPermanentClassification checks which SMTP answers end a message.
func TestPermanentClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code      int
		text      string
		permanent bool
	}{
		{421, "Service not available", false},
		{450, "Mailbox busy", false},
		{452, "Insufficient storage", false},
		{550, "No such user", true},
		{552, "Message too big", true},
		{554, "Transaction failed", true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, db *sqlstore.DB) {
				srv := smtptest.Start(t)
				srv.FailNext(1, tt.code, tt.text)
				clk := newClock()
				w := newTestWorker(t, db, testConfig(srv), "node-a", clk.Now)
				m := enqueue(t, db, newComposer(t, clk.Now), "en")
				runOnce(t, w, 1)
				got := getMessage(t, db, m.ID)
				want := store.MessagePending
				if tt.permanent {
					want = store.MessageFailed
				}
				if got.State != want || !strings.Contains(got.LastError, tt.text) {
					t.Errorf("answer %d: state %s, last error %q; want %s with the answer", tt.code, got.State, got.LastError, want)
				}
			})
		})
	}
}
