package recovery_test

import (
	"context"
	"crypto/rand"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/recovery"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// countingMailer counts the e-mails rendered (into any outbox: the real one, or nothing).
type countingMailer struct {
	recovery.Mailer
	renders atomic.Int64
}

func (c *countingMailer) Enqueue(ctx context.Context, ob mail.Outbox, to mail.Recipient, template string, data map[string]any) error {
	c.renders.Add(1)
	return c.Mailer.Enqueue(ctx, ob, to, template, data)
}

// countingHasher counts password hashes (none of the request forms may hash).
type countingHasher struct {
	recovery.Passwords
	hashes atomic.Int64
}

func (c *countingHasher) Hash(ctx context.Context, plain string) (string, error) {
	c.hashes.Add(1)
	return c.Passwords.Hash(ctx, plain)
}

type fixture struct {
	svc    *recovery.Service
	mailer *countingMailer
	hasher *countingHasher
	db     store.Store
	w      *logintest.World
}

func newFixture(t *testing.T, db *sqlstore.DB) *fixture {
	t.Helper()
	w := logintest.New(t, db, logintest.Options{})
	quota := func() *attempts.Quota {
		q, err := attempts.NewQuota(db, 1000, recovery.Window, w.Clock.Now)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	f := &fixture{mailer: &countingMailer{Mailer: w.Mail}, hasher: &countingHasher{Passwords: w.Passwords}, db: db, w: w}
	svc, err := recovery.New(recovery.DefaultConfig(), recovery.Deps{Store: db, Passwords: f.hasher, Hasher: w.Hasher,
		Mailer: f.mailer, Audit: w.Audit, Factors: w.Service, Kinds: w.Kinds, AddressQuota: quota(), IdentifierQuota: quota(),
		Now: w.Clock.Now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return f
}

// work is what one request did: e-mails rendered, outbox rows, audit events, password hashes.
type work struct{ renders, messages, events, hashes int64 }

func (f *fixture) measure(t *testing.T, fn func() error) work {
	t.Helper()
	ctx := context.Background()
	count := func() (int64, int64) {
		ms, err := f.db.ListMessages(ctx, 100000)
		if err != nil {
			t.Fatal(err)
		}
		es, err := f.db.ListAudit(ctx, 0, 100000)
		if err != nil {
			t.Fatal(err)
		}
		return int64(len(ms)), int64(len(es))
	}
	m0, e0 := count()
	r0, h0 := f.mailer.renders.Load(), f.hasher.hashes.Load()
	if err := fn(); err != nil {
		t.Fatal(err)
	}
	m1, e1 := count()
	return work{renders: f.mailer.renders.Load() - r0, messages: m1 - m0, events: e1 - e0, hashes: f.hasher.hashes.Load() - h0}
}

// TestUnknownCostsWhatKnownCosts: a known and an unknown address or username get the same
// answer (nil) after the same work — one e-mail rendered, one audit event, no password hash —
// and differ only in what reaches the outbox.
func TestUnknownCostsWhatKnownCosts(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		c := recovery.Client{IP: "192.0.2.9"}
		cases := []struct {
			what         string
			fn           func() error
			wantMessages int64
		}{
			{"username of a known address", func() error { return f.svc.ForgotUsername(ctx, f.w.Citizen.Email, c) }, 1},
			{"username of an unknown address", func() error { return f.svc.ForgotUsername(ctx, "nobody@example.org", c) }, 0},
			{"reset of a known username", func() error { return f.svc.ForgotPassword(ctx, f.w.Citizen.Username, c) }, 1},
			{"reset of an unknown username", func() error { return f.svc.ForgotPassword(ctx, "nobody", c) }, 0},
			{"reset of a known address", func() error { return f.svc.ForgotPassword(ctx, f.w.Citizen.Email, c) }, 1},
			{"reset of an unknown address", func() error { return f.svc.ForgotPassword(ctx, "nobody@example.org", c) }, 0},
		}
		for _, tc := range cases {
			got := f.measure(t, tc.fn)
			want := work{renders: 1, messages: tc.wantMessages, events: 1, hashes: 0}
			if got != want {
				t.Errorf("%s: %+v, want %+v", tc.what, got, want)
			}
			f.w.Clock.Advance(time.Minute)
		}
	})
}

// TestResetLinksPerHour: an account gets PerIdentifier links an hour however it is named; the
// answer stays the same beyond that, and nothing more is sent.
func TestResetLinksPerHour(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		c := recovery.Client{IP: "192.0.2.9"}
		for i, id := range []string{f.w.Citizen.Username, f.w.Citizen.Email, f.w.Citizen.Username, f.w.Citizen.Email} {
			got := f.measure(t, func() error { return f.svc.ForgotPassword(ctx, id, c) })
			want := int64(1)
			if i >= recovery.DefaultConfig().PerIdentifier {
				want = 0
			}
			if got.messages != want || got.renders != 1 {
				t.Errorf("request %d (%s): %+v, want %d e-mails and the same work", i+1, id, got, want)
			}
		}
		f.w.Clock.Advance(recovery.Window + time.Second)
		if got := f.measure(t, func() error { return f.svc.ForgotPassword(ctx, f.w.Citizen.Username, c) }); got.messages != 1 {
			t.Errorf("an hour later: %+v, want a link again", got)
		}
	})
}
