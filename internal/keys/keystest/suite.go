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

// Store is what the suite hands a kind, and reads the key back from (as the logon flow does).
type Store interface {
	keys.Store
	GetKey(ctx context.Context, id int64) (store.Key, error)
}

// Fixture is one subtest's world: a store, the kind under test wired to Clock, and an account
// with an active key of the kind.
type Fixture struct {
	Kind    keys.Challenger
	Store   Store
	Clock   *Clock
	Account store.Account
	Key     store.Key
	// Answer returns the right answer to ch (which Begin returned for Key).
	Answer func(t *testing.T, ch keys.Challenge) string
}

// Harness describes a kind to RunChallenger.
type Harness struct {
	// Setup returns a fresh fixture; it is called once per subtest.
	Setup func(t *testing.T) Fixture
	// SingleUse: a right answer is accepted once only — again for the same challenge, for a
	// new challenge, or by concurrent requests (e-mailed codes, TOTP steps).
	SingleUse bool
	// Expires: a challenge's answer is no longer accepted an hour later.
	Expires bool
}

// RunChallenger runs the behaviour every Challenger must show, one subtest per rule, each with
// a fresh fixture.
func RunChallenger(t *testing.T, h Harness) {
	t.Helper()
	ctx := context.Background()
	begin := func(t *testing.T, f Fixture) keys.Challenge {
		t.Helper()
		ch, err := f.Kind.Begin(ctx, f.Store, f.Account, f.Key)
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		return ch
	}
	verify := func(f Fixture, ch keys.Challenge, answer string) error {
		// As the logon flow does: the key as stored now, not as it was when the fixture began.
		key, err := f.Store.GetKey(ctx, f.Key.ID)
		if err != nil {
			return err
		}
		return f.Kind.Verify(ctx, f.Store, f.Account, key, ch, answer)
	}
	wantWrong := func(t *testing.T, what string, err error) {
		t.Helper()
		if !errors.Is(err, keys.ErrWrongCode) || !keys.IsRetryable(err) {
			t.Errorf("%s: Verify = %v, want %v (retryable)", what, err, keys.ErrWrongCode)
		}
	}

	t.Run("Describes", func(t *testing.T) {
		t.Parallel()
		f := h.Setup(t)
		if f.Kind.Name() == "" || f.Key.Kind != f.Kind.Name() {
			t.Errorf("Name() = %q, fixture key kind %q", f.Kind.Name(), f.Key.Kind)
		}
		if !f.Kind.Level().Meets(keys.LevelSubstantial) {
			t.Errorf("Level() = %v: a second step should reach substantial", f.Kind.Level())
		}
		amr := strings.Join(f.Kind.AMR(), " ")
		if !strings.Contains(amr, "pwd") || !strings.Contains(amr, "mfa") {
			t.Errorf("AMR() = %v, want pwd and mfa among them", f.Kind.AMR())
		}
		if f.Key.Status != store.KeyActive {
			t.Errorf("fixture key status %q, want active", f.Key.Status)
		}
	})

	t.Run("RightAnswer", func(t *testing.T) {
		t.Parallel()
		f := h.Setup(t)
		ch := begin(t, f)
		if ch.Prompt == "" {
			t.Error("Begin returned a challenge without a prompt key")
		}
		if err := verify(f, ch, f.Answer(t, ch)); err != nil {
			t.Fatalf("Verify(right answer) = %v, want nil", err)
		}
	})

	t.Run("ChallengeHoldsNoSecret", func(t *testing.T) {
		t.Parallel()
		f := h.Setup(t)
		ch := begin(t, f)
		raw, err := json.Marshal(ch)
		if err != nil {
			t.Fatal(err)
		}
		if ans := f.Answer(t, ch); strings.Contains(string(raw), ans) {
			t.Errorf("challenge %s contains its answer %q", raw, ans)
		}
	})

	t.Run("WrongAnswerIsRetryable", func(t *testing.T) {
		t.Parallel()
		f := h.Setup(t)
		ch := begin(t, f)
		right := f.Answer(t, ch)
		wantWrong(t, "wrong answer", verify(f, ch, wrongAnswer(right)))
		if err := verify(f, ch, right); err != nil {
			t.Errorf("Verify(right answer after a wrong one) = %v, want nil", err)
		}
	})

	t.Run("SurroundingSpacesIgnored", func(t *testing.T) {
		t.Parallel()
		f := h.Setup(t)
		ch := begin(t, f)
		if err := verify(f, ch, " \t"+f.Answer(t, ch)+"  \n"); err != nil {
			t.Errorf("Verify(right answer with surrounding spaces) = %v, want nil", err)
		}
	})

	t.Run("InnerSpacesAndDashesIgnored", func(t *testing.T) {
		t.Parallel()
		f := h.Setup(t)
		// As apps, e-mails and cards show codes, and as they come when pasted: each form is the
		// right answer. A single-use answer is accepted once, so each form gets a challenge (and
		// for the clock-driven kinds an hour) of its own.
		for _, form := range []func(string) string{
			func(c string) string { return c[:3] + " " + c[3:] },
			func(c string) string { return c[:3] + "-" + c[3:] },
			func(c string) string { return c[:2] + "\u00a0" + c[2:4] + "\u2013" + c[4:] },
			func(c string) string { return " " + c[:1] + " " + c[1:] + "\u200b" },
		} {
			f.Clock.Advance(time.Hour)
			ch := begin(t, f)
			answer := form(f.Answer(t, ch))
			if err := verify(f, ch, answer); err != nil {
				t.Errorf("Verify(%q) = %v, want nil", answer, err)
			}
		}
	})

	t.Run("MalformedAnswersAreWrong", func(t *testing.T) {
		t.Parallel()
		f := h.Setup(t)
		ch := begin(t, f)
		right := f.Answer(t, ch)
		for _, bad := range []string{
			right[:len(right)-1], // too short
			right + "0",          // too long
			"0" + right,
			"",
			"   ",
			right[:len(right)-1] + "x",
			"１２３４５６", // full-width digits are not ASCII digits
		} {
			wantWrong(t, "answer "+strconv.Quote(bad), verify(f, ch, bad))
		}
		if err := verify(f, ch, right); err != nil {
			t.Errorf("Verify(right answer after malformed ones) = %v, want nil", err)
		}
	})

	if h.SingleUse {
		t.Run("AcceptedOnce", func(t *testing.T) {
			t.Parallel()
			f := h.Setup(t)
			ch := begin(t, f)
			right := f.Answer(t, ch)
			if err := verify(f, ch, right); err != nil {
				t.Fatalf("Verify(right answer) = %v, want nil", err)
			}
			if err := verify(f, ch, right); err == nil {
				t.Error("the same answer was accepted twice for one challenge")
			}
			ch2 := begin(t, f)
			if err := verify(f, ch2, right); err == nil {
				t.Error("a used answer was accepted for a new challenge")
			}
		})

		t.Run("AcceptedOnceConcurrently", func(t *testing.T) {
			t.Parallel()
			f := h.Setup(t)
			ch := begin(t, f)
			right := f.Answer(t, ch)
			const n = 10
			var (
				wg sync.WaitGroup
				mu sync.Mutex
				ok int
			)
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() {
					errs[i] = verify(f, ch, right)
					if errs[i] == nil {
						mu.Lock()
						ok++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if ok != 1 {
				t.Errorf("%d of %d concurrent right answers accepted, want exactly 1 (errors: %v)", ok, n, errs)
			}
		})
	}

	if h.Expires {
		t.Run("Expires", func(t *testing.T) {
			t.Parallel()
			f := h.Setup(t)
			ch := begin(t, f)
			right := f.Answer(t, ch)
			f.Clock.Advance(time.Hour)
			if err := verify(f, ch, right); err == nil {
				t.Error("an answer was accepted an hour after its challenge")
			}
		})
	}
}

// wrongAnswer returns a well-formed answer that differs from right in every digit.
func wrongAnswer(right string) string {
	b := []byte(right)
	for i, c := range b {
		if c >= '0' && c <= '9' {
			b[i] = '0' + (c-'0'+5)%10
		}
	}
	return string(b)
}
