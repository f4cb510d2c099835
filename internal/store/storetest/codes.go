package storetest

import (
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

var codeTests = []test{
	{"CreateAndLatest", testCodeCreateAndLatest},
	{"TimesSince", testCodeTimesSince},
	{"AttemptsAndUse", testCodeAttemptsAndUse},
	{"NotFound", testCodeNotFound},
	{"DeleteBefore", testCodeDeleteBefore},
}

// newCode creates a code of purpose for the account, created at created.
func newCode(t *testing.T, s store.Store, accountID int64, purpose store.CodePurpose, created time.Time) store.Code {
	t.Helper()
	c := store.Code{
		AccountID: accountID,
		Purpose:   purpose,
		Hash:      []byte("hash-" + created.String()),
		Target:    "anna@example.be",
		CreatedAt: created,
		ExpiresAt: created.Add(10 * time.Minute),
	}
	must(t, s.CreateCode(ctxOf(t), &c))
	if c.ID == 0 {
		t.Fatal("CreateCode did not fill ID")
	}
	return c
}

func testCodeCreateAndLatest(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "anna")
	b := newAccount(t, s, "bert")
	newCode(t, s, a.ID, store.CodeLogon, t0)
	second := newCode(t, s, a.ID, store.CodeLogon, at(time.Minute))
	reg := newCode(t, s, a.ID, store.CodeRegistration, at(2*time.Minute))
	newCode(t, s, b.ID, store.CodeLogon, at(3*time.Minute))

	for _, tc := range []struct {
		purpose store.CodePurpose
		want    store.Code
	}{
		{store.CodeLogon, second},
		{store.CodeRegistration, reg},
	} {
		got, err := s.LatestCode(ctx, a.ID, tc.purpose)
		must(t, err)
		if d := diff(tc.want, got); d != "" {
			t.Errorf("LatestCode(%s) (-want +got):\n%s", tc.purpose, d)
		}
	}
	// Two codes created in the same microsecond: the later insert is the latest.
	third := newCode(t, s, a.ID, store.CodeLogon, at(time.Minute))
	got, err := s.LatestCode(ctx, a.ID, store.CodeLogon)
	must(t, err)
	if got.ID != third.ID {
		t.Errorf("LatestCode with equal creation times = code %d, want the last created %d", got.ID, third.ID)
	}
	_, err = s.LatestCode(ctx, a.ID, store.CodeEmailChange)
	wantErr(t, "LatestCode(email_change)", err, store.ErrNotFound)
}

func testCodeTimesSince(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "anna")
	b := newAccount(t, s, "bert")
	newCode(t, s, a.ID, store.CodeLogon, at(time.Minute)) // created before the older one below
	newCode(t, s, a.ID, store.CodeLogon, t0)
	newCode(t, s, a.ID, store.CodeRegistration, at(time.Minute))
	newCode(t, s, b.ID, store.CodeLogon, at(time.Minute))
	for _, tc := range []struct {
		since time.Time
		want  []time.Time
	}{
		{at(-time.Hour), []time.Time{t0, at(time.Minute)}},
		{t0, []time.Time{t0, at(time.Minute)}},
		{at(time.Microsecond), []time.Time{at(time.Minute)}},
		{at(time.Minute), []time.Time{at(time.Minute)}},
		{at(2 * time.Minute), nil},
	} {
		got, err := s.CodeTimesSince(ctx, a.ID, store.CodeLogon, tc.since)
		must(t, err)
		if d := diff(tc.want, got); d != "" {
			t.Errorf("CodeTimesSince(logon, %v) (-want +got):\n%s", tc.since, d)
		}
	}
}

func testCodeAttemptsAndUse(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "anna")
	c := newCode(t, s, a.ID, store.CodeLogon, t0)
	other := newCode(t, s, a.ID, store.CodeRegistration, t0)
	for want := 1; want <= 3; want++ {
		got, err := s.AddCodeAttempt(ctx, c.ID)
		must(t, err)
		if got != want {
			t.Errorf("AddCodeAttempt = %d, want %d", got, want)
		}
	}
	ok, err := s.UseCode(ctx, c.ID, at(time.Minute))
	must(t, err)
	if !ok {
		t.Error("first UseCode = false, want true")
	}
	ok, err = s.UseCode(ctx, c.ID, at(2*time.Minute))
	must(t, err)
	if ok {
		t.Error("second UseCode = true, want false")
	}
	got, err := s.LatestCode(ctx, a.ID, store.CodeLogon)
	must(t, err)
	c.Attempts, c.UsedAt = 3, at(time.Minute)
	if d := diff(c, got); d != "" {
		t.Errorf("used code (-want +got):\n%s", d)
	}
	got, err = s.LatestCode(ctx, a.ID, store.CodeRegistration)
	must(t, err)
	if d := diff(other, got); d != "" {
		t.Errorf("another code changed (-want +got):\n%s", d)
	}
}

func testCodeNotFound(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "anna")
	missing := newCode(t, s, a.ID, store.CodeLogon, t0).ID + 1000
	_, err := s.AddCodeAttempt(ctx, missing)
	wantErr(t, "AddCodeAttempt", err, store.ErrNotFound)
	_, err = s.UseCode(ctx, missing, t0)
	wantErr(t, "UseCode", err, store.ErrNotFound)
}

// testCodeDeleteBefore: the sweep removes codes that expired or were used before the cutoff,
// and keeps every code still valid at the cutoff.
func testCodeDeleteBefore(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "anna")
	cutoff := at(time.Hour)
	expired := newCode(t, s, a.ID, store.CodeLogon, t0)                         // expired at 0:10
	expiresAtCutoff := newCode(t, s, a.ID, store.CodeLogon, at(50*time.Minute)) // valid until 1:00
	usedBefore := newCode(t, s, a.ID, store.CodeRegistration, at(55*time.Minute))
	usedAfter := newCode(t, s, a.ID, store.CodeEmailChange, at(58*time.Minute))
	fresh := newCode(t, s, a.ID, store.CodeLogon, at(59*time.Minute))
	for c, when := range map[int64]time.Time{usedBefore.ID: at(56 * time.Minute), usedAfter.ID: at(61 * time.Minute)} {
		ok, err := s.UseCode(ctx, c, when)
		must(t, err)
		if !ok {
			t.Fatalf("UseCode(%d) = false", c)
		}
	}
	n, err := s.DeleteCodesBefore(ctx, cutoff)
	must(t, err)
	if n != 2 {
		t.Errorf("DeleteCodesBefore removed %d codes, want 2", n)
	}
	for name, c := range map[string]store.Code{"expired": expired, "used before the cutoff": usedBefore} {
		_, err := s.AddCodeAttempt(ctx, c.ID)
		wantErr(t, name+" code after the sweep", err, store.ErrNotFound)
	}
	for name, c := range map[string]store.Code{"expiring at the cutoff": expiresAtCutoff, "used after the cutoff": usedAfter, "fresh": fresh} {
		if _, err := s.AddCodeAttempt(ctx, c.ID); err != nil {
			t.Errorf("%s code after the sweep: %v, want it kept", name, err)
		}
	}
	if n, err := s.DeleteCodesBefore(ctx, cutoff); err != nil || n != 0 {
		t.Errorf("second sweep = %d, %v; want 0, nil", n, err)
	}
}
