package phaseout_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/clock"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/phaseout"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// The last-kind rule holds whatever order the policies are set in: a kind disabled before
// the others are must still leave one enabled once they are.
func TestSetLastKindAnyOrder(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		s := newService(t, db, "tokencard", "emailcode", "totp")
		june, jan := time.Date(2026, 5, 31, 22, 0, 0, 0, time.UTC), time.Date(2025, 12, 31, 23, 0, 0, 0, time.UTC)
		for _, k := range []string{"emailcode", "totp"} {
			if _, err := s.Set(t.Context(), phaseout.Policy{Kind: k, DisabledFrom: june}, true); err != nil {
				t.Fatalf("disable %s: %v", k, err)
			}
		}
		_, err := s.Set(t.Context(), phaseout.Policy{Kind: "tokencard", DisabledFrom: jan}, true)
		if err == nil || !strings.Contains(err.Error(), "last enabled substantial kind") || !strings.Contains(err.Error(), "2026-06-01T00:00:00+02:00") {
			t.Errorf("disabling tokencard before the others = %v, want the last-kind error naming 1 June 2026", err)
		}
		if _, err := db.GetPhaseoutPolicy(t.Context(), "tokencard"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the refused policy was stored: %v", err)
		}
		// Prompting without switching off stays possible.
		if _, err := s.Set(t.Context(), phaseout.Policy{Kind: "tokencard", MigrationPromptFrom: jan}, true); err != nil {
			t.Errorf("a prompt for tokencard: %v", err)
		}
	})
}

// Two operators disabling the last two substantial kinds at once: one of them is refused.
func TestSetLastKindConcurrent(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		s := newService(t, db, "tokencard", "totp")
		for round := range 8 {
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, k := range []string{"tokencard", "totp"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = s.Set(t.Context(), phaseout.Policy{Kind: k, DisabledFrom: t0.Add(time.Duration(i+1) * time.Hour)}, true)
				}()
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case !strings.Contains(err.Error(), "last enabled substantial kind"):
					t.Fatalf("round %d: %v", round, err)
				}
			}
			if ok != 1 {
				t.Fatalf("round %d: %d of two concurrent switch-offs accepted (%v), want exactly one", round, ok, errs)
			}
			for _, k := range []string{"tokencard", "totp"} {
				if _, err := s.Clear(t.Context(), k); err != nil && !errors.Is(err, store.ErrNotFound) {
					t.Fatal(err)
				}
			}
		}
	})
}

// A switch-off moved later, or cleared, after the expiry job ran gives the keys back.
func TestSetLaterRestoresExpiredKeys(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		clk := clock.NewFake(time.Date(2024, 2, 1, 3, 0, 0, 0, time.UTC))
		s := phaseout.NewService(db, registry(t, keys.TokenCard, keys.TOTP), audit.New(clk.Now, nil), clk.Now)
		only := keyUsed(t, db, "only", keys.TokenCard, t0, time.Time{})
		both := keyUsed(t, db, "both", keys.TokenCard, t0, t0.Add(time.Hour))
		app := store.Key{AccountID: both.AccountID, Kind: keys.TOTP, Status: store.KeyActive, CreatedAt: t0, ActivatedAt: t0}
		if err := db.CreateKey(t.Context(), &app); err != nil {
			t.Fatal(err)
		}
		gone := keyUsed(t, db, "gone", keys.TokenCard, t0, time.Time{})
		if err := db.SetKeyStatus(t.Context(), gone.ID, store.KeyDeactivated, keys.CauseCitizen, t0); err != nil {
			t.Fatal(err)
		}
		past := phaseout.Policy{Kind: keys.TokenCard, DisabledFrom: clk.Now().Add(-time.Hour)}
		if _, err := s.Set(t.Context(), past, true); err != nil {
			t.Fatal(err)
		}
		if rep, err := newJobs(t, db, clk, "node-a").Run(t.Context()); err != nil || rep.Expired != 2 {
			t.Fatalf("expiry run = %+v, %v", rep, err)
		}

		later := phaseout.Policy{Kind: keys.TokenCard, DisabledFrom: clk.Now().Add(30 * 24 * time.Hour)}
		imp, err := s.Set(t.Context(), later, false)
		if !errors.Is(err, phaseout.ErrNeedsConfirm) || imp.Stranded != 1 || imp.Restored != 2 {
			t.Fatalf("moving the switch-off later, unconfirmed = %+v, %v; want 2 keys given back, 1 citizen stranded, ErrNeedsConfirm", imp, err)
		}
		if k := keyStatus(t, db, only.ID); k.Status != store.KeyExpired {
			t.Fatalf("an unconfirmed change gave a key back: %s", k.Status)
		}
		if imp, err = s.Set(t.Context(), later, true); err != nil || imp.Restored != 2 || imp.Stranded != 1 {
			t.Fatalf("moving the switch-off later = %+v, %v", imp, err)
		}
		for _, k := range []store.Key{only, both} {
			got := keyStatus(t, db, k.ID)
			if got.Status != store.KeyActive || got.DeactivationCause != "" || !got.ActivatedAt.Equal(k.ActivatedAt) || !got.LastUsedAt.Equal(k.LastUsedAt) {
				t.Errorf("key %s after the change: %+v, want active with its activation and last use kept", k.Serial, got)
			}
		}
		if got := keyStatus(t, db, gone.ID); got.Status != store.KeyDeactivated {
			t.Errorf("a key its citizen deactivated came back: %s", got.Status)
		}
		if n := countEvents(t, db, audit.KeyReactivated, phaseout.CausePolicyChange); n != 2 {
			t.Errorf("%d key.reactivated events, want 2", n)
		}

		// Expired again when the new instant comes; clearing the policy gives them back too.
		clk.Advance(31 * 24 * time.Hour)
		if rep, err := newJobs(t, db, clk, "node-a").Run(t.Context()); err != nil || rep.Expired != 2 {
			t.Fatalf("second expiry run = %+v, %v", rep, err)
		}
		n, err := s.Clear(t.Context(), keys.TokenCard)
		if err != nil || n != 2 {
			t.Fatalf("Clear = %d, %v; want 2 keys given back", n, err)
		}
		if got := keyStatus(t, db, only.ID); got.Status != store.KeyActive {
			t.Errorf("after Clear: %s", got.Status)
		}
		if n := countEvents(t, db, audit.KeyReactivated, phaseout.CausePolicyChange); n != 4 {
			t.Errorf("%d key.reactivated events, want 4", n)
		}
	})
}

func countEvents(t *testing.T, db *sqlstore.DB, typ, reason string) int {
	t.Helper()
	evs, err := db.ListAudit(t.Context(), 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == typ && e.Reason == reason {
			n++
		}
	}
	return n
}
