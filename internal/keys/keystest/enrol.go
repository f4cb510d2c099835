package keystest

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// EnrolStore is what RunEnroller hands a kind (keys.Store, in a transaction of it where the
// portal would open one) and reads back from: the account's keys and messages, and accounts to
// create for the binding check. The suite creates the returned key itself, as the portal does.
type EnrolStore interface {
	keys.Store
	CreateAccount(ctx context.Context, a *store.Account) error
	CreateKey(ctx context.Context, k *store.Key) error
	GetKey(ctx context.Context, id int64) (store.Key, error)
	ListKeys(ctx context.Context, accountID int64) ([]store.Key, error)
	MessageLister
}

var _ EnrolStore = store.Store(nil)

// EnrolFixture is one subtest's world for RunEnroller: a store, the kind under test wired to
// Clock, and an account without keys.
type EnrolFixture struct {
	Kind    keys.Enroller
	Store   EnrolStore
	Clock   *Clock
	Account store.Account
	// Answer returns the right answer to e now (the e-mailed code, the app's current code);
	// view is what the activation page shows of e.
	Answer func(t *testing.T, e keys.Enrolment, view keys.EnrolmentView) string
	// LogonAnswer, for a kind that is also a Challenger, returns the right answer to ch for the
	// key the enrolment created; view is the page's view of that enrolment.
	LogonAnswer func(t *testing.T, view keys.EnrolmentView, ch keys.Challenge) string
}

// EnrolHarness describes an Enroller to RunEnroller.
type EnrolHarness struct {
	// Setup returns a fresh fixture; it is called once per subtest.
	Setup func(t *testing.T) EnrolFixture
	// SingleUse: the kind itself accepts a right answer once only, also under concurrency (an
	// e-mailed code). Kinds without it rely on the portal's single-use enrolment token.
	SingleUse bool
}

// RunEnroller runs the behaviour every Enroller must show, one subtest per rule, each with a
// fresh fixture: begin in the caller's transaction, a typed view, no secret in the enrolment,
// the key returned (not stored) for a right answer, wrong answers retryable, malformed answers
// refused before any check, expiry, binding to the account, and — where promised — single use
// and resending.
func RunEnroller(t *testing.T, h EnrolHarness) {
	t.Helper()
	ctx := context.Background()
	begin := func(t *testing.T, f EnrolFixture) (keys.Enrolment, keys.EnrolmentView) {
		t.Helper()
		var e keys.Enrolment
		err := store.InTx(ctx, f.Store, func(tx keys.Store) error {
			var err error
			e, err = f.Kind.BeginEnrolment(ctx, tx, f.Account)
			return err
		})
		if err != nil {
			t.Fatalf("BeginEnrolment: %v", err)
		}
		v, err := f.Kind.ViewEnrolment(f.Account, e)
		if err != nil {
			t.Fatalf("ViewEnrolment: %v", err)
		}
		return e, v
	}
	check := func(f EnrolFixture, acct store.Account, e keys.Enrolment, answer string) (store.Key, error) {
		norm, err := f.Kind.NormalizeAnswer(answer)
		if err != nil {
			return store.Key{}, err
		}
		return f.Kind.CheckEnrolment(ctx, f.Store, acct, e, norm)
	}
	noKeys := func(t *testing.T, f EnrolFixture) {
		t.Helper()
		ks, err := f.Store.ListKeys(ctx, f.Account.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ks) != 0 {
			t.Errorf("the kind stored %d key(s); the portal creates the key", len(ks))
		}
	}

	t.Run("Describes", func(t *testing.T) {
		t.Parallel()
		f := h.Setup(t)
		if n := f.Kind.Name(); n == "" || n == keys.Password || n == keys.TokenCard {
			t.Errorf("Name() = %q: password and token cards are never activated in the portal", n)
		}
		if !f.Kind.Level().Meets(keys.LevelSubstantial) {
			t.Errorf("Level() = %v, want at least substantial", f.Kind.Level())
		}
	})

	t.Run("Begins", func(t *testing.T) {
		t.Parallel()
		f := h.Setup(t)
		e, v := begin(t, f)
		now := f.Clock.Now()
		if e.Kind != f.Kind.Name() || !e.StartedAt.Equal(now) || !e.ExpiresAt.After(now) || e.Expired(now) {
			t.Errorf("enrolment %+v at %v: want kind %q, started now, expiring later", e, now, f.Kind.Name())
		}
		email := v.Address != "" && v.CodeMinutes > 0
		app := v.URI != "" && v.Secret != "" && v.WindowSeconds > 0
		if email == app {
			t.Errorf("view %+v: want either an address and minutes, or a URI, secret and window", v)
		}
		noKeys(t, f)
	})

	t.Run("BeginRollsBackWithTheCaller", func(t *testing.T) {
		t.Parallel()
		f := h.Setup(t)
		before, err := f.Store.ListMessages(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		abort := errors.New("abort")
		err = store.InTx(ctx, f.Store, func(tx keys.Store) error {
			if _, err := f.Kind.BeginEnrolment(ctx, tx, f.Account); err != nil {
				return err
			}
			return abort
		})
		if !errors.Is(err, abort) {
			t.Fatalf("Tx = %v, want %v", err, abort)
		}
		after, err := f.Store.ListMessages(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(before) {
			t.Errorf("%d e-mails after a rolled-back begin, want %d", len(after), len(before))
		}
	})

	t.Run("HoldsNoSecret", func(t *testing.T) {
		t.Parallel()
		f := h.Setup(t)
		e, v := begin(t, f)
		raw, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if ans := f.Answer(t, e, v); strings.Contains(string(raw), ans) {
			t.Errorf("enrolment %s contains its answer %q", raw, ans)
		}
		if s := strings.ReplaceAll(v.Secret, " ", ""); s != "" && strings.Contains(string(raw), s) {
			t.Errorf("enrolment %s contains the secret in the clear", raw)
		}
	})

	t.Run("RightAnswerReturnsTheKey", func(t *testing.T) {
		t.Parallel()
		f := h.Setup(t)
		e, v := begin(t, f)
		key, err := check(f, f.Account, e, f.Answer(t, e, v))
		if err != nil {
			t.Fatalf("CheckEnrolment(right answer) = %v", err)
		}
		now := f.Clock.Now()
		if key.ID != 0 || key.AccountID != f.Account.ID || key.Kind != f.Kind.Name() || key.Status != store.KeyActive ||
			!key.ActivatedAt.Equal(now) || !key.CreatedAt.Equal(now) {
			t.Errorf("key %+v: want an unstored active %s key of account %d activated now", key, f.Kind.Name(), f.Account.ID)
		}
		noKeys(t, f)
	})

	t.Run("KeyLogsOn", func(t *testing.T) {
		t.Parallel()
		f := h.Setup(t)
		ch, ok := f.Kind.(keys.Challenger)
		if !ok {
			t.Skip("not a Challenger")
		}
		if f.LogonAnswer == nil {
			t.Fatal("the kind is a Challenger: the fixture must give LogonAnswer")
		}
		e, v := begin(t, f)
		key, err := check(f, f.Account, e, f.Answer(t, e, v))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Store.CreateKey(ctx, &key); err != nil {
			t.Fatal(err)
		}
		f.Clock.Advance(time.Minute) // past the registration code's time step
		c, err := ch.Begin(ctx, f.Store, f.Account, key)
		if err != nil {
			t.Fatalf("Begin with the new key: %v", err)
		}
		stored, err := f.Store.GetKey(ctx, key.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.Verify(ctx, f.Store, f.Account, stored, c, f.LogonAnswer(t, v, c)); err != nil {
			t.Errorf("logon with the new key: %v", err)
		}
	})

	t.Run("WrongAnswerIsRetryable", func(t *testing.T) {
		t.Parallel()
		f := h.Setup(t)
		e, v := begin(t, f)
		right := f.Answer(t, e, v)
		if _, err := check(f, f.Account, e, wrongAnswer(right)); !errors.Is(err, keys.ErrWrongCode) || !keys.IsRetryable(err) {
			t.Errorf("wrong answer: %v, want %v", err, keys.ErrWrongCode)
		}
		if _, err := check(f, f.Account, e, right); err != nil {
			t.Errorf("right answer after a wrong one: %v", err)
		}
	})

	t.Run("MalformedAnswersAreRefusedBeforeTheCheck", func(t *testing.T) {
		t.Parallel()
		f := h.Setup(t)
		e, v := begin(t, f)
		right := f.Answer(t, e, v)
		for _, bad := range []string{"", "   ", right[:len(right)-1], right + "0", right[:len(right)-1] + "x", "abcdef", "１２３４５６"} {
			if _, err := f.Kind.NormalizeAnswer(bad); !keys.IsFormatError(err) {
				t.Errorf("NormalizeAnswer(%s) = %v, want a format error (%v or %v)", strconv.Quote(bad), err, keys.ErrCodeEmpty, keys.ErrCodeFormat)
			}
		}
		spaced := " " + right[:3] + " " + right[3:] + "\t"
		for _, form := range []string{spaced, right[:3] + "-" + right[3:], right[:2] + "\u00a0" + right[2:4] + "\u2013" + right[4:]} {
			if got, err := f.Kind.NormalizeAnswer(form); err != nil || got != right {
				t.Errorf("NormalizeAnswer(%q) = %q, %v; want %q (spaces and dashes are ignored, as at the logon)", form, got, err, right)
			}
		}
		if _, err := check(f, f.Account, e, spaced); err != nil {
			t.Errorf("right answer with spaces: %v", err)
		}
	})

	t.Run("Expires", func(t *testing.T) {
		t.Parallel()
		f := h.Setup(t)
		e, v := begin(t, f)
		right := f.Answer(t, e, v)
		f.Clock.Set(e.ExpiresAt)
		if _, err := check(f, f.Account, e, right); !errors.Is(err, keys.ErrCodeExpired) {
			t.Errorf("answer at the enrolment's expiry: %v, want %v", err, keys.ErrCodeExpired)
		}
	})

	t.Run("BoundToTheAccount", func(t *testing.T) {
		t.Parallel()
		f := h.Setup(t)
		e, v := begin(t, f)
		right := f.Answer(t, e, v)
		other := NewAccount(t, f.Store, "other-"+f.Account.Username)
		if key, err := check(f, other, e, right); err == nil {
			t.Errorf("another account finished the enrolment: key %+v", key)
		}
	})

	if h.SingleUse {
		t.Run("AcceptedOnce", func(t *testing.T) {
			t.Parallel()
			f := h.Setup(t)
			e, v := begin(t, f)
			right := f.Answer(t, e, v)
			if _, err := check(f, f.Account, e, right); err != nil {
				t.Fatal(err)
			}
			if _, err := check(f, f.Account, e, right); err == nil {
				t.Error("the same answer was accepted twice")
			}
		})

		t.Run("AcceptedOnceConcurrently", func(t *testing.T) {
			t.Parallel()
			f := h.Setup(t)
			e, v := begin(t, f)
			right := f.Answer(t, e, v)
			const n = 10
			var (
				wg sync.WaitGroup
				mu sync.Mutex
				ok int
			)
			for range n {
				wg.Go(func() {
					if _, err := check(f, f.Account, e, right); err == nil {
						mu.Lock()
						ok++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if ok != 1 {
				t.Errorf("%d of %d concurrent right answers accepted, want exactly 1", ok, n)
			}
		})
	}

	t.Run("Resend", func(t *testing.T) {
		t.Parallel()
		f := h.Setup(t)
		r, ok := f.Kind.(keys.EnrolmentResender)
		if !ok {
			t.Skip("not an EnrolmentResender")
		}
		e, v := begin(t, f)
		old := f.Answer(t, e, v)
		f.Clock.Advance(time.Minute)
		var e2 keys.Enrolment
		err := store.InTx(ctx, f.Store, func(tx keys.Store) error {
			var err error
			e2, err = r.ResendEnrolment(ctx, tx, f.Account, e)
			return err
		})
		if err != nil {
			t.Fatalf("ResendEnrolment: %v", err)
		}
		if !e2.StartedAt.Equal(e.StartedAt) || !e2.ExpiresAt.After(e.ExpiresAt) {
			t.Errorf("resent enrolment %+v, first %+v: want the same start and a later expiry", e2, e)
		}
		v2, err := f.Kind.ViewEnrolment(f.Account, e2)
		if err != nil {
			t.Fatal(err)
		}
		right := f.Answer(t, e2, v2)
		if right != old {
			if _, err := check(f, f.Account, e2, old); err == nil {
				t.Error("the superseded answer was accepted")
			}
		}
		if _, err := check(f, f.Account, e2, right); err != nil {
			t.Errorf("the new answer: %v", err)
		}
	})
}
