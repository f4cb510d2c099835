package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

var auditTests = []test{
	{"AppendAndList", testAuditAppendAndList},
	{"Paging", testAuditPaging},
	{"RecentOfAccount", testRecentAccountAudit},
}

func testRecentAccountAudit(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	var mine []store.AuditEvent
	for i, typ := range []string{"logon.success", "key.activated", "logon.failure", "logon_x.other", "logon.throttled", "email.changed"} {
		e := store.AuditEvent{Time: at(time.Duration(i) * time.Second), Type: typ, AccountID: 7, Actor: "citizen", Detail: map[string]string{}}
		must(t, s.AppendAudit(ctx, &e))
		mine = append(mine, e)
		other := store.AuditEvent{Time: e.Time, Type: typ, AccountID: 8, Actor: "citizen"}
		must(t, s.AppendAudit(ctx, &other))
	}
	ids := func(es []store.AuditEvent) []int64 {
		var out []int64
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	for _, c := range []struct {
		prefix string
		limit  int
		want   []int64
	}{
		{"", 0, []int64{mine[5].ID, mine[4].ID, mine[3].ID, mine[2].ID, mine[1].ID, mine[0].ID}},
		{"", 2, []int64{mine[5].ID, mine[4].ID}},
		{"logon.", 0, []int64{mine[4].ID, mine[2].ID, mine[0].ID}},
		{"logon.", 2, []int64{mine[4].ID, mine[2].ID}},
		{"logon_", 0, []int64{mine[3].ID}}, // "_" is no wildcard
		{"nothing.", 0, nil},
	} {
		got, err := s.RecentAccountAudit(ctx, 7, c.prefix, c.limit)
		must(t, err)
		if d := diff(c.want, ids(got)); d != "" {
			t.Errorf("RecentAccountAudit(%q, %d) (-want +got):\n%s", c.prefix, c.limit, d)
		}
	}
	got, err := s.RecentAccountAudit(ctx, 7, "", 1)
	must(t, err)
	if d := diff(mine[5:], got); d != "" {
		t.Errorf("the newest event (-want +got):\n%s", d)
	}
}

func testAuditAppendAndList(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	events := []store.AuditEvent{
		{Time: t0, Type: "logon.success", AccountID: 7, KeyKind: "totp", KeyID: 3, IP: "192.0.2.1", Actor: "citizen",
			Detail: map[string]string{"loa": "substantial", "client": "belastingen"}},
		{Time: at(time.Second), Type: "logon.failure", Reason: "unknown_user", IP: "2001:db8::1", Actor: "citizen"},
		{Time: at(2 * time.Second), Type: "key.deactivated", AccountID: 7, KeyKind: "tokencard", KeyID: 2,
			Reason: "migration", Actor: "system", Detail: map[string]string{}},
	}
	var lastID int64
	for i := range events {
		must(t, s.AppendAudit(ctx, &events[i]))
		if events[i].ID <= lastID {
			t.Fatalf("event %d got ID %d after %d: IDs must increase", i, events[i].ID, lastID)
		}
		lastID = events[i].ID
	}
	got, err := s.ListAudit(ctx, 0, 0)
	must(t, err)
	if d := diff(events, got); d != "" {
		t.Errorf("ListAudit (-want +got):\n%s", d)
	}

	noTime := store.AuditEvent{Type: "mail.sent", Actor: "system"}
	must(t, s.AppendAudit(ctx, &noTime))
	if noTime.Time.IsZero() {
		t.Error("AppendAudit left a zero Time")
	}
}

func testAuditPaging(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	var all []int64
	for i := range 7 {
		e := store.AuditEvent{Time: at(time.Duration(i) * time.Second), Type: fmt.Sprintf("test.%d", i), Actor: "system"}
		must(t, s.AppendAudit(ctx, &e))
		all = append(all, e.ID)
	}
	// Page through as `admin audit export` does, three at a time.
	var paged []int64
	after := int64(0)
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("ListAudit paging does not end")
		}
		page, err := s.ListAudit(ctx, after, 3)
		must(t, err)
		if len(page) > 3 {
			t.Fatalf("ListAudit(%d, 3) returned %d events", after, len(page))
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			paged = append(paged, e.ID)
		}
		after = page[len(page)-1].ID
	}
	if d := diff(all, paged); d != "" {
		t.Errorf("paged IDs (-want +got):\n%s", d)
	}
	got, err := s.ListAudit(ctx, all[2], 2)
	must(t, err)
	if len(got) != 2 || got[0].ID != all[3] || got[0].Type != "test.3" || got[1].ID != all[4] {
		t.Errorf("ListAudit(after 3rd, 2) = %+v, want events 4 and 5", got)
	}
}
