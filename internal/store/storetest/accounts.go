package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

var accountTests = []test{
	{"CreateAndGet", testAccountCreateAndGet},
	{"UsernameCaseInsensitive", testAccountUsernameCaseInsensitive},
	{"FillsTimes", testAccountFillsTimes},
	{"List", testAccountList},
	{"Update", testAccountUpdate},
	{"NotFound", testAccountNotFound},
	{"LockOutsideTx", testAccountLockOutsideTx},
	{"PasswordHashParams", testPasswordHashParams},
}

// testPasswordHashParams: the distinct parameter sets of the stored hashes, whatever their
// format, kept up to date by every write of a hash; accounts without a password have none.
func testPasswordHashParams(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	params := func() []string {
		t.Helper()
		got, err := s.PasswordHashParams(ctx)
		must(t, err)
		return got
	}
	if got := params(); len(got) != 0 {
		t.Errorf("PasswordHashParams of an empty store = %q", got)
	}
	const (
		cheap = "$argon2id$v=19$m=19456,t=1,p=1"
		dear  = "$argon2id$v=19$m=19456,t=2,p=1"
	)
	a := newAccount(t, s, "anna") // newAccount's hash: m=65536,t=3,p=2
	for i, h := range []string{
		cheap + "$c2FsdHNhbHQ$aGFzaGhhc2g",
		cheap + "$b3RoZXJzYWx0$b3RoZXJoYXNo",
		dear + "$c2FsdHNhbHQ$aGFzaGhhc2g",
		"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
		"$pbkdf2-sha256$i=600000$c2FsdA$aGFzaA",
		"pbkdf2_sha256$870000$salt$aGFzaA==",
		"", // no password
	} {
		acct := store.Account{Username: fmt.Sprintf("user%d", i), PasswordHash: h, CreatedAt: t0}
		must(t, s.CreateAccount(ctx, &acct))
	}
	want := []string{"$2b$12", "$argon2id$v=19$m=19456,t=1,p=1", "$argon2id$v=19$m=19456,t=2,p=1",
		"$argon2id$v=19$m=65536,t=3,p=2", "$pbkdf2-sha256$i=600000", "pbkdf2_sha256$870000"}
	if d := diff(want, params()); d != "" {
		t.Errorf("PasswordHashParams (-want +got):\n%s", d)
	}
	// Rehashed, the last account of a set takes its set away.
	must(t, s.UpdatePasswordHash(ctx, a.ID, dear+"$bmV3c2FsdA$bmV3aGFzaA", at(time.Minute)))
	want = []string{"$2b$12", "$argon2id$v=19$m=19456,t=1,p=1", "$argon2id$v=19$m=19456,t=2,p=1",
		"$pbkdf2-sha256$i=600000", "pbkdf2_sha256$870000"}
	if d := diff(want, params()); d != "" {
		t.Errorf("PasswordHashParams after a rehash (-want +got):\n%s", d)
	}
}

func testAccountCreateAndGet(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "Anna.Peeters")
	if a.ID == 0 {
		t.Fatal("CreateAccount did not fill ID")
	}
	b := newAccount(t, s, "bert")
	if b.ID == a.ID {
		t.Fatalf("two accounts got ID %d", a.ID)
	}
	got, err := s.GetAccount(ctx, a.ID)
	must(t, err)
	if d := diff(a, got); d != "" {
		t.Errorf("GetAccount (-want +got):\n%s", d)
	}
	got, err = s.GetAccountByUsername(ctx, "Anna.Peeters")
	must(t, err)
	if d := diff(a, got); d != "" {
		t.Errorf("GetAccountByUsername (-want +got):\n%s", d)
	}
}

func testAccountUsernameCaseInsensitive(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "Anna.Peeters")
	e := newAccount(t, s, "Élodie")
	for _, tc := range []struct {
		lookup string
		want   store.Account
	}{
		{"anna.peeters", a},
		{"ANNA.PEETERS", a},
		{"aNNa.pEEters", a},
		{"élodie", e},
		{"ÉLODIE", e},
	} {
		got, err := s.GetAccountByUsername(ctx, tc.lookup)
		if err != nil {
			t.Errorf("GetAccountByUsername(%q): %v", tc.lookup, err)
			continue
		}
		if got.ID != tc.want.ID || got.Username != tc.want.Username {
			t.Errorf("GetAccountByUsername(%q) = %d %q, want %d %q", tc.lookup, got.ID, got.Username, tc.want.ID, tc.want.Username)
		}
	}
	for _, taken := range []string{"Anna.Peeters", "anna.peeters", "ANNA.PEETERS", "élodie", "ÉLODIE"} {
		dup := store.Account{Username: taken, CreatedAt: t0, UpdatedAt: t0}
		wantErr(t, "CreateAccount("+taken+")", s.CreateAccount(ctx, &dup), store.ErrConflict)
	}
	accounts, err := s.ListAccounts(ctx, 0, 0)
	must(t, err)
	if len(accounts) != 2 {
		t.Errorf("after refused duplicates: %d accounts, want 2", len(accounts))
	}
}

func testAccountFillsTimes(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := store.Account{Username: "zonder.tijd"}
	must(t, s.CreateAccount(ctx, &a))
	if a.CreatedAt.IsZero() || a.UpdatedAt.IsZero() {
		t.Errorf("CreateAccount left CreatedAt %v, UpdatedAt %v zero", a.CreatedAt, a.UpdatedAt)
	}
	got, err := s.GetAccount(ctx, a.ID)
	must(t, err)
	if !got.CreatedAt.Equal(a.CreatedAt) || !got.UpdatedAt.Equal(a.UpdatedAt) {
		t.Errorf("stored times %v, %v; CreateAccount reported %v, %v", got.CreatedAt, got.UpdatedAt, a.CreatedAt, a.UpdatedAt)
	}
}

func testAccountList(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	var all []int64
	for _, name := range []string{"a1", "a2", "a3", "a4", "a5"} {
		all = append(all, newAccount(t, s, name).ID)
	}
	for _, tc := range []struct {
		name    string
		afterID int64
		limit   int
		want    []int64
	}{
		{"first page", 0, 2, all[:2]},
		{"second page", all[1], 2, all[2:4]},
		{"last page", all[3], 2, all[4:]},
		{"past the end", all[4], 2, nil},
		{"no limit", 0, 0, all},
	} {
		got, err := s.ListAccounts(ctx, tc.afterID, tc.limit)
		must(t, err)
		var gotIDs []int64
		for _, a := range got {
			gotIDs = append(gotIDs, a.ID)
		}
		if d := diff(tc.want, gotIDs); d != "" {
			t.Errorf("%s: ListAccounts(%d, %d) IDs (-want +got):\n%s", tc.name, tc.afterID, tc.limit, d)
		}
	}
}

func testAccountUpdate(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "bert")
	other := newAccount(t, s, "carla")

	must(t, s.UpdatePasswordHash(ctx, a.ID, "$argon2id$new", at(time.Minute)))
	a.PasswordHash, a.UpdatedAt = "$argon2id$new", at(time.Minute)
	got, err := s.GetAccount(ctx, a.ID)
	must(t, err)
	if d := diff(a, got); d != "" {
		t.Errorf("after UpdatePasswordHash (-want +got):\n%s", d)
	}

	must(t, s.UpdateProfile(ctx, a.ID, "Bert Janssens", "bert@example.be", "fr", at(2*time.Minute)))
	a.Name, a.Email, a.Language, a.UpdatedAt = "Bert Janssens", "bert@example.be", "fr", at(2*time.Minute)
	got, err = s.GetAccount(ctx, a.ID)
	must(t, err)
	if d := diff(a, got); d != "" {
		t.Errorf("after UpdateProfile (-want +got):\n%s", d)
	}

	got, err = s.GetAccount(ctx, other.ID)
	must(t, err)
	if d := diff(other, got); d != "" {
		t.Errorf("another account changed (-want +got):\n%s", d)
	}
}

func testAccountNotFound(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "bert")
	missing := a.ID + 1000
	_, err := s.GetAccount(ctx, missing)
	wantErr(t, "GetAccount", err, store.ErrNotFound)
	_, err = s.GetAccountByUsername(ctx, "nobody")
	wantErr(t, "GetAccountByUsername", err, store.ErrNotFound)
	wantErr(t, "UpdatePasswordHash", s.UpdatePasswordHash(ctx, missing, "x", t0), store.ErrNotFound)
	wantErr(t, "UpdateProfile", s.UpdateProfile(ctx, missing, "n", "e@example.be", "nl", t0), store.ErrNotFound)
	err = s.Tx(ctx, func(tx store.Store) error { return tx.LockAccount(ctx, missing) })
	wantErr(t, "LockAccount", err, store.ErrNotFound)
	if err := s.Tx(ctx, func(tx store.Store) error { return tx.LockAccount(ctx, a.ID) }); err != nil {
		t.Errorf("LockAccount of an existing account: %v", err)
	}
}

// testAccountLockOutsideTx: a lock outside a transaction would hold nothing (on PostgreSQL it
// ends with its statement), so LockAccount refuses instead of pretending.
func testAccountLockOutsideTx(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "lotte")
	wantErr(t, "LockAccount outside Tx", s.LockAccount(ctx, a.ID), store.ErrNoTransaction)
	wantErr(t, "LockAccount of a missing account outside Tx", s.LockAccount(ctx, a.ID+1000), store.ErrNoTransaction)
	if err := s.Tx(ctx, func(tx store.Store) error {
		return tx.Tx(ctx, func(inner store.Store) error { return inner.LockAccount(ctx, a.ID) })
	}); err != nil {
		t.Errorf("LockAccount in a nested Tx: %v", err)
	}
}
