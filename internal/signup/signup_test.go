package signup

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/password"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// world is a Service over a real store, with the logon test world's parts (its citizen Jan
// has jan@example.org).
type world struct {
	*logintest.World
	svc *Service
	db  store.Store
}

func newWorld(t testing.TB, db store.Store, passwords Passwords, mod func(*Config)) *world {
	t.Helper()
	w := logintest.New(t, db, logintest.Options{Kinds: []string{}})
	cfg := DefaultConfig()
	if mod != nil {
		mod(&cfg)
	}
	if passwords == nil {
		passwords = w.Passwords
	}
	quota, err := attempts.NewQuota(db, 1<<20, time.Hour, w.Clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(cfg, Deps{Store: db, Passwords: passwords, Hasher: w.Hasher, Mailer: w.Mail, Audit: w.Audit, Quota: quota,
		IPLimiter: attempts.New(db, attempts.Policy{Threshold: 1 << 20, Base: time.Minute, Max: time.Hour}, w.Clock.Now),
		Now:       w.Clock.Now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	return &world{World: w, svc: svc, db: db}
}

func form(username, email string) Form {
	return Form{Username: username, Name: "Citizen " + username, Email: email, Language: "en",
		Password: "a long and private passphrase", Confirm: "a long and private passphrase"}
}

var client = Client{IP: "192.0.2.44"}

// TestPendingJSON: the registration in progress survives the session's JSON; an incomplete
// one is refused rather than half restored.
func TestPendingJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := &Pending{id: 7, address: "a@example.org", username: "anna", sentAt: at, expiresAt: at.Add(5 * time.Minute),
		endsAt: at.Add(30 * time.Minute), verified: true}
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var got Pending
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if got != *p {
		t.Errorf("round trip: %+v, want %+v", got, *p)
	}
	for _, bad := range []string{`{}`, `{"id":7,"address":"a@example.org","username":"anna"}`, `{"id":0,"address":"x","username":"y","ends_at":"2026-01-02T03:04:05Z"}`, `[]`} {
		if err := json.Unmarshal([]byte(bad), &got); err == nil {
			t.Errorf("%s restored", bad)
		}
	}
}

// TestDecoyNeverRight: a registration of an address an account has sends no code, and no
// answer is right for it — not even one whose hash would match the stored hash.
func TestDecoyNeverRight(t *testing.T) {
	t.Parallel()
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		w := newWorld(t, db, nil, nil)
		ctx := context.Background()
		p, err := w.svc.Start(ctx, form("newbie", "JAN@example.org"), client)
		if err != nil {
			t.Fatal(err)
		}
		su, err := db.GetSignup(ctx, p.id)
		if err != nil || !su.Decoy {
			t.Fatalf("signup of a taken address: %+v, %v", su, err)
		}
		// Make the stored hash that of a known code: the decoy still refuses it.
		if err := db.Tx(ctx, func(tx store.Store) error {
			_, err := tx.FinishSignup(ctx, su.ID, w.Clock.Now())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		forged := su
		forged.ID, forged.DoneAt, forged.CodeHash = 0, time.Time{}, w.svc.codeHash(su.Email, "123456")
		if err := db.CreateSignup(ctx, &forged); err != nil {
			t.Fatal(err)
		}
		p.id = forged.ID
		if err := w.svc.CheckCode(ctx, p, "123456", client); !errors.Is(err, keys.ErrWrongCode) {
			t.Errorf("the decoy's own code: %v, want a wrong code", err)
		}
		if p.Verified() {
			t.Error("a decoy was verified")
		}
	})
}

// TestStartCostsTheSame: registering an address an account has does the same work as
// registering a free one — one password hash, the same store calls in the same order, one
// e-mail, one audit event — so the time of the answer says nothing about the address. The work
// is counted, not timed (BenchmarkStart measures both).
func TestStartCostsTheSame(t *testing.T) {
	t.Parallel()
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		rec := &recordingStore{Store: db}
		w := newWorld(t, rec, nil, nil)
		counting := &countingPasswords{Passwords: w.svc.passwords}
		w.svc.passwords = counting
		holder := store.Account{Username: "holder", Name: "Holder", Email: "holder@example.org", Language: "nl",
			CreatedAt: w.Clock.Now(), UpdatedAt: w.Clock.Now()}
		if err := db.CreateAccount(ctx, &holder); err != nil {
			t.Fatal(err)
		}
		work := func(username, email string) ([]string, int) {
			t.Helper()
			rec.reset()
			counting.hashes.Store(0)
			if _, err := w.svc.Start(ctx, form(username, email), client); err != nil {
				t.Fatal(err)
			}
			return rec.list(), int(counting.hashes.Load())
		}
		taken, takenHashes := work("newbie1", "holder@example.org")
		free, freeHashes := work("newbie2", "free@example.org")
		if takenHashes != 1 || freeHashes != 1 {
			t.Errorf("password hashes: %d for a taken address, %d for a free one; want 1 each", takenHashes, freeHashes)
		}
		if !slices.Equal(taken, free) {
			t.Errorf("store calls differ:\ntaken: %q\nfree:  %q", taken, free)
		}
		for _, want := range []string{"CreateSignup", "Enqueue", "AppendAudit"} {
			if n := countOf(free, want); n != 1 {
				t.Errorf("%s %d times, want once: %q", want, n, free)
			}
		}
	})
}

// countingPasswords counts the password hashes made.
type countingPasswords struct {
	Passwords
	hashes atomic.Int64
}

func (c *countingPasswords) Hash(ctx context.Context, plain string) (string, error) {
	c.hashes.Add(1)
	return c.Passwords.Hash(ctx, plain)
}

// recordingStore records the store calls a registration makes, in and out of transactions.
type recordingStore struct {
	store.Store
	mu    sync.Mutex
	calls []string
}

func (r *recordingStore) add(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, name)
}

func (r *recordingStore) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = nil
}

func (r *recordingStore) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

func (r *recordingStore) Tx(ctx context.Context, fn func(store.Store) error) error {
	r.add("Tx")
	return r.Store.Tx(ctx, func(tx store.Store) error { return fn(&recordingTx{Store: tx, rec: r}) })
}

func (r *recordingStore) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	r.add("AppendAudit")
	return r.Store.AppendAudit(ctx, e)
}

// recordingTx is a transaction of a recordingStore.
type recordingTx struct {
	store.Store
	rec *recordingStore
}

func (r *recordingTx) LockSignupAddress(ctx context.Context, email string) error {
	r.rec.add("LockSignupAddress")
	return r.Store.LockSignupAddress(ctx, email)
}

func (r *recordingTx) SignupTimesSince(ctx context.Context, email string, since time.Time) ([]time.Time, error) {
	r.rec.add("SignupTimesSince")
	return r.Store.SignupTimesSince(ctx, email, since)
}

func (r *recordingTx) GetAccountByEmail(ctx context.Context, email string) (store.Account, error) {
	r.rec.add("GetAccountByEmail")
	return r.Store.GetAccountByEmail(ctx, email)
}

func (r *recordingTx) CreateSignup(ctx context.Context, s *store.Signup) error {
	r.rec.add("CreateSignup")
	return r.Store.CreateSignup(ctx, s)
}

func (r *recordingTx) Enqueue(ctx context.Context, m *store.Message) error {
	r.rec.add("Enqueue")
	return r.Store.Enqueue(ctx, m)
}

func (r *recordingTx) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	r.rec.add("AppendAudit")
	return r.Store.AppendAudit(ctx, e)
}

func countOf(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

// BenchmarkStart: what registering a taken and a free address costs, with a password hash that
// outweighs the database work (the figures behind TestStartCostsTheSame's counts).
func BenchmarkStart(b *testing.B) {
	for _, backend := range sqltest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			db := backend.Open(b)
			ctx := context.Background()
			dear := password.New(password.Params{Memory: 8 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, 0, rand.Reader)
			w := newWorld(b, db, dear, func(c *Config) { c.PerEmail, c.Codes.MaxCodes = 1<<30, 1<<30 })
			holder := store.Account{Username: "holder", Name: "Holder", Email: "holder@example.org", Language: "nl",
				CreatedAt: w.Clock.Now(), UpdatedAt: w.Clock.Now()}
			if err := db.CreateAccount(ctx, &holder); err != nil {
				b.Fatal(err)
			}
			n := 0
			for _, c := range []struct{ name, email string }{{"taken", "holder@example.org"}, {"free", "free@example.org"}} {
				b.Run(c.name, func(b *testing.B) {
					for b.Loop() {
						n++
						if _, err := w.svc.Start(ctx, form(fmt.Sprintf("newbie%d", n), c.email), client); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// TestCompleteRollsBack: a username taken when the account is created leaves nothing written —
// not the account, not its events or e-mail, not the registration's end — so another username
// can follow; the refusal is audited.
func TestCompleteRollsBack(t *testing.T) {
	t.Parallel()
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		w := newWorld(t, db, nil, nil)
		ctx := context.Background()
		p, err := w.svc.Start(ctx, form("jan", "new.jan@example.org"), client)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.svc.CheckCode(ctx, p, mailedCode(t, db, "new.jan@example.org"), client); err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.Complete(ctx, db, p, client); !errors.Is(err, ErrUsernameTaken) {
			t.Fatalf("Complete with a taken username: %v", err)
		}
		su, err := db.GetSignup(ctx, p.id)
		if err != nil || !su.DoneAt.IsZero() || su.PasswordHash == "" {
			t.Errorf("signup after the refusal: %+v, %v; want it unfinished, with its hash", su, err)
		}
		ms, _ := db.ListMessages(ctx, 100)
		for _, m := range ms {
			if m.Template == "welcome" {
				t.Error("a welcome e-mail was written for an account that was not created")
			}
		}
		if err := w.svc.ChangeUsername(ctx, p, "jan.two", client); err != nil {
			t.Fatal(err)
		}
		acct, err := w.svc.Complete(ctx, db, p, client)
		if err != nil || acct.Username != "jan.two" || acct.Email != "new.jan@example.org" {
			t.Fatalf("Complete after another username: %+v, %v", acct, err)
		}
		if _, err := w.svc.Complete(ctx, db, p, client); !errors.Is(err, ErrDone) {
			t.Errorf("Complete again: %v, want ErrDone", err)
		}
		evs, _ := db.ListAudit(ctx, 0, 100)
		var types []string
		for _, e := range evs {
			types = append(types, e.Type+"/"+e.Reason)
		}
		if got := strings.Join(types, " "); !strings.Contains(got, "registration.failure/username_taken") ||
			strings.Count(got, "account.created/") != 1 {
			t.Errorf("audit events: %s", got)
		}
	})
}

// mailedCode is the code in the newest e-mail to address.
func mailedCode(t *testing.T, db store.Store, address string) string {
	t.Helper()
	ms, err := db.ListMessages(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.ToAddress == address && m.Template == "signup_code" {
			for _, line := range strings.Split(m.TextBody, "\n") {
				if l := strings.TrimSpace(line); len(l) == 6 && strings.Trim(l, "0123456789") == "" {
					return l
				}
			}
		}
	}
	t.Fatalf("no code e-mailed to %s", address)
	return ""
}
