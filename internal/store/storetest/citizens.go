package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

var citizenTests = []test{
	{"InsertAccounts", testInsertAccounts},
	{"InsertAccountsMany", testInsertAccountsMany},
	{"TakenUsernamesAndSerials", testTakenUsernamesAndSerials},
	{"InsertKeys", testInsertKeys},
	{"AppendAudits", testAppendAudits},
	{"ListAccountRows", testListAccountRows},
	{"DeleteAccount", testDeleteAccount},
	{"DeleteAccountRollsBack", testDeleteAccountRollsBack},
}

// testInsertAccounts: new usernames are inserted with IDs and their hashes' parameters (as
// CreateAccount does); taken ones — stored, or earlier in the same call, in any case — are
// skipped with ID 0.
func testInsertAccounts(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	old := newAccount(t, s, "Anna")
	accts := []store.Account{
		{Username: "bert", Name: "Bert", Email: "bert@example.be", Language: "fr", PasswordHash: "$2b$10$" + bcryptTail, CreatedAt: t0},
		{Username: "ANNA", Name: "Not Anna"},
		{Username: "carla", PasswordHash: ""},
		{Username: "Bert", Name: "Second Bert"},
	}
	must(t, s.InsertAccounts(ctx, accts))
	if accts[0].ID == 0 || accts[2].ID == 0 || accts[0].ID == accts[2].ID {
		t.Fatalf("new accounts got IDs %d and %d", accts[0].ID, accts[2].ID)
	}
	if accts[1].ID != 0 || accts[3].ID != 0 {
		t.Errorf("taken usernames got IDs %d and %d, want 0 (skipped)", accts[1].ID, accts[3].ID)
	}
	got, err := s.GetAccountByUsername(ctx, "BERT")
	must(t, err)
	if d := diff(accts[0], got); d != "" {
		t.Errorf("inserted account (-want +got):\n%s", d)
	}
	if got, err := s.GetAccount(ctx, accts[2].ID); err != nil || got.CreatedAt.IsZero() || !got.CreatedAt.Equal(accts[2].CreatedAt) {
		t.Errorf("an account without times got %v (filled %v), %v; want now", got.CreatedAt, accts[2].CreatedAt, err)
	}
	if got, err := s.GetAccount(ctx, old.ID); err != nil || got.Name != old.Name {
		t.Errorf("the stored account became %+v, %v", got, err)
	}
	params, err := s.PasswordHashParams(ctx)
	must(t, err)
	if d := diff([]string{"$2b$10", "$argon2id$v=19$m=65536,t=3,p=2"}, params); d != "" {
		t.Errorf("PasswordHashParams after InsertAccounts (-want +got):\n%s", d)
	}
	must(t, s.InsertAccounts(ctx, nil))
}

// testInsertAccountsMany: more accounts than one statement takes, in one transaction.
func testInsertAccountsMany(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	const n = 1234
	accts := make([]store.Account, n)
	for i := range accts {
		accts[i] = store.Account{Username: fmt.Sprintf("user%04d", i), CreatedAt: t0}
	}
	accts[1000].Username = "USER0007" // taken by an earlier one in another statement
	must(t, s.Tx(ctx, func(tx store.Store) error { return tx.InsertAccounts(ctx, accts) }))
	seen := map[int64]bool{}
	for i, a := range accts {
		switch {
		case i == 1000 && a.ID != 0:
			t.Errorf("a duplicate of an earlier statement's account got ID %d", a.ID)
		case i != 1000 && (a.ID == 0 || seen[a.ID]):
			t.Fatalf("account %d got ID %d", i, a.ID)
		}
		seen[a.ID] = true
	}
	all, err := s.ListAccounts(ctx, 0, 0)
	must(t, err)
	if len(all) != n-1 {
		t.Errorf("%d accounts stored, want %d", len(all), n-1)
	}
}

const bcryptTail = "CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"

// testTakenUsernamesAndSerials: the usernames (case-insensitively) and serials of a list that
// are taken, as given and in the order given, however long the list.
func testTakenUsernamesAndSerials(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "Élodie")
	newAccount(t, s, "bert")
	newKey(t, s, a.ID, "tokencard", "S-1")
	newKey(t, s, a.ID, "tokencard", "S-2")
	newKey(t, s, a.ID, "other", "S-3")
	var users, serials []string
	for i := range 700 {
		users = append(users, fmt.Sprintf("u%d", i))
		serials = append(serials, fmt.Sprintf("X-%d", i))
	}
	users = append(users, "ÉLODIE", "nobody", "Bert")
	serials = append(serials, "S-2", "S-3", "s-1", "S-1")
	got, err := s.TakenUsernames(ctx, users)
	must(t, err)
	if d := diff([]string{"ÉLODIE", "Bert"}, got); d != "" {
		t.Errorf("TakenUsernames (-want +got):\n%s", d)
	}
	gotSerials, err := s.TakenSerials(ctx, "tokencard", serials)
	must(t, err)
	if d := diff([]string{"S-2", "S-1"}, gotSerials); d != "" {
		t.Errorf("TakenSerials (-want +got):\n%s", d)
	}
	if got, err := s.TakenUsernames(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("TakenUsernames(nil) = %q, %v", got, err)
	}
}

// testInsertKeys: keys are stored as CreateKey stores them; a serial taken (stored, or twice in
// the call) is a conflict.
func testInsertKeys(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "anna")
	b := newAccount(t, s, "bert")
	keys := []store.Key{
		{AccountID: a.ID, Kind: "tokencard", Status: store.KeyActive, Serial: "C-1", Data: []byte("codes"), CreatedAt: t0, ActivatedAt: t0},
		{AccountID: b.ID, Kind: "tokencard", Status: store.KeyActive, Serial: "C-2", Data: []byte("more codes"), CreatedAt: t0, ActivatedAt: t0},
	}
	must(t, s.InsertKeys(ctx, keys))
	got, err := s.ListKeys(ctx, b.ID)
	must(t, err)
	if len(got) != 1 {
		t.Fatalf("bert has %d keys, want 1", len(got))
	}
	want := keys[1]
	want.ID = got[0].ID
	if d := diff(want, got[0]); d != "" {
		t.Errorf("inserted key (-want +got):\n%s", d)
	}
	dup := []store.Key{{AccountID: b.ID, Kind: "tokencard", Status: store.KeyActive, Serial: "C-1", CreatedAt: t0}}
	err = s.Tx(ctx, func(tx store.Store) error { return tx.InsertKeys(ctx, dup) })
	wantErr(t, "InsertKeys with a taken serial", err, store.ErrConflict)
	twice := []store.Key{
		{AccountID: b.ID, Kind: "tokencard", Status: store.KeyActive, Serial: "C-9", CreatedAt: t0},
		{AccountID: a.ID, Kind: "tokencard", Status: store.KeyActive, Serial: "C-9", CreatedAt: t0},
	}
	err = s.Tx(ctx, func(tx store.Store) error { return tx.InsertKeys(ctx, twice) })
	wantErr(t, "InsertKeys with a serial twice", err, store.ErrConflict)
	if got, _ := s.ListKeys(ctx, b.ID); len(got) != 1 {
		t.Errorf("after refused inserts bert has %d keys, want 1", len(got))
	}
}

// testAppendAudits: many events at once, stored as AppendAudit stores them.
func testAppendAudits(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	var events []store.AuditEvent
	for i := range 1100 {
		events = append(events, store.AuditEvent{Time: at(time.Duration(i) * time.Second), Type: "account.created",
			AccountID: int64(i + 1), Actor: "operator", Reason: "import", Detail: map[string]string{"line": fmt.Sprint(i + 2)}})
	}
	events = append(events, store.AuditEvent{Type: "operator.action"})
	must(t, s.AppendAudits(ctx, events))
	got, err := s.ListAudit(ctx, 0, 0)
	must(t, err)
	if len(got) != len(events) {
		t.Fatalf("%d events stored, want %d", len(got), len(events))
	}
	want := events[600]
	want.ID = got[600].ID
	if d := diff(want, got[600]); d != "" {
		t.Errorf("event 600 (-want +got):\n%s", d)
	}
	if got[len(got)-1].Time.IsZero() {
		t.Error("an event without a time was stored without one")
	}
}

// testListAccountRows: everything held about one account, and nothing about another.
func testListAccountRows(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "anna")
	b := newAccount(t, s, "bert")
	for _, id := range []int64{a.ID, b.ID, a.ID} {
		must(t, s.AppendAudit(ctx, &store.AuditEvent{Time: t0, Type: "logon.success", AccountID: id}))
		m := newMessage(int(id), t0)
		m.AccountID = id
		enqueue(t, s, m)
		must(t, s.CreateSession(ctx, &store.Session{IDHash: []byte(fmt.Sprint("session ", id, len(m.MessageID), time.Now().UnixNano())),
			AccountID: id, CreatedAt: t0, LastSeenAt: t0}))
		newCode(t, s, id, store.CodeLogon, t0)
	}
	events, err := s.ListAccountAudit(ctx, a.ID, 0, 0)
	must(t, err)
	if len(events) != 2 || events[0].AccountID != a.ID || events[1].AccountID != a.ID || events[0].ID >= events[1].ID {
		t.Errorf("ListAccountAudit = %+v, want anna's two events in order", events)
	}
	if page, err := s.ListAccountAudit(ctx, a.ID, events[0].ID, 1); err != nil || len(page) != 1 || page[0].ID != events[1].ID {
		t.Errorf("ListAccountAudit after the first = %+v, %v", page, err)
	}
	msgs, err := s.ListAccountMessages(ctx, a.ID)
	must(t, err)
	if len(msgs) != 2 || msgs[0].AccountID != a.ID || msgs[1].AccountID != a.ID {
		t.Errorf("ListAccountMessages = %+v, want anna's two", msgs)
	}
	sessions, err := s.ListAccountSessions(ctx, b.ID)
	must(t, err)
	if len(sessions) != 1 || sessions[0].AccountID != b.ID {
		t.Errorf("ListAccountSessions = %+v, want bert's one", sessions)
	}
	codes, err := s.ListAccountCodes(ctx, a.ID)
	must(t, err)
	if len(codes) != 2 || codes[0].AccountID != a.ID || codes[0].ID >= codes[1].ID {
		t.Errorf("ListAccountCodes = %+v, want anna's two in order", codes)
	}
	for _, empty := range []func() (int, error){
		func() (int, error) { x, err := s.ListAccountAudit(ctx, 999, 0, 0); return len(x), err },
		func() (int, error) { x, err := s.ListAccountMessages(ctx, 999); return len(x), err },
		func() (int, error) { x, err := s.ListAccountSessions(ctx, 999); return len(x), err },
		func() (int, error) { x, err := s.ListAccountCodes(ctx, 999); return len(x), err },
		func() (int, error) { x, err := s.ListAccountSignups(ctx, 999); return len(x), err },
	} {
		if n, err := empty(); n != 0 || err != nil {
			t.Errorf("a list for an unknown account has %d rows, %v", n, err)
		}
	}
}

// testDeleteAccount: the account and its rows go; its audit events stay under the pseudonym;
// another account keeps everything.
func testDeleteAccount(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "anna")
	b := newAccount(t, s, "bert")
	for _, id := range []int64{a.ID, b.ID} {
		newKey(t, s, id, "tokencard", fmt.Sprint("S-", id))
		newCode(t, s, id, store.CodeLogon, t0)
		must(t, s.CreateSession(ctx, &store.Session{IDHash: []byte(fmt.Sprint("session-", id)), AccountID: id, CreatedAt: t0, LastSeenAt: t0}))
		m := newMessage(int(id), t0)
		m.AccountID = id
		enqueue(t, s, m)
		must(t, s.AppendAudit(ctx, &store.AuditEvent{Time: t0, Type: "logon.success", AccountID: id, IP: "192.0.2.1"}))
		must(t, s.AppendAudit(ctx, &store.AuditEvent{Time: t0, Type: "key.activated", AccountID: id}))
	}
	wantErr(t, "DeleteAccount of an unknown account", s.DeleteAccount(ctx, 999, -5), store.ErrNotFound)
	if err := s.DeleteAccount(ctx, a.ID, 5); err == nil {
		t.Error("DeleteAccount with a positive pseudonym succeeded")
	}
	const pseudonym = -4242
	must(t, s.DeleteAccount(ctx, a.ID, pseudonym))

	_, err := s.GetAccount(ctx, a.ID)
	wantErr(t, "GetAccount after the delete", err, store.ErrNotFound)
	if ks, _ := s.ListKeys(ctx, a.ID); len(ks) != 0 {
		t.Errorf("%d keys left", len(ks))
	}
	if cs, _ := s.ListAccountCodes(ctx, a.ID); len(cs) != 0 {
		t.Errorf("%d codes left", len(cs))
	}
	if ss, _ := s.ListAccountSessions(ctx, a.ID); len(ss) != 0 {
		t.Errorf("%d sessions left", len(ss))
	}
	if ms, _ := s.ListAccountMessages(ctx, a.ID); len(ms) != 0 {
		t.Errorf("%d messages left", len(ms))
	}
	if taken, _ := s.TakenSerials(ctx, "tokencard", []string{fmt.Sprint("S-", a.ID)}); len(taken) != 0 {
		t.Errorf("the card's serial is still taken")
	}
	if es, _ := s.ListAccountAudit(ctx, a.ID, 0, 0); len(es) != 0 {
		t.Errorf("%d audit events still name the account", len(es))
	}
	kept, err := s.ListAccountAudit(ctx, pseudonym, 0, 0)
	must(t, err)
	if len(kept) != 2 || kept[0].Type != "logon.success" || kept[0].IP != "192.0.2.1" || kept[1].Type != "key.activated" {
		t.Errorf("audit events under the pseudonym: %+v, want the two events as they were", kept)
	}
	// Bert keeps everything; his username and serial stay taken, anna's are free again.
	if ks, _ := s.ListKeys(ctx, b.ID); len(ks) != 1 {
		t.Errorf("bert has %d keys, want 1", len(ks))
	}
	for _, n := range []func() int{
		func() int { x, _ := s.ListAccountCodes(ctx, b.ID); return len(x) },
		func() int { x, _ := s.ListAccountSessions(ctx, b.ID); return len(x) },
		func() int { x, _ := s.ListAccountMessages(ctx, b.ID); return len(x) },
		func() int { x, _ := s.ListAccountAudit(ctx, b.ID, 0, 0); return len(x) - 1 },
	} {
		if n() != 1 {
			t.Error("bert lost rows in anna's delete")
		}
	}
	taken, err := s.TakenUsernames(ctx, []string{"anna", "bert"})
	must(t, err)
	if d := diff([]string{"bert"}, taken); d != "" {
		t.Errorf("TakenUsernames after the delete (-want +got):\n%s", d)
	}
	again := store.Account{Username: "anna", CreatedAt: t0}
	must(t, s.CreateAccount(ctx, &again))
}

// testDeleteAccountRollsBack: a delete in a transaction that fails leaves everything.
func testDeleteAccountRollsBack(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "anna")
	newKey(t, s, a.ID, "tokencard", "S-1")
	must(t, s.AppendAudit(ctx, &store.AuditEvent{Time: t0, Type: "logon.success", AccountID: a.ID}))
	boom := errors.New("boom")
	err := s.Tx(ctx, func(tx store.Store) error {
		must(t, tx.DeleteAccount(ctx, a.ID, -1))
		return boom
	})
	wantErr(t, "the failed transaction", err, boom)
	if _, err := s.GetAccount(ctx, a.ID); err != nil {
		t.Errorf("account after the rolled-back delete: %v", err)
	}
	if ks, _ := s.ListKeys(ctx, a.ID); len(ks) != 1 {
		t.Errorf("%d keys after the rolled-back delete, want 1", len(ks))
	}
	if es, _ := s.ListAccountAudit(ctx, a.ID, 0, 0); len(es) != 1 {
		t.Errorf("%d audit events name the account after the rolled-back delete, want 1", len(es))
	}
}
