package sqlstore_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// campaignWorld is a handful of citizens with keys, for the campaign queries.
type campaignWorld struct {
	now time.Time
	ids map[string]int64
}

// newCampaignWorld stores citizens:
//
//	never    a token card never used                           (at risk)
//	recent   a token card used 3 days ago                       (at risk)
//	old      a token card used 200 days ago and an app key      (not at risk)
//	ancient  a token card used 400 days ago, a deactivated app  (at risk)
//	two      two token cards, used 10 and 40 days ago           (at risk once, last use 10 days)
//	gone     a deactivated token card and an e-mail key         (not in the campaign)
func newCampaignWorld(t *testing.T, db *sqlstore.DB) campaignWorld {
	t.Helper()
	ctx := t.Context()
	w := campaignWorld{now: time.Date(2024, 1, 10, 12, 0, 0, 0, time.UTC), ids: map[string]int64{}}
	day := 24 * time.Hour
	type key struct {
		kind   string
		status store.KeyStatus
		used   time.Duration // before now; 0: never
	}
	citizens := []struct {
		name string
		keys []key
	}{
		{"never", []key{{"tokencard", store.KeyActive, 0}}},
		{"recent", []key{{"tokencard", store.KeyActive, 3 * day}}},
		{"old", []key{{"tokencard", store.KeyActive, 200 * day}, {"totp", store.KeyActive, day}}},
		{"ancient", []key{{"tokencard", store.KeyActive, 400 * day}, {"totp", store.KeyDeactivated, day}}},
		{"two", []key{{"tokencard", store.KeyActive, 10 * day}, {"tokencard", store.KeyActive, 40 * day}}},
		{"gone", []key{{"tokencard", store.KeyDeactivated, day}, {"emailcode", store.KeyActive, day}}},
	}
	for i, c := range citizens {
		a := store.Account{Username: c.name, Name: "Citizen " + c.name, Email: c.name + "@example.be", Language: "nl"}
		if err := db.CreateAccount(ctx, &a); err != nil {
			t.Fatal(err)
		}
		w.ids[c.name] = a.ID
		for j, k := range c.keys {
			sk := store.Key{AccountID: a.ID, Kind: k.kind, Status: store.KeyActive, CreatedAt: w.now.Add(-500 * day), ActivatedAt: w.now.Add(-500 * day)}
			if k.kind == "tokencard" {
				sk.Serial = fmt.Sprintf("S%d-%d", i, j)
			}
			if err := db.CreateKey(ctx, &sk); err != nil {
				t.Fatal(err)
			}
			if k.used != 0 {
				if err := db.TouchKey(ctx, sk.ID, w.now.Add(-k.used)); err != nil {
					t.Fatal(err)
				}
			}
			if k.status != store.KeyActive {
				if err := db.SetKeyStatus(ctx, sk.ID, k.status, "citizen", w.now.Add(-day)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return w
}

var tokenCampaign = store.CampaignKeys{Kind: "tokencard", Others: []string{"emailcode", "totp"}}

func TestCampaignKeyCounts(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := t.Context()
		w := newCampaignWorld(t, db)
		month := 30 * 24 * time.Hour
		bounds := []time.Time{w.now.Add(-month), w.now.Add(-6 * month), w.now.Add(-12 * month)}
		got, err := db.CountByLastUse(ctx, "tokencard", bounds)
		if err != nil {
			t.Fatal(err)
		}
		// never; <1 month: recent, two; 1–6: none; 6–12: old; >12: ancient
		if want := []int64{1, 2, 0, 1, 1}; !cmp.Equal(got, want) {
			t.Errorf("CountByLastUse = %v, want %v", got, want)
		}
		if _, err := db.CountByLastUse(ctx, "tokencard", []time.Time{bounds[1], bounds[0]}); err == nil {
			t.Error("CountByLastUse accepted ascending bounds")
		}
		n, err := db.CountAtRisk(ctx, tokenCampaign)
		if err != nil || n != 4 {
			t.Errorf("CountAtRisk = %d, %v; want 4", n, err)
		}
		// Without other kinds every holder of an active card is at risk.
		if n, err := db.CountAtRisk(ctx, store.CampaignKeys{Kind: "tokencard"}); err != nil || n != 5 {
			t.Errorf("CountAtRisk without others = %d, %v; want 5", n, err)
		}
		var names []string
		var after int64
		for {
			page, err := db.ListAtRisk(ctx, tokenCampaign, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, r := range page {
				names = append(names, r.Username)
				if r.Username == "two" && !r.LastUsedAt.Equal(w.now.Add(-10*24*time.Hour)) {
					t.Errorf("two's last use %v, want the newer card's", r.LastUsedAt)
				}
				if r.Username == "never" && !r.LastUsedAt.IsZero() {
					t.Errorf("never's last use %v, want zero", r.LastUsedAt)
				}
				if r.Email != r.Username+"@example.be" || r.Language != "nl" || r.AccountID != w.ids[r.Username] {
					t.Errorf("at risk %+v", r)
				}
			}
			after = page[len(page)-1].AccountID
		}
		if want := []string{"never", "recent", "ancient", "two"}; !cmp.Equal(names, want) {
			t.Errorf("ListAtRisk pages = %v, want %v", names, want)
		}
	})
}

func TestCampaignEventCounts(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := t.Context()
		w := newCampaignWorld(t, db)
		hour := w.now.Truncate(time.Hour)
		ev := func(typ string, acct string, kind string, at time.Time, detail map[string]string) store.AuditEvent {
			return store.AuditEvent{Type: typ, AccountID: w.ids[acct], KeyKind: kind, Time: at, Detail: detail}
		}
		events := []store.AuditEvent{
			ev("phaseout.prompt_shown", "never", "tokencard", hour, nil),
			ev("phaseout.prompt_shown", "never", "tokencard", hour, nil),
			ev("phaseout.prompt_shown", "recent", "", hour, map[string]string{"kind": "tokencard"}), // kind in Detail
			ev("phaseout.prompt_shown", "recent", "totp", hour, nil),                                // another kind
			ev("phaseout.choice", "never", "tokencard", hour, map[string]string{"choice": "close"}),
			ev("phaseout.choice", "never", "tokencard", hour, map[string]string{"choice": "activate"}),
			ev("phaseout.choice", "recent", "tokencard", hour, map[string]string{"choice": "activate"}),
			ev("key.deactivated", "never", "tokencard", hour.Add(10*time.Minute), map[string]string{"cause": "migration", "replaced_by": "totp"}),
			ev("key.deactivated", "recent", "tokencard", hour.Add(20*time.Minute), map[string]string{"cause": "migration", "replaced_by": "totp"}),
			ev("key.deactivated", "old", "tokencard", hour.Add(90*time.Minute), map[string]string{"cause": "migration", "replaced_by": "emailcode"}),
			ev("key.deactivated", "two", "tokencard", hour, map[string]string{"cause": "citizen"}),
			ev("key.activated", "two", "tokencard", hour, nil),
		}
		if err := db.AppendAudits(ctx, events); err != nil {
			t.Fatal(err)
		}
		got, err := db.CountEvents(ctx, "tokencard", []string{"phaseout.prompt_shown", "phaseout.choice"}, "choice")
		if err != nil {
			t.Fatal(err)
		}
		want := []store.EventCount{
			{Type: "phaseout.choice", Value: "activate", Events: 2, Citizens: 2},
			{Type: "phaseout.choice", Value: "close", Events: 1, Citizens: 1},
			{Type: "phaseout.prompt_shown", Value: "", Events: 3, Citizens: 2},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("CountEvents (-want +got):\n%s", diff)
		}
		hours, err := db.CountMigrationsByHour(ctx, "tokencard")
		if err != nil {
			t.Fatal(err)
		}
		h := hour.Unix() / 3600
		wantHours := []store.HourCount{{Hour: h, Value: "totp", Events: 2}, {Hour: h + 1, Value: "emailcode", Events: 1}}
		if diff := cmp.Diff(wantHours, hours); diff != "" {
			t.Errorf("CountMigrationsByHour (-want +got):\n%s", diff)
		}
	})
}

func TestRoles(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := t.Context()
		w := newCampaignWorld(t, db)
		at := w.now
		g := store.RoleGrant{AccountID: w.ids["old"], Role: store.RoleOperator, GrantedAt: at, GrantedBy: "admin"}
		for i, want := range []bool{true, false} {
			if ok, err := db.GrantRole(ctx, g); err != nil || ok != want {
				t.Fatalf("grant %d = %v, %v; want %v", i, ok, err, want)
			}
		}
		if _, err := db.GrantRole(ctx, store.RoleGrant{AccountID: 99999, Role: store.RoleOperator}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("grant to a missing account: %v, want ErrNotFound", err)
		}
		for _, c := range []struct {
			acct string
			role string
			want bool
		}{{"old", store.RoleOperator, true}, {"old", "helpdesk", false}, {"never", store.RoleOperator, false}} {
			if has, err := db.HasRole(ctx, w.ids[c.acct], c.role); err != nil || has != c.want {
				t.Errorf("HasRole(%s, %s) = %v, %v; want %v", c.acct, c.role, has, err, c.want)
			}
		}
		list, err := db.ListRoles(ctx, store.RoleOperator)
		want := []store.RoleGrant{{AccountID: w.ids["old"], Username: "old", Role: store.RoleOperator, GrantedAt: at, GrantedBy: "admin"}}
		if err != nil || !cmp.Equal(list, want) {
			t.Errorf("ListRoles = %+v, %v; want %+v", list, err, want)
		}
		// A deleted citizen's roles go with the account.
		if _, err := db.GrantRole(ctx, store.RoleGrant{AccountID: w.ids["gone"], Role: store.RoleOperator}); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteAccount(ctx, w.ids["gone"], -1); err != nil {
			t.Fatal(err)
		}
		for i, want := range []bool{true, false} {
			if ok, err := db.RevokeRole(ctx, w.ids["old"], store.RoleOperator); err != nil || ok != want {
				t.Fatalf("revoke %d = %v, %v; want %v", i, ok, err, want)
			}
		}
		if has, err := db.HasRole(ctx, w.ids["old"], store.RoleOperator); err != nil || has {
			t.Errorf("HasRole after revoke = %v, %v", has, err)
		}
	})
}

func TestReminderRounds(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := t.Context()
		w := newCampaignWorld(t, db)
		if _, err := db.LatestReminderRound(ctx, "tokencard"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("latest round before any: %v, want ErrNotFound", err)
		}
		r := store.ReminderRound{Kind: "tokencard", Number: 1, StartedAt: w.now, StartedBy: "admin", DisabledFrom: w.now.Add(time.Hour)}
		if err := db.CreateReminderRound(ctx, &r); err != nil {
			t.Fatal(err)
		}
		dup := r
		if err := db.CreateReminderRound(ctx, &dup); !errors.Is(err, store.ErrConflict) {
			t.Errorf("second round 1: %v, want ErrConflict", err)
		}
		for i, want := range []bool{true, false} {
			if ok, err := db.RecordReminder(ctx, r.ID, w.ids["recent"], w.now); err != nil || ok != want {
				t.Fatalf("record %d = %v, %v; want %v", i, ok, err, want)
			}
		}
		left, err := db.UnremindedAtRisk(ctx, r.ID, tokenCampaign, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, a := range left {
			names = append(names, a.Username)
		}
		if want := []string{"never", "ancient", "two"}; !cmp.Equal(names, want) {
			t.Errorf("UnremindedAtRisk = %v, want %v", names, want)
		}
		latest, err := db.LatestReminderRound(ctx, "tokencard")
		r.Reminded = 1
		if err != nil || !cmp.Equal(latest, r) {
			t.Errorf("LatestReminderRound = %+v, %v; want %+v", latest, err, r)
		}
		for i, want := range []bool{true, false} {
			if ok, err := db.FinishReminderRound(ctx, r.ID, w.now.Add(time.Minute)); err != nil || ok != want {
				t.Fatalf("finish %d = %v, %v; want %v", i, ok, err, want)
			}
		}
		if latest, err := db.LatestReminderRound(ctx, "tokencard"); err != nil || !latest.FinishedAt.Equal(w.now.Add(time.Minute)) {
			t.Errorf("finished round %+v, %v", latest, err)
		}
		// Deleting a reminded citizen removes their reminder rows.
		if err := db.DeleteAccount(ctx, w.ids["recent"], -2); err != nil {
			t.Fatal(err)
		}
	})
}
