package storetest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

var signupTests = []test{
	{"CreateAndGet", testSignupCreateAndGet},
	{"TimesSince", testSignupTimesSince},
	{"VerifyAndFinish", testSignupVerifyAndFinish},
	{"NotFound", testSignupNotFound},
	{"Sweep", testSignupSweep},
	{"LockOutsideTx", testSignupLockOutsideTx},
	{"AccountByEmail", testAccountByEmail},
	{"ConcurrentFinish", testSignupConcurrentFinish},
	{"ConcurrentLimit", testSignupConcurrentLimit},
}

// newSignup creates a signup for email sent at created (a 5-minute code, a 30-minute
// registration) and returns it.
func newSignup(t *testing.T, s store.Store, email string, created time.Time) store.Signup {
	t.Helper()
	su := store.Signup{
		Email:        email,
		Username:     "anna.peeters",
		Name:         "Anna Peeters",
		Language:     "nl",
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA",
		CodeHash:     []byte("code-hash-" + created.String()),
		StartedAt:    created,
		EndsAt:       created.Add(30 * time.Minute),
		CreatedAt:    created,
		ExpiresAt:    created.Add(5 * time.Minute),
	}
	must(t, s.CreateSignup(ctxOf(t), &su))
	if su.ID == 0 {
		t.Fatal("CreateSignup did not fill ID")
	}
	return su
}

func testSignupCreateAndGet(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a := newSignup(t, s, "Anna.Peeters@Example.BE", t0)
	if a.EmailKey != "anna.peeters@example.be" {
		t.Errorf("EmailKey = %q, want the address with ASCII letters in lower case", a.EmailKey)
	}
	d := store.Signup{Email: "d@example.be", Username: "d", Name: "D", Language: "fr", Decoy: true, CodeHash: []byte{1, 2, 3},
		StartedAt: at(-time.Minute), EndsAt: at(time.Hour), CreatedAt: t0, ExpiresAt: at(5 * time.Minute)}
	must(t, s.CreateSignup(ctx, &d))
	for _, want := range []store.Signup{a, d} {
		got, err := s.GetSignup(ctx, want.ID)
		must(t, err)
		if diff := diff(want, got); diff != "" {
			t.Errorf("GetSignup(%d) (-want +got):\n%s", want.ID, diff)
		}
	}
}

func testSignupTimesSince(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	newSignup(t, s, "anna@example.be", t0)
	newSignup(t, s, "ANNA@example.be", at(2*time.Minute))
	newSignup(t, s, "Anna@Example.be", at(time.Minute))
	newSignup(t, s, "bert@example.be", at(time.Minute))
	newSignup(t, s, "Änna@example.be", at(time.Minute)) // not ASCII: another address
	got, err := s.SignupTimesSince(ctx, "anna@EXAMPLE.be", at(time.Minute))
	must(t, err)
	if d := diff([]time.Time{at(time.Minute), at(2 * time.Minute)}, got); d != "" {
		t.Errorf("SignupTimesSince (-want +got):\n%s", d)
	}
	got, err = s.SignupTimesSince(ctx, "carla@example.be", t0)
	must(t, err)
	if len(got) != 0 {
		t.Errorf("SignupTimesSince of an address without signups = %v", got)
	}
}

func testSignupVerifyAndFinish(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	su := newSignup(t, s, "anna@example.be", t0)
	if err := s.SetSignupUsername(ctx, su.ID, "other"); err == nil {
		t.Error("SetSignupUsername before verification succeeded")
	}
	for i := 1; i <= 2; i++ {
		n, err := s.AddSignupAttempt(ctx, su.ID)
		must(t, err)
		if n != i {
			t.Errorf("AddSignupAttempt = %d, want %d", n, i)
		}
	}
	ok, err := s.VerifySignup(ctx, su.ID, at(time.Minute))
	must(t, err)
	if !ok {
		t.Fatal("VerifySignup of a fresh signup = false")
	}
	if ok, err := s.VerifySignup(ctx, su.ID, at(2*time.Minute)); err != nil || ok {
		t.Errorf("VerifySignup again = %v, %v; want false", ok, err)
	}
	must(t, s.SetSignupUsername(ctx, su.ID, "anna.other"))
	got, err := s.GetSignup(ctx, su.ID)
	must(t, err)
	if !got.VerifiedAt.Equal(at(time.Minute)) || got.Attempts != 0 || got.Username != "anna.other" {
		t.Errorf("verified signup: VerifiedAt %s, Attempts %d, Username %q; want %s, 0 (reset), anna.other",
			got.VerifiedAt, got.Attempts, got.Username, at(time.Minute))
	}
	ok, err = s.FinishSignup(ctx, su.ID, at(3*time.Minute))
	must(t, err)
	if !ok {
		t.Fatal("FinishSignup = false")
	}
	if ok, err := s.FinishSignup(ctx, su.ID, at(4*time.Minute)); err != nil || ok {
		t.Errorf("FinishSignup again = %v, %v; want false", ok, err)
	}
	got, err = s.GetSignup(ctx, su.ID)
	must(t, err)
	if !got.DoneAt.Equal(at(3*time.Minute)) || got.PasswordHash != "" {
		t.Errorf("finished signup: DoneAt %s, PasswordHash %q; want %s and no hash", got.DoneAt, got.PasswordHash, at(3*time.Minute))
	}
	if err := s.SetSignupUsername(ctx, su.ID, "late"); err == nil {
		t.Error("SetSignupUsername of a finished signup succeeded")
	}
	// A finished signup can no longer be verified.
	fresh := newSignup(t, s, "bert@example.be", t0)
	if _, err := s.FinishSignup(ctx, fresh.ID, at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.VerifySignup(ctx, fresh.ID, at(2*time.Minute)); err != nil || ok {
		t.Errorf("VerifySignup of a finished signup = %v, %v; want false", ok, err)
	}
}

func testSignupNotFound(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	_, err := s.GetSignup(ctx, 999)
	wantErr(t, "GetSignup", err, store.ErrNotFound)
	_, err = s.AddSignupAttempt(ctx, 999)
	wantErr(t, "AddSignupAttempt", err, store.ErrNotFound)
	_, err = s.VerifySignup(ctx, 999, t0)
	wantErr(t, "VerifySignup", err, store.ErrNotFound)
	_, err = s.FinishSignup(ctx, 999, t0)
	wantErr(t, "FinishSignup", err, store.ErrNotFound)
	wantErr(t, "SetSignupUsername", s.SetSignupUsername(ctx, 999, "x"), store.ErrNotFound)
}

func testSignupSweep(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	old := newSignup(t, s, "anna@example.be", t0)                            // created a day ago: deleted
	ended := newSignup(t, s, "anna@example.be", at(time.Hour))               // ended (30 minutes): hash dropped
	live := newSignup(t, s, "anna@example.be", at(24*time.Hour-time.Minute)) // running
	now := at(24 * time.Hour)
	n, err := s.SweepSignups(ctx, now, now.Add(-24*time.Hour+time.Second))
	must(t, err)
	if n != 1 {
		t.Errorf("SweepSignups deleted %d, want 1", n)
	}
	_, err = s.GetSignup(ctx, old.ID)
	wantErr(t, "the old signup", err, store.ErrNotFound)
	got, err := s.GetSignup(ctx, ended.ID)
	must(t, err)
	if got.PasswordHash != "" || got.Username != ended.Username {
		t.Errorf("ended signup after the sweep: hash %q, username %q; want no hash, the rest kept", got.PasswordHash, got.Username)
	}
	got, err = s.GetSignup(ctx, live.ID)
	must(t, err)
	if got.PasswordHash == "" {
		t.Error("the sweep dropped the password hash of a running registration")
	}
}

func testSignupLockOutsideTx(t *testing.T, s store.Store) {
	wantErr(t, "LockSignupAddress outside Tx", s.LockSignupAddress(ctxOf(t), "anna@example.be"), store.ErrNoTransaction)
	must(t, s.Tx(ctxOf(t), func(tx store.Store) error { return tx.LockSignupAddress(ctxOf(t), "anna@example.be") }))
}

func testAccountByEmail(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	anna := newAccount(t, s, "anna") // anna@example.be
	second := store.Account{Username: "anna2", Name: "Anna again", Email: "ANNA@example.be", Language: "fr", CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateAccount(ctx, &second))
	umlaut := store.Account{Username: "aenne", Name: "Änne", Email: "Änne@example.be", Language: "de", CreatedAt: t0, UpdatedAt: t0}
	must(t, s.CreateAccount(ctx, &umlaut))
	for _, tc := range []struct {
		email string
		want  int64 // 0: not found
	}{
		{"anna@example.be", anna.ID},
		{"Anna@EXAMPLE.BE", anna.ID}, // the oldest of the two
		{"Änne@example.be", umlaut.ID},
		{"ÄNNE@example.be", umlaut.ID},
		{"änne@example.be", 0}, // beyond ASCII, letter case counts (on every backend alike)
		{"bert@example.be", 0},
		{"anna@example.be ", 0},
	} {
		got, err := s.GetAccountByEmail(ctx, tc.email)
		if tc.want == 0 {
			wantErr(t, "GetAccountByEmail("+tc.email+")", err, store.ErrNotFound)
			continue
		}
		must(t, err)
		if got.ID != tc.want {
			t.Errorf("GetAccountByEmail(%q) = account %d (%s), want %d", tc.email, got.ID, got.Email, tc.want)
		}
	}
}

// testSignupConcurrentFinish: of concurrent finishes of one signup (two tabs, two nodes)
// exactly one wins.
func testSignupConcurrentFinish(t *testing.T, s store.Store) {
	su := newSignup(t, s, "anna@example.be", t0)
	var mu sync.Mutex
	won := 0
	race(racers, func(i int) {
		ok, err := s.FinishSignup(ctxOf(t), su.ID, at(time.Duration(i+1)*time.Second))
		if err != nil {
			t.Errorf("FinishSignup: %v", err)
			return
		}
		if ok {
			mu.Lock()
			won++
			mu.Unlock()
		}
	})
	if won != 1 {
		t.Errorf("signup finished %d times by %d concurrent callers, want exactly once", won, racers)
	}
}

// testSignupConcurrentLimit: transactions that lock an address, count its signups and add one
// below a limit — as several nodes registering the same address at once do — never add more
// than the limit, whatever letter case each uses; another address is not held up.
func testSignupConcurrentLimit(t *testing.T, s store.Store) {
	const limit = 3
	race(racers, func(i int) {
		addr := "anna@example.be"
		if i%2 == 1 {
			addr = strings.ToUpper(addr)
		}
		err := s.Tx(ctxOf(t), func(tx store.Store) error {
			if err := tx.LockSignupAddress(ctxOf(t), addr); err != nil {
				return err
			}
			times, err := tx.SignupTimesSince(ctxOf(t), addr, t0)
			if err != nil || len(times) >= limit {
				return err
			}
			su := store.Signup{Email: addr, Username: "u", Name: "N", Language: "nl", CodeHash: []byte{1},
				StartedAt: t0, EndsAt: at(time.Hour), CreatedAt: at(time.Duration(i) * time.Millisecond), ExpiresAt: at(time.Hour)}
			return tx.CreateSignup(ctxOf(t), &su)
		})
		if err != nil {
			t.Errorf("signup transaction: %v", err)
		}
	})
	times, err := s.SignupTimesSince(ctxOf(t), "anna@example.be", t0)
	must(t, err)
	if len(times) != limit {
		t.Errorf("%d signups of one address by %d concurrent transactions, want the limit %d", len(times), racers, limit)
	}
}
