package phaseout_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/phaseout"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// kind is a key kind with a name and a level; the Service asks no more of one.
type kind struct {
	name  string
	level keys.Level
}

func (k kind) Name() string      { return k.name }
func (k kind) Level() keys.Level { return k.level }
func (k kind) AMR() []string     { return []string{"pwd"} }

var t0 = time.Date(2023, 7, 1, 10, 0, 0, 0, time.UTC)

func registry(t *testing.T, names ...string) *keys.Registry {
	t.Helper()
	ks := []keys.Kind{kind{keys.Password, keys.LevelLow}}
	for _, n := range names {
		ks = append(ks, kind{n, keys.LevelSubstantial})
	}
	reg, err := keys.NewRegistry(ks...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func newService(t *testing.T, db *sqlstore.DB, names ...string) *phaseout.Service {
	t.Helper()
	return phaseout.NewService(db, registry(t, names...), audit.New(func() time.Time { return t0 }, nil), func() time.Time { return t0 })
}

// citizen creates an account with active keys of the given kinds.
func citizen(t *testing.T, db *sqlstore.DB, name string, kinds ...string) store.Account {
	t.Helper()
	a := store.Account{Username: name, Name: name, Email: name + "@example.be", Language: "nl", CreatedAt: t0, UpdatedAt: t0}
	if err := db.CreateAccount(t.Context(), &a); err != nil {
		t.Fatal(err)
	}
	for i, k := range kinds {
		key := store.Key{AccountID: a.ID, Kind: k, Status: store.KeyActive, CreatedAt: t0, ActivatedAt: t0}
		if k == "tokencard" {
			key.Serial = name + string(rune('0'+i))
		}
		if err := db.CreateKey(t.Context(), &key); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

func operatorEvents(t *testing.T, db *sqlstore.DB) []store.AuditEvent {
	t.Helper()
	evs, err := db.ListAudit(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.AuditEvent
	for _, e := range evs {
		if e.Type == audit.OperatorAction {
			out = append(out, e)
		}
	}
	return out
}

func TestSetValidation(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		s := newService(t, db, "tokencard", "emailcode", "totp")
		d1, d2 := t0.Add(24*time.Hour), t0.Add(48*time.Hour)
		tests := []struct {
			name string
			p    phaseout.Policy
			want string
		}{
			{"unknown kind", phaseout.Policy{Kind: "carrier-pigeon", DisabledFrom: d1}, `unknown key kind "carrier-pigeon" (known: tokencard, emailcode, totp)`},
			{"the password kind", phaseout.Policy{Kind: "password", DisabledFrom: d1}, "password kind cannot be phased out"},
			{"reversed", phaseout.Policy{Kind: "tokencard", MigrationPromptFrom: d2, DisabledFrom: d1}, "is after disabled-from"},
			{"equal", phaseout.Policy{Kind: "tokencard", MigrationPromptFrom: d1, DisabledFrom: d1}, "is equal to disabled-from"},
		}
		for _, tc := range tests {
			_, err := s.Set(t.Context(), tc.p, true)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: Set = %v, want an error saying %q", tc.name, err, tc.want)
			}
		}
		if list, _ := s.List(t.Context()); len(list) != 0 {
			t.Errorf("refused policies were stored: %+v", list)
		}
		if evs := operatorEvents(t, db); len(evs) != 0 {
			t.Errorf("refused policies were audited: %+v", evs)
		}
	})
}

func TestSetLastSubstantialKind(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		s := newService(t, db, "tokencard", "totp")
		d1, d2 := t0.Add(24*time.Hour), t0.Add(48*time.Hour)
		if _, err := s.Set(t.Context(), phaseout.Policy{Kind: "totp", DisabledFrom: d1}, true); err != nil {
			t.Fatalf("disable totp while tokencard stays: %v", err)
		}
		_, err := s.Set(t.Context(), phaseout.Policy{Kind: "tokencard", DisabledFrom: d2}, true)
		if err == nil || !strings.Contains(err.Error(), "last enabled substantial kind") {
			t.Errorf("disabling tokencard after totp = %v, want the last-kind error", err)
		}
		// Disabled before totp is, tokencard leaves totp enabled for a day, and then nothing:
		// refused as well (every instant counts, not only tokencard's own).
		if _, err := s.Set(t.Context(), phaseout.Policy{Kind: "tokencard", DisabledFrom: t0}, true); err == nil || !strings.Contains(err.Error(), "last enabled substantial kind") {
			t.Errorf("disabling tokencard before totp = %v, want the last-kind error", err)
		}
		// Closing activation only never strands anybody.
		s2 := newService(t, db, "tokencard")
		if _, err := s2.Set(t.Context(), phaseout.Policy{Kind: "tokencard", ActivationClosedFrom: d1}, false); err != nil {
			t.Errorf("closing activation of the only substantial kind: %v", err)
		}
	})
}

func TestSetConfirmAndAudit(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		s := newService(t, db, "tokencard", "emailcode", "totp")
		citizen(t, db, "anna", "password", "tokencard")
		citizen(t, db, "bart", "password", "tokencard", "totp")
		citizen(t, db, "carla", "password", "emailcode")
		p := phaseout.Policy{Kind: "tokencard", ActivationClosedFrom: t0, MigrationPromptFrom: t0.Add(time.Hour),
			DisabledFrom: t0.Add(24 * time.Hour), UnusedMonths: 12}
		imp, err := s.Set(t.Context(), p, false)
		if !errors.Is(err, phaseout.ErrNeedsConfirm) || imp.Stranded != 1 {
			t.Fatalf("Set without --confirm = %+v, %v; want 1 stranded and ErrNeedsConfirm", imp, err)
		}
		if list, _ := s.List(t.Context()); len(list) != 0 {
			t.Fatalf("an unconfirmed policy was stored: %+v", list)
		}
		if imp, err = s.Set(t.Context(), p, true); err != nil || imp.Stranded != 1 {
			t.Fatalf("Set with --confirm = %+v, %v", imp, err)
		}
		list, err := s.List(t.Context())
		if err != nil || len(list) != 1 || list[0] != p {
			t.Fatalf("List = %+v, %v; want [%+v]", list, err, p)
		}
		// A replacement without a disabled_from needs no confirmation.
		p2 := phaseout.Policy{Kind: "tokencard", ActivationClosedFrom: t0}
		if _, err := s.Set(t.Context(), p2, false); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Clear(t.Context(), "tokencard"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Clear(t.Context(), "tokencard"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Clear of a kind without a policy = %v, want ErrNotFound", err)
		}
		evs := operatorEvents(t, db)
		if len(evs) != 3 {
			t.Fatalf("operator events = %+v, want set, set, clear", evs)
		}
		wantDetail := []map[string]string{
			{"kind": "tokencard", "disabled_from": "2023-07-02T10:00:00Z", "previous_kind": ""},
			{"kind": "tokencard", "previous_disabled_from": "2023-07-02T10:00:00Z", "previous_deactivate_unused_after_months": "12"},
			{"previous_kind": "tokencard", "previous_activation_closed_from": "2023-07-01T10:00:00Z"},
		}
		for i, e := range evs {
			if e.Actor != audit.ActorOperator || e.KeyKind != "tokencard" {
				t.Errorf("event %d = %+v, want the operator's about tokencard", i, e)
			}
			for k, v := range wantDetail[i] {
				if e.Detail[k] != v {
					t.Errorf("event %d (%s) Detail[%s] = %q, want %q", i, e.Reason, k, e.Detail[k], v)
				}
			}
		}
		if evs[0].Reason != "phaseout.set" || evs[2].Reason != "phaseout.clear" {
			t.Errorf("reasons = %s, %s, %s", evs[0].Reason, evs[1].Reason, evs[2].Reason)
		}
	})
}

func TestPoliciesView(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		wall := t0
		view := phaseout.NewPolicies(db, func() time.Time { return wall }, time.Minute, nil)
		if ph := view.Phase("tokencard", t0); ph != phaseout.Normal {
			t.Errorf("phase without a policy = %s", ph)
		}
		s := newService(t, db, "tokencard", "totp")
		if _, err := s.Set(t.Context(), phaseout.Policy{Kind: "tokencard", DisabledFrom: t0}, true); err != nil {
			t.Fatal(err)
		}
		if ph := view.Phase("tokencard", t0); ph != phaseout.Normal {
			t.Errorf("phase read within the refresh period = %s, want the cached normal", ph)
		}
		wall = wall.Add(time.Minute)
		if !view.Disabled("tokencard", t0) || view.ActivationOpen("tokencard", t0) {
			t.Errorf("after the refresh period: Disabled = %v, ActivationOpen = %v; want true, false",
				view.Disabled("tokencard", t0), view.ActivationOpen("tokencard", t0))
		}
		if _, err := s.Clear(t.Context(), "tokencard"); err != nil {
			t.Fatal(err)
		}
		view.Invalidate()
		if _, ok := view.Get("tokencard"); ok {
			t.Error("an invalidated view still has the cleared policy")
		}
	})
}
