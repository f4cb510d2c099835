package app

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/config"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// TestSweep: the serve sweeper removes codes dead for longer than codesRetention and attempt
// counters quiet for longer than attemptsRetention, and keeps the rest; it reports the refusals
// of throttles that ended (before such a counter goes) and drops the text of outbox messages
// whose code expired.
func TestSweep(t *testing.T) {
	sqltest.EachBackend(t, func(t *testing.T, b sqltest.Backend) {
		// The development mailbox shows what became of a held code.
		tn := newTestNode(t, b.Name, func(c *config.Config) { c.DevMailbox = true })
		ctx := context.Background()
		acct, err := tn.Store.GetAccountByUsername(ctx, "demo")
		if err != nil {
			t.Fatal(err)
		}
		newCode := func(created time.Time) store.Code {
			c := store.Code{AccountID: acct.ID, Purpose: store.CodeLogon, Hash: []byte("h"), Target: acct.Email,
				CreatedAt: created, ExpiresAt: created.Add(5 * time.Minute)}
			if err := tn.Store.CreateCode(ctx, &c); err != nil {
				t.Fatal(err)
			}
			return c
		}
		dead := newCode(tn.clock.Now())
		rcpt := mail.Recipient{AccountID: acct.ID, Name: acct.Name, Address: acct.Email, Language: "en"}
		if err := tn.Mail.Enqueue(ctx, tn.Store, rcpt, mail.TemplateLogonCode,
			map[string]any{"Code": "246802", "Minutes": 5, "ExpiresAt": tn.clock.Now().Add(5 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if err := tn.Mail.Enqueue(ctx, tn.Store, rcpt, mail.TemplateKeyActivated, map[string]any{"Kind": "totp", "Replaces": "", "Reactivated": false}); err != nil {
			t.Fatal(err)
		}
		quiet := "ip:logon:192.0.2.77"
		if _, _, err := tn.Store.ReserveAttempt(ctx, quiet, tn.clock.Now(), 0, func(int) time.Time { return time.Time{} }); err != nil {
			t.Fatal(err)
		}
		refusing := "ip:logon:192.0.2.78"
		if _, _, err := tn.Store.ReserveAttempt(ctx, refusing, tn.clock.Now(), 0, func(int) time.Time { return tn.clock.Now().Add(time.Minute) }); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, ok, err := tn.Store.ReserveAttempt(ctx, refusing, tn.clock.Now(), 0, nil); err != nil || ok {
				t.Fatalf("refusal: %v, %v", ok, err)
			}
		}
		tn.clock.Advance(codesRetention + 10*time.Minute)
		live := newCode(tn.clock.Now())

		_, sweeper, err := tn.webHandler()
		if err != nil {
			t.Fatal(err)
		}
		tn.sweep(ctx, sweeper)

		if _, err := tn.Store.AddCodeAttempt(ctx, dead.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a code dead for %s is still there (AddCodeAttempt = %v)", codesRetention, err)
		}
		if _, err := tn.Store.AddCodeAttempt(ctx, live.ID); err != nil {
			t.Errorf("a live code was swept: %v", err)
		}
		if a, err := tn.Store.GetAttempt(ctx, quiet); err != nil || a.Failures != 0 {
			t.Errorf("a counter quiet for %s: %+v, %v; want it gone", attemptsRetention, a, err)
		}
		msgs, err := tn.Store.ListMessages(ctx, 2)
		if err != nil || len(msgs) != 2 {
			t.Fatalf("messages %+v, %v", msgs, err)
		}
		for _, m := range msgs {
			code := m.Template == mail.TemplateLogonCode
			if kept := m.TextBody != "" && m.HTMLBody != ""; kept == code || m.State != store.MessageHeld {
				t.Errorf("%s message after the sweep: %s, text kept %v; want held, text kept only without a code", m.Template, m.State, kept)
			}
			if code {
				p, err := tn.citizen().Get("/dev/mailbox/" + strconv.FormatInt(m.ID, 10))
				if err != nil || p.Status != 200 {
					t.Fatalf("dev mailbox: %d, %v", p.Status, err)
				}
				tn.wantMessage(t, p, "mailbox.code_expired")
				if strings.Contains(p.Body, "246802") {
					t.Error("the dev mailbox still shows the expired code")
				}
			}
		}
		evs, err := tn.Store.ListAudit(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		reported := 0
		for _, e := range evs {
			if e.Type == audit.LogonThrottled && e.Reason == audit.ReasonThrottleEnded && e.Detail["scope"] == refusing {
				reported++
				if e.Detail["refused"] != "3" {
					t.Errorf("swept throttle reported %s refusals, want 3", e.Detail["refused"])
				}
			}
		}
		if reported != 1 {
			t.Errorf("%d reports of the ended throttle, want 1", reported)
		}
		if a, err := tn.Store.GetAttempt(ctx, refusing); err != nil || a.Failures != 0 || a.Refused != 0 {
			t.Errorf("the reported, quiet counter: %+v, %v; want it gone", a, err)
		}
	})
}
