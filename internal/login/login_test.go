package login_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/sleutelbos/sleutelbos/internal/clock"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/attempts"
	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	passwordkind "github.com/sleutelbos/sleutelbos/internal/keys/password"
	"github.com/sleutelbos/sleutelbos/internal/keys/tokencard"
	"github.com/sleutelbos/sleutelbos/internal/keys/totp"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/password"
	"github.com/sleutelbos/sleutelbos/internal/phaseout"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

const pw = "correct horse battery"

// fixture is one citizen with every key kind, and a Service over a real store.
type fixture struct {
	t      *testing.T
	st     store.Store
	clock  *clock.Fake
	svc    *login.Service
	acct   store.Account
	codes  [tokencard.Positions]string
	secret []byte
	ctx    context.Context
}

func newFixture(t *testing.T, db *sqlstore.DB, mutate func(*login.Config)) *fixture {
	t.Helper()
	return newFixtureWith(t, db, logintest.Options{Config: mutate})
}

// newFixtureWith is newFixture with the World's options.
func newFixtureWith(t *testing.T, db *sqlstore.DB, o logintest.Options) *fixture {
	t.Helper()
	w := logintest.New(t, db, o)
	return &fixture{t: t, st: db, clock: w.Clock, svc: w.Service, acct: w.Account, codes: w.CardCodes,
		secret: w.TOTPSecret, ctx: context.Background()}
}

// choose picks kind for tx, failing the test when the service refuses.
func (f *fixture) choose(tx *login.Transaction, kind string) {
	f.t.Helper()
	if err := f.svc.Choose(tx, kind); err != nil {
		f.t.Fatalf("Choose(%s): %v", kind, err)
	}
}

// key returns the citizen's key of kind as stored now, failing the test when there is none.
func (f *fixture) key(kind string) store.Key {
	f.t.Helper()
	ks, err := f.st.ListKeys(f.ctx, f.acct.ID)
	if err != nil {
		f.t.Fatalf("list keys: %v", err)
	}
	for _, k := range ks {
		if k.Kind == kind {
			return k
		}
	}
	f.t.Fatalf("the citizen has no %s key (keys: %+v)", kind, ks)
	return store.Key{}
}

// atCode runs a logon of kind up to the code step.
func (f *fixture) atCode(kind string) *login.Transaction {
	f.t.Helper()
	tx := f.svc.Start(keys.LevelSubstantial, "/")
	if err := f.svc.Choose(tx, kind); err != nil {
		f.t.Fatalf("Choose(%s): %v", kind, err)
	}
	if err := f.svc.SubmitPassword(f.ctx, tx, " jan ", pw, login.Client{IP: "192.0.2.1"}); err != nil {
		f.t.Fatalf("SubmitPassword: %v", err)
	}
	if tx.Step != login.StepCode {
		f.t.Fatalf("step = %s, want code", tx.Step)
	}
	return tx
}

// answer returns the right answer to tx's challenge.
func (f *fixture) answer(tx *login.Transaction) string {
	f.t.Helper()
	switch tx.Kind {
	case keys.TokenCard:
		pos, err := strconv.Atoi(tx.Challenge.Args[0])
		if err != nil {
			f.t.Fatal(err)
		}
		return f.codes[pos-1]
	case keys.TOTP:
		return totp.Code(f.secret, f.clock.Now())
	case keys.EmailCode:
		msgs, err := f.st.ListMessages(f.ctx, 1)
		if err != nil || len(msgs) == 0 {
			f.t.Fatalf("no e-mail in the outbox: %v", err)
		}
		code := regexp.MustCompile(`\b\d{6}\b`).FindString(msgs[0].TextBody)
		if code == "" {
			f.t.Fatalf("no code in %q", msgs[0].TextBody)
		}
		return code
	}
	f.t.Fatalf("no answer for %s", tx.Kind)
	return ""
}

func wrong(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

func TestLogon(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		t.Run("password only", func(t *testing.T) {
			f := newFixture(t, db, nil)
			tx := f.svc.Start(keys.LevelLow, "/back")
			if err := f.svc.Choose(tx, keys.Password); err != nil {
				t.Fatal(err)
			}
			if err := f.svc.SubmitPassword(f.ctx, tx, "JAN", pw, login.Client{IP: "192.0.2.1"}); err != nil {
				t.Fatal(err)
			}
			res, ok := f.svc.Result(tx)
			if !ok || res.AccountID != f.acct.ID || res.Level != keys.LevelLow || res.AuthTime.IsZero() {
				t.Fatalf("Result = %+v, %v", res, ok)
			}
		})
	})
}

func TestLogonEveryKind(t *testing.T) {
	sqltest.EachBackend(t, func(t *testing.T, b sqltest.Backend) {
		for _, kind := range []string{keys.TokenCard, keys.EmailCode, keys.TOTP} {
			t.Run(kind, func(t *testing.T) {
				// Each kind gets a store of its own (of this backend), so each subtest stands alone.
				f := newFixture(t, b.Open(t), nil)
				tx := f.atCode(kind)
				ans := f.answer(tx)
				err := f.svc.SubmitCode(f.ctx, tx, wrong(ans), login.Client{IP: "192.0.2.1"})
				if !keys.IsRetryable(err) {
					t.Fatalf("wrong code: got %v, want a retryable error", err)
				}
				if err := f.svc.SubmitCode(f.ctx, tx, "  "+ans+" ", login.Client{IP: "192.0.2.1"}); err != nil {
					t.Fatalf("right code with spaces: %v", err)
				}
				res, ok := f.svc.Result(tx)
				if !ok || res.Level != keys.LevelSubstantial || res.Kind != kind {
					t.Fatalf("Result = %+v, %v", res, ok)
				}
			})
		}
	})
}

func TestBadCredentialsLookAlike(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		var msgs []error
		for _, user := range []string{"jan", "nobody-here"} {
			tx := f.svc.Start(keys.LevelLow, "/")
			if err := f.svc.Choose(tx, keys.Password); err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, f.svc.SubmitPassword(f.ctx, tx, user, "wrong password!", login.Client{IP: "192.0.2.9"}))
		}
		for _, err := range msgs {
			if !errors.Is(err, login.ErrBadCredentials) {
				t.Errorf("got %v, want ErrBadCredentials", err)
			}
		}
		evs, err := db.ListAudit(f.ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		failures := 0
		for _, e := range evs {
			if e.Type == audit.LogonFailure && e.Reason == audit.ReasonBadCredentials {
				failures++
			}
		}
		if failures != 2 {
			t.Errorf("%d bad-credential audit events, want 2", failures)
		}
	})
}

func TestPasswordThrottle(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		try := func(p string) error {
			tx := f.svc.Start(keys.LevelLow, "/")
			if err := f.svc.Choose(tx, keys.Password); err != nil {
				t.Fatal(err)
			}
			return f.svc.SubmitPassword(f.ctx, tx, "jan", p, login.Client{IP: "192.0.2.1"})
		}
		for i := 0; i < 5; i++ {
			if err := try("nope nope nope"); !errors.Is(err, login.ErrBadCredentials) {
				t.Fatalf("failure %d: %v", i+1, err)
			}
		}
		if err := try(pw); !errors.Is(err, attempts.ErrThrottled) {
			t.Fatalf("after 5 failures the right password: got %v, want throttled", err)
		}
		f.clock.Advance(time.Minute)
		if err := try(pw); err != nil {
			t.Fatalf("after the throttle period: %v", err)
		}
	})
}

func TestCodeThrottleAndLockout(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, func(c *login.Config) { c.LockAfter = 7 })
		tx := f.atCode(keys.TOTP)
		ans := f.answer(tx)
		for i := 0; i < 5; i++ {
			if err := f.svc.SubmitCode(f.ctx, tx, wrong(ans), login.Client{IP: "192.0.2.1"}); !keys.IsRetryable(err) {
				t.Fatalf("failure %d: %v", i+1, err)
			}
		}
		if err := f.svc.SubmitCode(f.ctx, tx, ans, login.Client{IP: "192.0.2.1"}); !errors.Is(err, attempts.ErrThrottled) {
			t.Fatalf("6th try: got %v, want throttled", err)
		}
		f.clock.Advance(time.Minute)
		if err := f.svc.SubmitCode(f.ctx, tx, wrong(ans), login.Client{IP: "192.0.2.1"}); !keys.IsRetryable(err) {
			t.Fatalf("failure 6: %v", err)
		}
		f.clock.Advance(2 * time.Minute)
		err := f.svc.SubmitCode(f.ctx, tx, wrong(ans), login.Client{IP: "192.0.2.1"})
		var le *i18n.LocalizedError
		if !errors.As(err, &le) || le.Key != "login.error.key_locked" {
			t.Fatalf("7th failure: got %v, want key_locked", err)
		}
		if k := f.key(keys.TOTP); k.Status != store.KeyLocked || k.DeactivationCause != "lockout" {
			t.Errorf("totp key status %s (cause %q), want locked by lockout", k.Status, k.DeactivationCause)
		}
		// A new logon with the locked kind is refused after the password.
		f.clock.Advance(time.Hour)
		tx = f.svc.Start(keys.LevelSubstantial, "/")
		f.choose(tx, keys.TOTP)
		err = f.svc.SubmitPassword(f.ctx, tx, "jan", pw, login.Client{IP: "192.0.2.1"})
		if !errors.As(err, &le) || le.Key != "login.error.key_locked" {
			t.Fatalf("logon with a locked key: got %v", err)
		}
	})
}

func TestEmailCodeExpiryAndResend(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		tx := f.atCode(keys.EmailCode)
		old := f.answer(tx)
		f.clock.Advance(5 * time.Minute)
		if err := f.svc.SubmitCode(f.ctx, tx, old, login.Client{IP: "192.0.2.1"}); !errors.Is(err, keys.ErrCodeExpired) {
			t.Fatalf("expired code: got %v", err)
		}
		if err := f.svc.Resend(f.ctx, tx, login.Client{IP: "192.0.2.1"}); err != nil {
			t.Fatalf("resend: %v", err)
		}
		if err := f.svc.Resend(f.ctx, tx, login.Client{IP: "192.0.2.1"}); err != nil {
			t.Fatalf("second resend: %v", err)
		}
		if err := f.svc.Resend(f.ctx, tx, login.Client{IP: "192.0.2.1"}); !errors.Is(err, keys.ErrResendLimit) {
			t.Fatalf("fourth code in 15 minutes: got %v, want ErrResendLimit", err)
		}
		if err := f.svc.SubmitCode(f.ctx, tx, f.answer(tx), login.Client{IP: "192.0.2.1"}); err != nil {
			t.Fatalf("newest code: %v", err)
		}
	})
}

func TestNoKeyAndExpiry(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		if err := db.SetKeyStatus(f.ctx, f.key(keys.TokenCard).ID, store.KeyDeactivated, "citizen", f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		tx := f.svc.Start(keys.LevelSubstantial, "/")
		if err := f.svc.Choose(tx, keys.TokenCard); err != nil {
			t.Fatal(err)
		}
		err := f.svc.SubmitPassword(f.ctx, tx, "jan", pw, login.Client{IP: "192.0.2.1"})
		var le *i18n.LocalizedError
		if !errors.As(err, &le) || le.Key != "login.error.no_key" || tx.Step != login.StepChoose {
			t.Fatalf("deactivated card: got %v at step %s, want no_key back at the chooser", err, tx.Step)
		}
		// A wrong password with a missing key still says only "bad credentials".
		tx = f.svc.Start(keys.LevelSubstantial, "/")
		f.choose(tx, keys.TokenCard)
		if err := f.svc.SubmitPassword(f.ctx, tx, "jan", "wrong wrong wrong", login.Client{IP: "192.0.2.1"}); !errors.Is(err, login.ErrBadCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
		tx = f.svc.Start(keys.LevelSubstantial, "/")
		f.clock.Advance(15 * time.Minute)
		if err := f.svc.Choose(tx, keys.TOTP); !errors.Is(err, login.ErrExpired) {
			t.Fatalf("after 15 minutes: got %v, want ErrExpired", err)
		}
	})
}

func TestChoices(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		names := func(cs []login.Choice) (out []string) {
			for _, c := range cs {
				out = append(out, c.Kind)
			}
			return out
		}
		if got := names(f.svc.Choices(f.svc.Start(keys.LevelLow, "/"))); len(got) != 4 || got[0] != keys.Password {
			t.Errorf("low: %v", got)
		}
		sub := f.svc.Start(keys.LevelSubstantial, "/")
		if got := names(f.svc.Choices(sub)); len(got) != 3 {
			t.Errorf("substantial: %v", got)
		}
		if err := f.svc.Choose(sub, keys.Password); !errors.Is(err, login.ErrUnknownKind) {
			t.Errorf("choosing password for substantial: %v", err)
		}
		if err := f.svc.SubmitCode(f.ctx, sub, "123456", login.Client{}); !errors.Is(err, login.ErrOutOfOrder) {
			t.Errorf("code before password: %v", err)
		}
	})
}

// TestRehashOnLogon upgrades a hash made with other parameters at the next successful logon.
func TestRehashOnLogon(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		old := password.New(password.Params{Memory: 32, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 0, rand.Reader)
		h, err := old.Hash(f.ctx, pw)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.UpdatePasswordHash(f.ctx, f.acct.ID, h, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		tx := f.svc.Start(keys.LevelLow, "/")
		f.choose(tx, keys.Password)
		if err := f.svc.SubmitPassword(f.ctx, tx, "jan", pw, login.Client{IP: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
		a, err := db.GetAccount(f.ctx, f.acct.ID)
		if err != nil {
			t.Fatal(err)
		}
		if a.PasswordHash == h || !regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$`).MatchString(a.PasswordHash) {
			t.Errorf("hash not upgraded: %s", a.PasswordHash)
		}
	})
}

// countingVerifier counts the argon2id work a logon does.
type countingVerifier struct {
	login.PasswordVerifier
	mu               sync.Mutex
	verify, equalize int
}

func (c *countingVerifier) Verify(ctx context.Context, encoded, plain string) (bool, bool, error) {
	c.mu.Lock()
	c.verify++
	c.mu.Unlock()
	return c.PasswordVerifier.Verify(ctx, encoded, plain)
}

func (c *countingVerifier) Equalize(ctx context.Context, plain string) {
	c.mu.Lock()
	c.equalize++
	c.mu.Unlock()
	c.PasswordVerifier.Equalize(ctx, plain)
}

// TestUnknownUserCostsAHash: an unknown username costs one password hash, exactly like a
// wrong password, so response times do not reveal which usernames exist.
func TestUnknownUserCostsAHash(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		clk := clock.NewFake(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
		cv := &countingVerifier{PasswordVerifier: password.New(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 0, rand.Reader)}
		reg, err := keys.NewRegistry(passwordkind.New())
		if err != nil {
			t.Fatal(err)
		}
		svc, err := login.New(login.DefaultConfig(), login.Deps{Store: db, Kinds: reg, Passwords: cv,
			Limiter: attempts.New(db, attempts.DefaultPolicy(), clk.Now), IPLimiter: attempts.New(db, attempts.DefaultPolicy(), clk.Now),
			ScopeHasher: mustHasher(t), Audit: audit.New(clk.Now, nil), Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		// (An empty username is no attempt at all: TestEmptyFieldsAreNoAttempt.)
		for _, user := range []string{"nobody", "\x00", strings.Repeat("x", 10000)} {
			tx := svc.Start(keys.LevelLow, "/")
			if err := svc.Choose(tx, keys.Password); err != nil {
				t.Fatal(err)
			}
			if err := svc.SubmitPassword(context.Background(), tx, user, "whatever it is", login.Client{IP: "192.0.2.7"}); !errors.Is(err, login.ErrBadCredentials) {
				t.Fatalf("user %.10q: %v", user, err)
			}
		}
		if cv.equalize != 3 || cv.verify != 0 {
			t.Errorf("unknown users: %d equalizing hashes and %d verifications, want 3 and 0", cv.equalize, cv.verify)
		}
	})
}

// TestParallelGuessesAreLimited: a burst of parallel wrong answers gets exactly as many checks
// as the throttle allows (5), for the password and for a key's codes — counting each attempt
// before it is checked, not after.
func TestParallelGuessesAreLimited(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		burst := func(try func() error) (checked, throttled int) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			for i := 0; i < 40; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := try()
					mu.Lock()
					defer mu.Unlock()
					switch {
					case errors.Is(err, attempts.ErrThrottled):
						throttled++
					case errors.Is(err, login.ErrBadCredentials), keys.IsRetryable(err):
						checked++ // compared and found wrong
					case err != nil:
						t.Errorf("a guess failed for another reason: %v", err)
					default:
						t.Error("a wrong answer was accepted")
					}
				}()
			}
			wg.Wait()
			return checked, throttled
		}
		checked, throttled := burst(func() error {
			tx := f.svc.Start(keys.LevelLow, "/")
			if err := f.svc.Choose(tx, keys.Password); err != nil {
				return fmt.Errorf("choose: %w", err)
			}
			return f.svc.SubmitPassword(f.ctx, tx, "jan", "not the password", login.Client{IP: "192.0.2.50"})
		})
		if checked != 5 || throttled != 35 {
			t.Errorf("password burst: %d checked, %d throttled; want 5 and 35", checked, throttled)
		}
		f.clock.Advance(time.Hour)
		tx := f.atCode(keys.TOTP)
		bad := wrong(f.answer(tx))
		checked, throttled = burst(func() error {
			c := *tx // each request carries the same transaction, as parallel posts of one session do
			return f.svc.SubmitCode(f.ctx, &c, bad, login.Client{IP: "192.0.2.51"})
		})
		if checked != 5 || throttled != 35 {
			t.Errorf("code burst: %d checked, %d throttled; want 5 and 35", checked, throttled)
		}
	})
}

// TestParallelRightPasswordsAllAccepted: 16 parallel logons with the right password on one
// username and from one address (throttle threshold 5) all get through: reservations still
// being checked do not refuse a right password as "too many attempts" (issue 11).
func TestParallelRightPasswordsAllAccepted(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				tx := f.svc.Start(keys.LevelLow, "/")
				if err := f.svc.Choose(tx, keys.Password); err != nil {
					t.Errorf("choose: %v", err)
					return
				}
				if err := f.svc.SubmitPassword(f.ctx, tx, "jan", pw, login.Client{IP: "192.0.2.60"}); err != nil {
					t.Errorf("a right password was refused: %v", err)
				}
			})
		}
		wg.Wait()
	})
}

// TestKindSwitchedOffMidLogon: a kind the policy stops offering (phased out) while a logon is
// under way is refused at every later step with the "you do not have this key" message.
func TestKindSwitchedOffMidLogon(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		var mu sync.Mutex
		off := map[string]bool{}
		phases := login.PhaseFunc(func(kind string, _ time.Time) phaseout.Phase {
			mu.Lock()
			defer mu.Unlock()
			if off[kind] {
				return phaseout.Disabled
			}
			return phaseout.Normal
		})
		f := newFixtureWith(t, db, logintest.Options{Deps: func(d *login.Deps) { d.Phases = phases }})
		noKey := func(err error) bool {
			var le *i18n.LocalizedError
			return errors.As(err, &le) && le.Key == "login.error.no_key"
		}

		tx := f.svc.Start(keys.LevelSubstantial, "/")
		if err := f.svc.Choose(tx, keys.TokenCard); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		off[keys.TokenCard] = true
		mu.Unlock()
		if err := f.svc.SubmitPassword(f.ctx, tx, "jan", pw, login.Client{IP: "192.0.2.1"}); !noKey(err) || tx.Step != login.StepChoose {
			t.Fatalf("password step after switch-off: %v at %s", err, tx.Step)
		}
		for _, c := range f.svc.Choices(tx) {
			if c.Kind == keys.TokenCard {
				t.Error("a switched-off kind is still on the chooser")
			}
		}
		if err := f.svc.Choose(tx, keys.TokenCard); !noKey(err) {
			t.Errorf("choosing a switched-off kind: %v, want the no-key message", err)
		}

		mu.Lock()
		off[keys.TokenCard] = false
		mu.Unlock()
		tx = f.atCode(keys.TokenCard)
		mu.Lock()
		off[keys.TokenCard] = true
		mu.Unlock()
		if err := f.svc.SubmitCode(f.ctx, tx, f.answer(tx), login.Client{IP: "192.0.2.1"}); !noKey(err) {
			t.Fatalf("code step after switch-off: %v", err)
		}
	})
}

// TestNothingComparedNothingCounted: answering a superseded token card position (a second tab
// was asked the same position, answered it, and a newer logon asks another) tells the citizen,
// but counts no failure.
func TestNothingComparedNothingCounted(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		old := f.atCode(keys.TokenCard)
		staleAnswer := f.answer(old)
		tab := f.atCode(keys.TokenCard) // asked the same, still unanswered position
		if err := f.svc.SubmitCode(f.ctx, tab, f.answer(tab), login.Client{IP: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
		_ = f.atCode(keys.TokenCard) // a newer logon asks another position
		if err := f.svc.SubmitCode(f.ctx, old, staleAnswer, login.Client{IP: "192.0.2.1"}); !errors.Is(err, keys.ErrCodeExpired) {
			t.Fatalf("superseded position: %v", err)
		}
		a, err := db.GetAttempt(f.ctx, string(attempts.FactorScope(old.KeyID)))
		if err != nil {
			t.Fatal(err)
		}
		if a.Failures != 0 {
			t.Errorf("a superseded answer counted %d failures", a.Failures)
		}
	})
}

// TestControlCharactersInUsername: a NUL or other control character is an unknown username,
// not a database error (PostgreSQL refuses NUL in text).
func TestControlCharactersInUsername(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		for _, u := range []string{"jan\x00", "j\nan", "\x1b[31mjan"} {
			tx := f.svc.Start(keys.LevelLow, "/")
			f.choose(tx, keys.Password)
			if err := f.svc.SubmitPassword(f.ctx, tx, u, pw, login.Client{IP: "192.0.2.1"}); !errors.Is(err, login.ErrBadCredentials) {
				t.Errorf("username %q: %v, want ErrBadCredentials", u, err)
			}
		}
	})
}

// failingRehash is a store whose UpdatePasswordHash fails.
type failingRehash struct{ login.Store }

func (failingRehash) UpdatePasswordHash(context.Context, int64, string, time.Time) error {
	return errors.New("database is read-only")
}

// failingHash is a password verifier whose Hash fails.
type failingHash struct{ login.PasswordVerifier }

func (failingHash) Hash(context.Context, string) (string, error) {
	return "", errors.New("out of memory")
}

// TestRehashFailureKeepsLogon: upgrading an old password hash is housekeeping. When hashing or
// storing the new hash fails, the correct logon still succeeds, the old hash stays, and a
// warning is logged.
func TestRehashFailureKeepsLogon(t *testing.T) {
	for name, breakIt := range map[string]func(*login.Deps){
		"store fails": func(d *login.Deps) { d.Store = failingRehash{d.Store} },
		"hash fails":  func(d *login.Deps) { d.Passwords = failingHash{d.Passwords} },
	} {
		t.Run(name, func(t *testing.T) {
			sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
				var logs strings.Builder
				w := logintest.New(t, db, logintest.Options{Deps: func(d *login.Deps) {
					breakIt(d)
					d.Log = slog.New(slog.NewTextHandler(&logs, nil))
				}})
				ctx := context.Background()
				old := password.New(password.Params{Memory: 32, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 0, rand.Reader)
				h, err := old.Hash(ctx, pw)
				if err != nil {
					t.Fatal(err)
				}
				if err := db.UpdatePasswordHash(ctx, w.Account.ID, h, w.Clock.Now()); err != nil {
					t.Fatal(err)
				}
				tx := w.Service.Start(keys.LevelLow, "/")
				if err := w.Service.Choose(tx, keys.Password); err != nil {
					t.Fatal(err)
				}
				if err := w.Service.SubmitPassword(ctx, tx, "jan", pw, login.Client{IP: "192.0.2.1"}); err != nil {
					t.Fatalf("correct password with a failing rehash: %v", err)
				}
				if res, ok := w.Service.Result(tx); !ok || res.AccountID != w.Account.ID {
					t.Fatalf("Result = %+v, %v; want the logon done", res, ok)
				}
				a, err := db.GetAccount(ctx, w.Account.ID)
				if err != nil {
					t.Fatal(err)
				}
				if a.PasswordHash != h {
					t.Errorf("hash changed to %s although the rehash failed", a.PasswordHash)
				}
				want := fmt.Sprintf(`level=WARN msg="rehash password on logon" account_id=%d`, w.Account.ID)
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, logs.String())
				}
				if strings.Contains(logs.String(), pw) {
					t.Errorf("log holds the password:\n%s", logs.String())
				}
			})
		})
	}
}

// TestKeyLockedAtLockoutCount: with the default rules a key is locked by its 100th consecutive
// wrong code (attempts.KeyLockoutFailures) and not one earlier, however patiently the guesser
// waits out each throttle and starts new logons.
func TestKeyLockedAtLockoutCount(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		guess := func() error {
			t.Helper()
			tx := f.atCode(keys.TokenCard) // a fresh logon: a transaction lives 15 minutes
			return f.svc.SubmitCode(f.ctx, tx, wrong(f.answer(tx)), login.Client{IP: "192.0.2.1"})
		}
		for i := 1; i < attempts.KeyLockoutFailures; i++ {
			if err := guess(); !keys.IsRetryable(err) {
				t.Fatalf("wrong code %d: %v, want a retryable error", i, err)
			}
			f.clock.Advance(time.Hour) // the longest throttle
		}
		if k := f.key(keys.TokenCard); k.Status != store.KeyActive {
			t.Fatalf("after %d wrong codes the card is %s, want still active", attempts.KeyLockoutFailures-1, k.Status)
		}
		err := guess()
		var le *i18n.LocalizedError
		if !errors.As(err, &le) || le.Key != "login.error.key_locked" {
			t.Fatalf("wrong code %d: %v, want key_locked", attempts.KeyLockoutFailures, err)
		}
		if k := f.key(keys.TokenCard); k.Status != store.KeyLocked || k.DeactivationCause != "lockout" {
			t.Errorf("card %s (cause %q), want locked by lockout", k.Status, k.DeactivationCause)
		}
	})
}

// TestBoundLogon: a logon started for a logged-on citizen (a step-up) refuses another
// citizen's right username and password, and then logs on the bound citizen.
func TestBoundLogon(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		other := logintest.New(t, db, logintest.Options{Citizen: logintest.Citizen{Username: "piet", Name: "Piet Janssens",
			Email: "piet@example.org", Language: "nl", Password: "another good passphrase"}})
		tx := f.svc.StartFor(keys.LevelSubstantial, "/oidc/continue?id=x", f.acct.ID)
		if err := f.svc.Choose(tx, keys.TokenCard); err != nil {
			t.Fatal(err)
		}
		err := f.svc.SubmitPassword(f.ctx, tx, "piet", "another good passphrase", login.Client{IP: "192.0.2.1"})
		if !errors.Is(err, login.ErrOtherAccount) {
			t.Fatalf("another citizen's password: got %v, want ErrOtherAccount", err)
		}
		if tx.Step != login.StepPassword || tx.AccountID == other.Account.ID {
			t.Fatalf("after the other citizen's password: step %s, account %d", tx.Step, tx.AccountID)
		}
		events, err := f.st.ListAudit(f.ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if e := events[len(events)-1]; e.Type != audit.LogonFailure || e.Reason != audit.ReasonOtherAccount || e.AccountID != other.Account.ID {
			t.Errorf("last audit event = %+v, want a logon failure for the other account", e)
		}
		// A wrong password for the other citizen is still just a bad credential.
		if err := f.svc.SubmitPassword(f.ctx, tx, "piet", "wrong", login.Client{IP: "192.0.2.1"}); !errors.Is(err, login.ErrBadCredentials) {
			t.Errorf("wrong password: %v", err)
		}
		f.svc.Back(tx)
		if tx.BoundAccountID != f.acct.ID {
			t.Fatalf("Back forgot the bound citizen")
		}
		if err := f.svc.Choose(tx, keys.TokenCard); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.SubmitPassword(f.ctx, tx, "jan", pw, login.Client{IP: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.SubmitCode(f.ctx, tx, f.answer(tx), login.Client{IP: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
		if res, ok := f.svc.Result(tx); !ok || res.AccountID != f.acct.ID || res.Level != keys.LevelSubstantial {
			t.Fatalf("Result = %+v, %v", res, ok)
		}
	})
}

// TestPasswordScopeIsKeyed: the throttle counter of a typed username is stored under a keyed
// hash of it. People sometimes type their password as the username, and an unkeyed hash of it
// in the attempts table could be found again by hashing guesses.
func TestPasswordScopeIsKeyed(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		typed := "Hunter2-Typed-As-Username"
		tx := f.svc.Start(keys.LevelLow, "/")
		f.choose(tx, keys.Password)
		if err := f.svc.SubmitPassword(f.ctx, tx, typed, "not it", login.Client{IP: "192.0.2.1"}); !errors.Is(err, login.ErrBadCredentials) {
			t.Fatalf("SubmitPassword: %v, want ErrBadCredentials", err)
		}
		rows, err := db.SQL().QueryContext(f.ctx, `SELECT scope, failures FROM attempts WHERE scope LIKE 'pwd:%'`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var scopes []string
		for rows.Next() {
			var scope string
			var failures int
			if err := rows.Scan(&scope, &failures); err != nil {
				t.Fatal(err)
			}
			if failures != 1 {
				t.Errorf("password counter %s: %d failures, want 1", scope, failures)
			}
			scopes = append(scopes, scope)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if len(scopes) != 1 {
			t.Fatalf("password counters %v, want one", scopes)
		}
		for _, guess := range []string{typed, strings.ToLower(typed)} {
			if scopes[0] == string(attempts.PasswordScope(guess)) {
				t.Errorf("the password counter %s is an unkeyed hash of the typed username", scopes[0])
			}
		}
	})
}

func mustHasher(t *testing.T) *secrets.Hasher {
	t.Helper()
	h, err := secrets.NewHasher(bytes.Repeat([]byte{7}, secrets.MinHashKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestResendLimitAfterPassword: when the e-mail code limit (3 per 15 minutes) is reached right
// after a correct password, the password stays accepted: the logon waits at the code step,
// says how long, and continues with "send a new code" once the oldest code left the window.
func TestResendLimitAfterPassword(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		f := newFixture(t, db, nil)
		start := f.clock.Now()
		for range 3 { // three logons, a code each, at 0, 2 and 4 minutes
			f.atCode(keys.EmailCode)
			f.clock.Advance(2 * time.Minute)
		}
		// 6 minutes: the first code leaves the window at 15.
		tx := f.svc.Start(keys.LevelSubstantial, "/")
		f.choose(tx, keys.EmailCode)
		c := login.Client{IP: "192.0.2.1"}
		err := f.svc.SubmitPassword(f.ctx, tx, "jan", pw, c)
		var limit *keys.ResendLimitError
		if !errors.As(err, &limit) || limit.Minutes() != 9 {
			t.Fatalf("SubmitPassword over the code limit: %v, want a wait of 9 minutes", err)
		}
		if tx.Step != login.StepCode || !tx.Waiting() || tx.AccountID != f.acct.ID || !tx.ResendAt.Equal(start.Add(15*time.Minute)) {
			t.Fatalf("transaction %+v: want waiting at the code step until %v", tx, start.Add(15*time.Minute))
		}
		if err := f.svc.SubmitCode(f.ctx, tx, "123456", c); !errors.Is(err, login.ErrNoCode) {
			t.Errorf("a code answered while waiting: %v, want ErrNoCode", err)
		}
		f.clock.Advance(4 * time.Minute)
		if err := f.svc.Resend(f.ctx, tx, c); !errors.As(err, &limit) || limit.Minutes() != 5 {
			t.Errorf("send a new code at 10 minutes: %v, want a wait of 5 minutes", err)
		}
		if !tx.Waiting() {
			t.Error("no longer waiting after a refused new code")
		}
		f.clock.Set(start.Add(15*time.Minute + time.Second))
		if err := f.svc.Resend(f.ctx, tx, c); err != nil {
			t.Fatalf("send a new code after the wait: %v", err)
		}
		if tx.Waiting() || !tx.ResendAt.IsZero() {
			t.Errorf("still waiting after a new code was sent: %+v", tx)
		}
		if err := f.svc.SubmitCode(f.ctx, tx, f.answer(tx), c); err != nil || tx.Step != login.StepDone {
			t.Errorf("the new code: %v, step %s", err, tx.Step)
		}
	})
}
