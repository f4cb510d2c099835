package storetest

import (
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

var sessionTests = []test{
	{"Lifecycle", testSessionLifecycle},
	{"Empty", testSessionEmpty},
	{"NotFound", testSessionNotFound},
	{"DeleteBefore", testSessionDeleteBefore},
	{"DeleteAccountSessions", testDeleteAccountSessions},
}

func testSessionLifecycle(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	sess := store.Session{
		IDHash:     []byte("hash-of-session-1"),
		CreatedAt:  t0,
		LastSeenAt: t0,
		Data:       []byte(`{"step":"password"}`),
	}
	must(t, s.CreateSession(ctx, &sess))
	got, err := s.GetSession(ctx, sess.IDHash)
	must(t, err)
	if d := diff(sess, got); d != "" {
		t.Errorf("GetSession (-want +got):\n%s", d)
	}

	dup := store.Session{IDHash: []byte("hash-of-session-1"), CreatedAt: t0, LastSeenAt: t0}
	wantErr(t, "CreateSession with a used id", s.CreateSession(ctx, &dup), store.ErrConflict)

	sess.AccountID = 7
	sess.AuthTime = at(time.Minute)
	sess.LastSeenAt = at(time.Minute)
	sess.LoA = "substantial"
	sess.AMR = []string{"pwd", "otp"}
	sess.Data = []byte(`{"step":"done"}`)
	must(t, s.UpdateSession(ctx, &sess))
	got, err = s.GetSession(ctx, sess.IDHash)
	must(t, err)
	if d := diff(sess, got); d != "" {
		t.Errorf("after UpdateSession (-want +got):\n%s", d)
	}

	must(t, s.TouchSession(ctx, sess.IDHash, at(5*time.Minute)))
	sess.LastSeenAt = at(5 * time.Minute)
	got, err = s.GetSession(ctx, sess.IDHash)
	must(t, err)
	if d := diff(sess, got); d != "" {
		t.Errorf("after TouchSession (-want +got):\n%s", d)
	}

	must(t, s.DeleteSession(ctx, sess.IDHash))
	_, err = s.GetSession(ctx, sess.IDHash)
	wantErr(t, "GetSession after DeleteSession", err, store.ErrNotFound)
	wantErr(t, "deleting a deleted session", s.DeleteSession(ctx, sess.IDHash), store.ErrNotFound)
}

func testSessionEmpty(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	sess := store.Session{IDHash: []byte{0, 1, 2, 255}, CreatedAt: t0, LastSeenAt: t0}
	must(t, s.CreateSession(ctx, &sess))
	got, err := s.GetSession(ctx, []byte{0, 1, 2, 255})
	must(t, err)
	if got.AccountID != 0 || !got.AuthTime.IsZero() || got.LoA != "" || len(got.AMR) != 0 || len(got.Data) != 0 {
		t.Errorf("session before logon = %+v, want empty fields", got)
	}
	_, err = s.GetSession(ctx, []byte{0, 1, 2})
	wantErr(t, "GetSession of a prefix of a session id", err, store.ErrNotFound)
}

func testSessionNotFound(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	missing := []byte("no such session")
	_, err := s.GetSession(ctx, missing)
	wantErr(t, "GetSession", err, store.ErrNotFound)
	wantErr(t, "UpdateSession", s.UpdateSession(ctx, &store.Session{IDHash: missing}), store.ErrNotFound)
	wantErr(t, "TouchSession", s.TouchSession(ctx, missing, t0), store.ErrNotFound)
	wantErr(t, "DeleteSession", s.DeleteSession(ctx, missing), store.ErrNotFound)
}

func testSessionDeleteBefore(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	idle, abs := at(30*time.Minute), at(-8*time.Hour)
	sessions := []struct {
		id               string
		created, lastSee time.Time
		kept             bool
	}{
		{"recent", t0, at(50 * time.Minute), true},
		{"idle", t0, at(10 * time.Minute), false},
		{"just idle", t0, idle.Add(-time.Microsecond), false},
		{"at idle cutoff", t0, idle, true},
		{"too old", at(-9 * time.Hour), at(55 * time.Minute), false},
		{"at absolute cutoff", abs, at(55 * time.Minute), true},
	}
	for _, ss := range sessions {
		must(t, s.CreateSession(ctx, &store.Session{IDHash: []byte(ss.id), CreatedAt: ss.created, LastSeenAt: ss.lastSee}))
	}
	n, err := s.DeleteSessionsBefore(ctx, idle, abs)
	must(t, err)
	if n != 3 {
		t.Errorf("DeleteSessionsBefore removed %d, want 3", n)
	}
	for _, ss := range sessions {
		_, err := s.GetSession(ctx, []byte(ss.id))
		switch {
		case ss.kept && err != nil:
			t.Errorf("session %q: %v, want kept", ss.id, err)
		case !ss.kept && err == nil:
			t.Errorf("session %q kept, want removed", ss.id)
		}
	}
	n, err = s.DeleteSessionsBefore(ctx, idle, abs)
	must(t, err)
	if n != 0 {
		t.Errorf("second DeleteSessionsBefore removed %d, want 0", n)
	}
}

func testDeleteAccountSessions(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	sessions := []struct {
		id      string
		account int64
		kept    bool
	}{
		{"mine on a phone", 7, false},
		{"mine on a laptop", 7, false},
		{"someone else's", 8, true},
		{"a logon in progress", 0, true},
	}
	for _, ss := range sessions {
		must(t, s.CreateSession(ctx, &store.Session{IDHash: []byte(ss.id), AccountID: ss.account, CreatedAt: t0, LastSeenAt: t0}))
	}
	n, err := s.DeleteAccountSessions(ctx, 7)
	must(t, err)
	if n != 2 {
		t.Errorf("DeleteAccountSessions removed %d, want 2", n)
	}
	for _, ss := range sessions {
		_, err := s.GetSession(ctx, []byte(ss.id))
		switch {
		case ss.kept && err != nil:
			t.Errorf("session %q: %v, want kept", ss.id, err)
		case !ss.kept && err == nil:
			t.Errorf("session %q kept, want removed", ss.id)
		}
	}
	if _, err := s.DeleteAccountSessions(ctx, 0); err == nil {
		t.Error("DeleteAccountSessions(0) succeeded: it would end every logon in progress")
	}
	if _, err := s.GetSession(ctx, []byte("a logon in progress")); err != nil {
		t.Errorf("the pre-logon session after DeleteAccountSessions(0): %v", err)
	}
}
