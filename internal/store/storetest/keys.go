package storetest

import (
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

var keyTests = []test{
	{"CreateGetList", testKeyCreateGetList},
	{"SerialUnique", testKeySerialUnique},
	{"Status", testKeyStatus},
	{"Counter", testKeyCounter},
	{"Touch", testKeyTouch},
	{"NotFound", testKeyNotFound},
	{"Transition", testKeyTransition},
}

func testKeyTransition(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "tess")
	k := newKey(t, s, a.ID, "totp", "")
	moved, err := s.TransitionKey(ctx, k.ID, store.KeyActive, store.KeyLocked, "lockout", at(time.Minute))
	must(t, err)
	if !moved {
		t.Fatal("active → locked did not move an active key")
	}
	again, err := s.TransitionKey(ctx, k.ID, store.KeyActive, store.KeyLocked, "lockout", at(2*time.Minute))
	must(t, err)
	got, err := s.GetKey(ctx, k.ID)
	must(t, err)
	if again || got.Status != store.KeyLocked || got.DeactivationCause != "lockout" || !got.DeactivatedAt.Equal(at(time.Minute)) {
		t.Errorf("second lockout: moved %v, key %+v; want no change", again, got)
	}
	moved, err = s.TransitionKey(ctx, k.ID, store.KeyLocked, store.KeyActive, "", at(3*time.Minute))
	must(t, err)
	got, err = s.GetKey(ctx, k.ID)
	must(t, err)
	if !moved || got.Status != store.KeyActive || !got.ActivatedAt.Equal(at(3*time.Minute)) || got.DeactivationCause != "" {
		t.Errorf("locked → active: moved %v, key %+v", moved, got)
	}
	if moved, err := s.TransitionKey(ctx, k.ID+1000, store.KeyActive, store.KeyLocked, "lockout", t0); err != nil || moved {
		t.Errorf("a missing key: moved %v, %v", moved, err)
	}
}

func testKeyCreateGetList(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "anna")
	b := newAccount(t, s, "bert")
	card := newKey(t, s, a.ID, "tokencard", "TC-0001")
	otherAccount := newKey(t, s, b.ID, "totp", "")
	totp := newKey(t, s, a.ID, "totp", "")
	mail := store.Key{
		AccountID:         a.ID,
		Kind:              "emailcode",
		Status:            store.KeyDeactivated,
		Counter:           42,
		CreatedAt:         at(time.Minute),
		ActivatedAt:       at(2 * time.Minute),
		DeactivatedAt:     at(3 * time.Minute),
		DeactivationCause: "citizen",
		LastUsedAt:        at(90 * time.Second),
	}
	must(t, s.CreateKey(ctx, &mail))
	if card.ID == 0 || totp.ID == 0 || mail.ID == 0 {
		t.Fatalf("CreateKey did not fill IDs: %d %d %d", card.ID, totp.ID, mail.ID)
	}

	got, err := s.GetKey(ctx, mail.ID)
	must(t, err)
	if d := diff(mail, got); d != "" {
		t.Errorf("GetKey (-want +got):\n%s", d)
	}
	list, err := s.ListKeys(ctx, a.ID)
	must(t, err)
	if d := diff([]store.Key{card, totp, mail}, list); d != "" {
		t.Errorf("ListKeys (-want +got):\n%s", d)
	}
	list, err = s.ListKeys(ctx, b.ID)
	must(t, err)
	if d := diff([]store.Key{otherAccount}, list); d != "" {
		t.Errorf("ListKeys of the other account (-want +got):\n%s", d)
	}
	c := newAccount(t, s, "carla")
	list, err = s.ListKeys(ctx, c.ID)
	must(t, err)
	if len(list) != 0 {
		t.Errorf("ListKeys of an account without keys = %d keys", len(list))
	}
}

func testKeySerialUnique(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "anna")
	b := newAccount(t, s, "bert")
	newKey(t, s, a.ID, "tokencard", "TC-0001")
	dup := store.Key{AccountID: b.ID, Kind: "tokencard", Status: store.KeyActive, Serial: "TC-0001", CreatedAt: t0}
	wantErr(t, "second token card with serial TC-0001", s.CreateKey(ctx, &dup), store.ErrConflict)
	// Empty serials never collide, and another serial is fine.
	newKey(t, s, a.ID, "totp", "")
	newKey(t, s, b.ID, "totp", "")
	newKey(t, s, b.ID, "tokencard", "TC-0002")
	list, err := s.ListKeys(ctx, b.ID)
	must(t, err)
	if len(list) != 2 {
		t.Errorf("bert has %d keys, want 2 (the refused card must not be stored)", len(list))
	}
}

func testKeyStatus(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "anna")
	k := newKey(t, s, a.ID, "totp", "")
	for _, tc := range []struct {
		status    store.KeyStatus
		cause     string
		at        time.Time
		wantAct   time.Time
		wantDeact time.Time
		wantCause string
	}{
		{store.KeyDeactivated, "citizen", at(time.Hour), t0, at(time.Hour), "citizen"},
		{store.KeyActive, "", at(2 * time.Hour), at(2 * time.Hour), time.Time{}, ""},
		{store.KeyLocked, "lockout", at(3 * time.Hour), at(2 * time.Hour), at(3 * time.Hour), "lockout"},
		{store.KeyExpired, "expiry", at(4 * time.Hour), at(2 * time.Hour), at(4 * time.Hour), "expiry"},
	} {
		must(t, s.SetKeyStatus(ctx, k.ID, tc.status, tc.cause, tc.at))
		got, err := s.GetKey(ctx, k.ID)
		must(t, err)
		if got.Status != tc.status || !got.ActivatedAt.Equal(tc.wantAct) || !got.DeactivatedAt.Equal(tc.wantDeact) ||
			got.DeactivationCause != tc.wantCause {
			t.Errorf("after SetKeyStatus(%s, %q): status %s, activated %v, deactivated %v, cause %q; want %s, %v, %v, %q",
				tc.status, tc.cause, got.Status, got.ActivatedAt, got.DeactivatedAt, got.DeactivationCause,
				tc.status, tc.wantAct, tc.wantDeact, tc.wantCause)
		}
	}
}

func testKeyCounter(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "anna")
	k := newKey(t, s, a.ID, "totp", "")
	other := newKey(t, s, a.ID, "tokencard", "TC-1")
	must(t, s.SetKeyCounter(ctx, k.ID, 5))
	for _, tc := range []struct {
		to          int64
		wantOK      bool
		wantCounter int64
	}{
		{4, false, 5},
		{5, false, 5},
		{6, true, 6},
		{6, false, 6},
		{1000, true, 1000},
	} {
		ok, err := s.AdvanceKeyCounter(ctx, k.ID, tc.to)
		must(t, err)
		got, err := s.GetKey(ctx, k.ID)
		must(t, err)
		if ok != tc.wantOK || got.Counter != tc.wantCounter {
			t.Errorf("AdvanceKeyCounter(%d) = %v, counter %d; want %v, %d", tc.to, ok, got.Counter, tc.wantOK, tc.wantCounter)
		}
	}
	// SetKeyCounter is unconditional: it may go down.
	must(t, s.SetKeyCounter(ctx, k.ID, 2))
	got, err := s.GetKey(ctx, k.ID)
	must(t, err)
	if got.Counter != 2 {
		t.Errorf("after SetKeyCounter(2): counter %d", got.Counter)
	}
	got, err = s.GetKey(ctx, other.ID)
	must(t, err)
	if got.Counter != 0 {
		t.Errorf("another key's counter changed to %d", got.Counter)
	}
}

func testKeyTouch(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "anna")
	k := newKey(t, s, a.ID, "totp", "")
	if !k.LastUsedAt.IsZero() {
		t.Fatalf("new key LastUsedAt = %v", k.LastUsedAt)
	}
	must(t, s.TouchKey(ctx, k.ID, at(time.Minute)))
	got, err := s.GetKey(ctx, k.ID)
	must(t, err)
	k.LastUsedAt = at(time.Minute)
	if d := diff(k, got); d != "" {
		t.Errorf("after TouchKey (-want +got):\n%s", d)
	}
}

func testKeyNotFound(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newAccount(t, s, "anna")
	missing := newKey(t, s, a.ID, "totp", "").ID + 1000
	_, err := s.GetKey(ctx, missing)
	wantErr(t, "GetKey", err, store.ErrNotFound)
	wantErr(t, "SetKeyStatus", s.SetKeyStatus(ctx, missing, store.KeyDeactivated, "citizen", t0), store.ErrNotFound)
	wantErr(t, "SetKeyCounter", s.SetKeyCounter(ctx, missing, 1), store.ErrNotFound)
	_, err = s.AdvanceKeyCounter(ctx, missing, 1)
	wantErr(t, "AdvanceKeyCounter", err, store.ErrNotFound)
	wantErr(t, "TouchKey", s.TouchKey(ctx, missing, t0), store.ErrNotFound)
}
