package signup

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
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

func newWorld(t *testing.T, db store.Store, passwords Passwords, mod func(*Config)) *world {
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

// TestStartCostsTheSame: registering an address an account has takes as long as registering a
// free one (each hashes the password once, runs the same statements and writes one e-mail), so
// the time of the answer says nothing about the address. A measurement, not a performance
// target: pairs taken back to back, alternating which goes first, with a password hash that
// outweighs the database work by far — leaving it out of either path makes the median ratio
// of the pairs some 3–10×; the test fails only when each of a few rounds is outside 1.5×.
func TestStartCostsTheSame(t *testing.T) {
	sqltest.EachBackend(t, func(t *testing.T, b sqltest.Backend) {
		db := b.Open(t)
		ctx := context.Background()
		dear := password.New(password.Params{Memory: 8 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, 0, rand.Reader)
		w := newWorld(t, db, dear, func(c *Config) { c.PerEmail, c.Codes.MaxCodes = 1000, 1000 })
		const pairs = 16
		for i := range pairs * 3 {
			a := store.Account{Username: fmt.Sprintf("holder%d", i), Name: "Holder", Email: fmt.Sprintf("holder%d@example.org", i),
				Language: "nl", CreatedAt: w.Clock.Now(), UpdatedAt: w.Clock.Now()}
			if err := db.CreateAccount(ctx, &a); err != nil {
				t.Fatal(err)
			}
		}
		n := 0
		start := func(email string) time.Duration {
			t.Helper()
			n++
			begin := time.Now()
			_, err := w.svc.Start(ctx, form(fmt.Sprintf("newbie%d", n), email), client)
			took := time.Since(begin)
			if err != nil {
				t.Fatal(err)
			}
			return took
		}
		start("warm-up@example.org")
		start("holder0@example.org")
		for r := range 3 {
			var ratios []float64
			var taken, free []time.Duration
			for i := range pairs {
				holder, fresh := fmt.Sprintf("holder%d@example.org", r*pairs+i+1), fmt.Sprintf("free%d-%d@example.org", r, i)
				var tk, fr time.Duration
				if i%2 == 0 {
					tk, fr = start(holder), start(fresh)
				} else {
					fr, tk = start(fresh), start(holder)
				}
				taken, free = append(taken, tk), append(free, fr)
				ratios = append(ratios, float64(tk)/float64(fr))
			}
			slices.Sort(ratios)
			ratio := ratios[len(ratios)/2]
			t.Logf("round %d: median ratio taken/free %.2f (medians %s, %s)", r+1, ratio, median(taken), median(free))
			if ratio <= 1.5 && ratio >= 1/1.5 {
				return
			}
			if r == 2 {
				t.Errorf("registering a taken address takes %.2f× as long as a free one (median of %d pairs, 3 rounds), want the same", ratio, pairs)
			}
		}
	})
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
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
