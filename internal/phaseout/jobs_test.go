package phaseout_test

import (
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/clock"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/phaseout"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

func newJobs(t *testing.T, db *sqlstore.DB, clk *clock.Fake, owner string) *phaseout.Jobs {
	t.Helper()
	b, err := i18n.Load("en")
	if err != nil {
		t.Fatal(err)
	}
	c, err := mail.NewComposer(b, mail.ComposerConfig{ServiceName: "Sleutelbos", BaseURL: "http://127.0.0.1", From: "noreply@example.org",
		Hold: true, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	j, err := phaseout.NewJobs(phaseout.JobsConfig{Owner: owner, Lease: time.Minute, Batch: 2, LogonURL: "http://127.0.0.1/keys"},
		db, c, audit.New(clk.Now, nil), clk.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// keyUsed creates an active key of kind for a new citizen, activated at activated and last
// used at used (zero: never).
func keyUsed(t *testing.T, db *sqlstore.DB, name, kind string, activated, used time.Time) store.Key {
	t.Helper()
	a := store.Account{Username: name, Name: name, Email: name + "@example.be", Language: "en", CreatedAt: activated, UpdatedAt: activated}
	if err := db.CreateAccount(t.Context(), &a); err != nil {
		t.Fatal(err)
	}
	k := store.Key{AccountID: a.ID, Kind: kind, Status: store.KeyActive, Serial: name, CreatedAt: activated, ActivatedAt: activated, LastUsedAt: used}
	if err := db.CreateKey(t.Context(), &k); err != nil {
		t.Fatal(err)
	}
	return k
}

func keyStatus(t *testing.T, db *sqlstore.DB, id int64) store.Key {
	t.Helper()
	k, err := db.GetKey(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mailsTo(t *testing.T, db *sqlstore.DB, template, to string) int {
	t.Helper()
	ms, err := db.ListMessages(t.Context(), 500)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range ms {
		if m.Template == template && m.ToAddress == to {
			n++
		}
	}
	return n
}

func TestJobsExpire(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		clk := clock.NewFake(time.Date(2024, 2, 1, 3, 0, 0, 0, time.UTC))
		if err := db.PutPhaseoutPolicy(t.Context(), phaseout.Policy{Kind: keys.TokenCard, DisabledFrom: time.Date(2024, 1, 30, 23, 0, 0, 0, time.UTC)}.ToStore(clk.Now())); err != nil {
			t.Fatal(err)
		}
		var cards []store.Key
		for _, n := range []string{"a", "b", "c"} {
			cards = append(cards, keyUsed(t, db, n, keys.TokenCard, t0, time.Time{}))
		}
		gone := keyUsed(t, db, "d", keys.TokenCard, t0, time.Time{})
		if err := db.SetKeyStatus(t.Context(), gone.ID, store.KeyDeactivated, keys.CauseCitizen, t0); err != nil {
			t.Fatal(err)
		}
		app := keyUsed(t, db, "e", keys.TOTP, t0, time.Time{})

		// Another node holds the lease: this one does nothing.
		if ok, err := db.AcquireJobLease(t.Context(), phaseout.JobName, "node-b", clk.Now(), clk.Now().Add(time.Minute)); err != nil || !ok {
			t.Fatal(ok, err)
		}
		j := newJobs(t, db, clk, "node-a")
		if rep, err := j.Run(t.Context()); err != nil || rep.Ran {
			t.Fatalf("Run while another node holds the lease = %+v, %v", rep, err)
		}
		clk.Advance(time.Minute)
		rep, err := j.Run(t.Context())
		if err != nil || !rep.Ran || rep.Expired != 3 {
			t.Fatalf("Run = %+v, %v; want 3 keys expired (batches of 2)", rep, err)
		}
		for _, k := range cards {
			if got := keyStatus(t, db, k.ID); got.Status != store.KeyExpired || got.DeactivationCause != keys.CausePhaseOut {
				t.Errorf("card %d: %s (%s), want expired (phase-out)", k.ID, got.Status, got.DeactivationCause)
			}
		}
		if got := keyStatus(t, db, gone.ID); got.Status != store.KeyDeactivated {
			t.Errorf("a deactivated card became %s", got.Status)
		}
		if got := keyStatus(t, db, app.ID); got.Status != store.KeyActive {
			t.Errorf("an app key became %s", got.Status)
		}
		evs, _ := db.ListAudit(t.Context(), 0, 100)
		expired := 0
		for _, e := range evs {
			if e.Type == audit.KeyExpired && e.Detail["kind"] == keys.TokenCard && e.Actor == audit.ActorSystem {
				expired++
			}
		}
		if expired != 3 {
			t.Errorf("%d key.expired events, want 3", expired)
		}
		// Idempotent: a second run finds nothing to do; the lease was released.
		if rep, err := j.Run(t.Context()); err != nil || !rep.Ran || rep.Expired != 0 {
			t.Errorf("second Run = %+v, %v", rep, err)
		}
	})
}

func TestJobsUnused(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		now := time.Date(2025, 6, 15, 2, 0, 0, 0, time.UTC)
		clk := clock.NewFake(now)
		if err := db.PutPhaseoutPolicy(t.Context(), phaseout.Policy{Kind: keys.TokenCard, UnusedMonths: 12}.ToStore(now)); err != nil {
			t.Fatal(err)
		}
		long := keyUsed(t, db, "long", keys.TokenCard, now.AddDate(-3, 0, 0), now.AddDate(-1, 0, -1))    // due yesterday
		never := keyUsed(t, db, "never", keys.TokenCard, now.AddDate(-1, 0, -2), time.Time{})            // never used, activated 12 months and 2 days ago
		soon := keyUsed(t, db, "soon", keys.TokenCard, now.AddDate(-2, 0, 0), now.AddDate(-1, 0, 10))    // due in 10 days
		later := keyUsed(t, db, "later", keys.TokenCard, now.AddDate(-2, 0, 0), now.AddDate(-1, 0, 20))  // due in 20 days
		recent := keyUsed(t, db, "recent", keys.TokenCard, now.AddDate(-2, 0, 0), now.AddDate(0, -6, 0)) // used half a year ago
		other := keyUsed(t, db, "other", keys.TOTP, now.AddDate(-3, 0, 0), now.AddDate(-2, 0, 0))        // another kind
		j := newJobs(t, db, clk, "node-a")
		first := clk.Now()
		// Nothing is deactivated without a warning at least 14 days before: the keys past
		// their deadline (long, never) and the one due within 14 days (soon) are warned now,
		// of a deadline 14 days away.
		rep, err := j.Run(t.Context())
		if err != nil || rep.Deactivated != 0 || rep.Warned != 3 {
			t.Fatalf("Run = %+v, %v; want 3 warned, none deactivated", rep, err)
		}
		for _, k := range []store.Key{long, never, soon} {
			got := keyStatus(t, db, k.ID)
			if got.Status != store.KeyActive || !got.UnusedWarnedFor.Equal(first.Add(phaseout.WarnBefore)) {
				t.Errorf("key %s: %s, warned for %v; want active, warned for %v", k.Serial, got.Status, got.UnusedWarnedFor, first.Add(phaseout.WarnBefore))
			}
			if mailsTo(t, db, mail.TemplateKeyUnusedWarning, k.Serial+"@example.be") != 1 {
				t.Errorf("key %s: no warning", k.Serial)
			}
		}
		for _, k := range []store.Key{later, recent, other} {
			if got := keyStatus(t, db, k.ID); got.Status != store.KeyActive {
				t.Errorf("key %s (%s): %s, want active", k.Serial, k.Kind, got.Status)
			}
		}
		if mailsTo(t, db, mail.TemplateKeyUnusedWarning, "later@example.be") != 0 {
			t.Error("later was warned 20 days ahead")
		}
		// The next day: no warning again; "later" is not due for one yet.
		clk.Advance(24 * time.Hour)
		if rep, err := j.Run(t.Context()); err != nil || rep.Warned != 0 || rep.Deactivated != 0 {
			t.Errorf("next day's Run = %+v, %v; want nothing", rep, err)
		}
		// Ten days after the first run "later" is within 14 days of its deadline; soon's
		// own deadline has passed, but its warning is 10 days old: it waits.
		clk.Advance(9 * 24 * time.Hour)
		rep, err = j.Run(t.Context())
		if err != nil || rep.Warned != 1 || rep.Deactivated != 0 {
			t.Errorf("Run 10 days later = %+v, %v; want later warned, nothing deactivated", rep, err)
		}
		// A second before the warned deadline: still nothing; at it, the three go.
		clk.Set(first.Add(phaseout.WarnBefore - time.Second))
		if rep, err := j.Run(t.Context()); err != nil || rep.Deactivated != 0 {
			t.Errorf("Run just before the warned deadline = %+v, %v", rep, err)
		}
		clk.Set(first.Add(phaseout.WarnBefore))
		if rep, err := j.Run(t.Context()); err != nil || rep.Deactivated != 3 || rep.Warned != 0 {
			t.Errorf("Run at the warned deadline = %+v, %v; want long, never, soon deactivated", rep, err)
		}
		for _, k := range []store.Key{long, never, soon} {
			got := keyStatus(t, db, k.ID)
			if got.Status != store.KeyDeactivated || got.DeactivationCause != keys.CauseUnused {
				t.Errorf("key %s: %s (%s), want deactivated (unused)", k.Serial, got.Status, got.DeactivationCause)
			}
			if mailsTo(t, db, mail.TemplateKeyDeactivated, k.Serial+"@example.be") != 1 {
				t.Errorf("key %s: no deactivation e-mail", k.Serial)
			}
		}
		if mailsTo(t, db, mail.TemplateKeyUnusedWarning, "soon@example.be") != 1 || mailsTo(t, db, mail.TemplateKeyUnusedWarning, "later@example.be") != 1 {
			t.Error("each warning is sent once")
		}
		// A key used after its warning gets a new deadline, and a new warning when that nears.
		if err := db.TouchKey(t.Context(), later.ID, clk.Now()); err != nil {
			t.Fatal(err)
		}
		clk.Set(clk.Now().AddDate(1, 0, -10))
		if rep, err := j.Run(t.Context()); err != nil || rep.Warned != 2 || rep.Deactivated != 0 {
			t.Errorf("Run near the new deadline = %+v, %v; want later warned again, recent (months past its deadline) warned first", rep, err)
		}
		if mailsTo(t, db, mail.TemplateKeyUnusedWarning, "later@example.be") != 2 {
			t.Error("no second warning for the new deadline")
		}
		clk.Advance(phaseout.WarnBefore)
		if rep, err := j.Run(t.Context()); err != nil || rep.Warned != 0 || rep.Deactivated != 2 {
			t.Errorf("Run 14 days after those warnings = %+v, %v; want later and recent deactivated", rep, err)
		}
	})
}
