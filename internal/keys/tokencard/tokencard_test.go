package tokencard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/keys/keystest"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

func testHasher(t testing.TB) *secrets.Hasher {
	t.Helper()
	h, err := secrets.NewHasher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// fixture creates an account with an active card in st and returns the kind, account, key and
// the card's plaintext codes.
func fixture(t testing.TB, st store.Store, seed uint64) (*Kind, store.Account, store.Key, [Positions]string) {
	t.Helper()
	h := testHasher(t)
	rnd := keystest.NewRand(seed)
	k, err := New(h, rnd)
	if err != nil {
		t.Fatal(err)
	}
	serial := "SER-" + strconv.FormatUint(seed, 10)
	codes := DemoCodes([]byte("test seed"), serial)
	acct := keystest.NewAccount(t, st, "card"+strconv.FormatUint(seed, 10))
	key, err := NewKey(h, acct.ID, serial, codes, keystest.Start())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateKey(context.Background(), &key); err != nil {
		t.Fatal(err)
	}
	return k, acct, key, codes
}

func TestChallenger(t *testing.T) {
	t.Parallel()
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			var seed atomic.Uint64
			keystest.RunChallenger(t, keystest.Harness{
				Setup: func(t *testing.T) keystest.Fixture {
					st := b.Open(t)
					k, acct, key, codes := fixture(t, st, seed.Add(1))
					return keystest.Fixture{
						Kind: k, Store: st, Clock: keystest.NewClock(keystest.Start()),
						Account: acct, Key: key,
						Answer: func(t *testing.T, ch keys.Challenge) string {
							pos, err := strconv.Atoi(ch.State)
							if err != nil || pos < 1 || pos > Positions {
								t.Fatalf("challenge state %q is not a position", ch.State)
							}
							return codes[pos-1]
						},
					}
				},
				// A paper code is reused across logons and does not expire.
				SingleUse: false,
				Expires:   false,
			})
		})
	}
}

func TestBeginNeverRepeatsAndCoversAll(t *testing.T) {
	t.Parallel()
	eachStore(t, testBeginNeverRepeatsAndCoversAll)
}

// testBeginNeverRepeatsAndCoversAll: after each right answer the next logon is asked another
// position, and over many logons every position is asked.
func testBeginNeverRepeatsAndCoversAll(t *testing.T, st *sqlstore.DB) {
	k, acct, key, codes := fixture(t, st, 1)
	ctx := context.Background()
	seen := map[int]int{}
	last := 0
	for i := range 1000 {
		ch, err := k.Begin(ctx, st, acct, key) // key is stale on purpose: Begin re-reads
		if err != nil {
			t.Fatal(err)
		}
		pos, err := strconv.Atoi(ch.State)
		if err != nil || pos < 1 || pos > Positions {
			t.Fatalf("draw %d: position %q out of 1..%d", i, ch.State, Positions)
		}
		if pos == last || ch.Repeated {
			t.Fatalf("draw %d: position %d asked twice in a row after a right answer (repeated %v)", i, pos, ch.Repeated)
		}
		if ch.Prompt != "login.tokencard.prompt" || len(ch.Args) != 1 || ch.Args[0] != ch.State {
			t.Fatalf("draw %d: challenge %+v", i, ch)
		}
		got, err := st.GetKey(ctx, key.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Verify(ctx, st, acct, got, ch, codes[pos-1]); err != nil {
			t.Fatalf("draw %d: right answer: %v", i, err)
		}
		seen[pos]++
		last = pos
	}
	for p := 1; p <= Positions; p++ {
		if seen[p] == 0 {
			t.Errorf("position %d never asked in 1000 draws", p)
		}
	}
}

// TestPositionStaysUntilAnswered: a position stays asked — however often the logon is
// restarted, after wrong answers too — until it is answered right; the next logon then draws
// another one.
func TestPositionStaysUntilAnswered(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *sqlstore.DB) {
		k, acct, key, codes := fixture(t, st, 5)
		ctx := context.Background()
		first, err := k.Begin(ctx, st, acct, key)
		if err != nil {
			t.Fatal(err)
		}
		if first.Repeated {
			t.Error("the first position asked is marked repeated")
		}
		pos, _ := strconv.Atoi(first.State)
		for i := range 50 {
			ch, err := k.Begin(ctx, st, acct, key)
			if err != nil {
				t.Fatal(err)
			}
			if ch.State != first.State || !ch.Repeated {
				t.Fatalf("restart %d: asked %s (repeated %v), want %s again, repeated", i+1, ch.State, ch.Repeated, first.State)
			}
			cur, err := st.GetKey(ctx, key.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := k.Verify(ctx, st, acct, cur, ch, wrongCode(codes[pos-1])); !errors.Is(err, keys.ErrWrongCode) {
				t.Fatalf("restart %d: wrong answer: %v", i+1, err)
			}
		}
		cur, err := st.GetKey(ctx, key.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Verify(ctx, st, acct, cur, first, codes[pos-1]); err != nil {
			t.Fatalf("right answer: %v", err)
		}
		// Answered, the position is still the one asked last: a concurrent logon that was asked
		// it may still answer it.
		cur, err = st.GetKey(ctx, key.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Verify(ctx, st, acct, cur, first, codes[pos-1]); err != nil {
			t.Errorf("right answer of a concurrent logon: %v", err)
		}
		next, err := k.Begin(ctx, st, acct, key)
		if err != nil {
			t.Fatal(err)
		}
		if next.State == first.State || next.Repeated {
			t.Errorf("after a right answer: asked %s (repeated %v), want another position", next.State, next.Repeated)
		}
	})
}

// TestEarlierCounter: a counter written by an earlier release (the bare position asked last)
// reads as that position, still pending.
func TestEarlierCounter(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *sqlstore.DB) {
		k, acct, key, codes := fixture(t, st, 6)
		ctx := context.Background()
		if err := st.SetKeyCounter(ctx, key.ID, 17); err != nil {
			t.Fatal(err)
		}
		ch, err := k.Begin(ctx, st, acct, key)
		if err != nil {
			t.Fatal(err)
		}
		if ch.State != "17" || !ch.Repeated {
			t.Fatalf("after an earlier release's counter 17: asked %s (repeated %v), want 17 again", ch.State, ch.Repeated)
		}
		cur, err := st.GetKey(ctx, key.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Verify(ctx, st, acct, cur, ch, codes[16]); err != nil {
			t.Fatalf("right answer: %v", err)
		}
		if ch, err = k.Begin(ctx, st, acct, key); err != nil || ch.State == "17" {
			t.Errorf("after the right answer: asked %s, %v; want another position", ch.State, err)
		}
	})
}

func wrongCode(c string) string {
	if c == "000000" {
		return "111111"
	}
	return "000000"
}

func TestNextPositionUniform(t *testing.T) {
	t.Parallel()
	rnd := keystest.NewRand(42)
	const draws = 24 * 2000
	for _, last := range []int64{0, 1, 12, 24} {
		counts := make([]int, Positions+1)
		for range draws {
			p, err := nextPosition(rnd, last)
			if err != nil {
				t.Fatal(err)
			}
			if p < 1 || p > Positions || int64(p) == last {
				t.Fatalf("last %d: drew %d", last, p)
			}
			counts[p]++
		}
		n := Positions
		if last != 0 {
			n--
		}
		want := float64(draws) / float64(n)
		var chi2 float64
		for p := 1; p <= Positions; p++ {
			if int64(p) == last {
				continue
			}
			d := float64(counts[p]) - want
			chi2 += d * d / want
		}
		// 23 degrees of freedom: p = 0.001 at 49.7.
		if chi2 > 49.7 {
			t.Errorf("last %d: chi² = %.1f over %d positions, not uniform: %v", last, chi2, n, counts)
		}
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	eachStore(t, testVerify)
}

func testVerify(t *testing.T, st *sqlstore.DB) {
	k, acct, key, codes := fixture(t, st, 3)
	ctx := context.Background()
	for _, c := range codes {
		if bytes.Contains(key.Data, []byte(c)) {
			t.Fatalf("key data holds plaintext code %s: %s", c, key.Data)
		}
	}
	ch := keys.Challenge{Prompt: "login.tokencard.prompt", Args: []string{"5"}, State: "5"}
	key.Counter = asked{draw: 1, pos: 5}.counter() // as Begin would have stored it
	if err := k.Verify(ctx, st, acct, key, ch, codes[4]); err != nil {
		t.Errorf("right code: %v", err)
	}
	for i, c := range codes {
		if i == 4 || c == codes[4] {
			continue
		}
		if err := k.Verify(ctx, st, acct, key, ch, c); !errors.Is(err, keys.ErrWrongCode) {
			t.Errorf("code of position %d for position 5: %v, want wrong code", i+1, err)
		}
	}
	// A code hashed for another serial does not match.
	other := key
	other.Serial = key.Serial + "0"
	if err := k.Verify(ctx, st, acct, other, ch, codes[4]); !errors.Is(err, keys.ErrWrongCode) {
		t.Errorf("code checked against another serial: %v, want wrong code", err)
	}
	for _, state := range []string{"", "0", "25", "x"} {
		err := k.Verify(ctx, st, acct, key, keys.Challenge{State: state}, codes[0])
		if err == nil || errors.Is(err, keys.ErrWrongCode) {
			t.Errorf("state %q: %v, want an internal error", state, err)
		}
	}
	broken := key
	broken.Data = []byte(`{"v":1,"codes":[]}`)
	if err := k.Verify(ctx, st, acct, broken, ch, codes[4]); err == nil || errors.Is(err, keys.ErrWrongCode) {
		t.Errorf("broken data: %v, want an internal error", err)
	}
}

func TestKindDescription(t *testing.T) {
	t.Parallel()
	k, err := New(testHasher(t), keystest.NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	if k.Name() != "tokencard" || k.Level() != keys.LevelSubstantial || strings.Join(k.AMR(), ",") != "pwd,otp,mfa" {
		t.Errorf("kind = %s %v %v", k.Name(), k.Level(), k.AMR())
	}
	var kind keys.Kind = k
	if _, ok := kind.(keys.Enroller); ok {
		t.Error("tokencard is an Enroller; cards are only imported")
	}
	if _, err := New(nil, keystest.NewRand(1)); err == nil {
		t.Error("New without hasher: want error")
	}
	if _, err := New(testHasher(t), nil); err == nil {
		t.Error("New without rand: want error")
	}
}

func TestDemoCodes(t *testing.T) {
	t.Parallel()
	seed := []byte("demo seed")
	a, b := DemoCodes(seed, "1234567890"), DemoCodes(seed, "1234567890")
	if a != b {
		t.Error("DemoCodes is not deterministic")
	}
	if a == DemoCodes(seed, "1234567891") || a == DemoCodes([]byte("other seed"), "1234567890") {
		t.Error("DemoCodes ignores the serial or the seed")
	}
	distinct := map[string]bool{}
	for i, c := range a {
		if !keys.IsCode(c, CodeLength) {
			t.Errorf("demo code %d = %q", i+1, c)
		}
		distinct[c] = true
	}
	if len(distinct) < 20 {
		t.Errorf("demo codes look degenerate: %v", a)
	}
}

func BenchmarkVerify(b *testing.B) {
	// No store: tokencard's Verify only reads the key it is given.
	h := testHasher(b)
	k, err := New(h, keystest.NewRand(1))
	if err != nil {
		b.Fatal(err)
	}
	codes := DemoCodes([]byte("bench seed"), "BENCH-1")
	key, err := NewKey(h, 1, "BENCH-1", codes, keystest.Start())
	if err != nil {
		b.Fatal(err)
	}
	key.Counter = asked{draw: 1, answered: true, pos: 18}.counter() // answered: Verify only reads
	ch := keys.Challenge{State: "18"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := k.Verify(ctx, nil, store.Account{}, key, ch, codes[17]); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSupersededPosition: once the position is answered, the next logon asks another one; a
// logon still holding the old position can no longer answer it.
func TestSupersededPosition(t *testing.T) {
	t.Parallel()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		h, err := secrets.NewHasher(bytes.Repeat([]byte{5}, 32))
		if err != nil {
			t.Fatal(err)
		}
		k, err := New(h, keystest.NewRand(11))
		if err != nil {
			t.Fatal(err)
		}
		acct := keystest.NewAccount(t, db, "superseded")
		var codes [Positions]string
		for i := range codes {
			codes[i] = fmt.Sprintf("%06d", 200000+i)
		}
		key, err := NewKey(h, acct.ID, "SUP-1", codes, keystest.Start())
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateKey(ctx, &key); err != nil {
			t.Fatal(err)
		}
		pos := func(ch keys.Challenge) int { p, _ := strconv.Atoi(ch.State); return p }
		stored := func() store.Key { // as stored now, as the logon flow passes it
			t.Helper()
			k, err := db.GetKey(ctx, key.ID)
			if err != nil {
				t.Fatal(err)
			}
			return k
		}
		first, err := k.Begin(ctx, db, acct, key)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Verify(ctx, db, acct, stored(), first, codes[pos(first)-1]); err != nil {
			t.Fatalf("first challenge: %v", err)
		}
		second, err := k.Begin(ctx, db, acct, key)
		if err != nil {
			t.Fatal(err)
		}
		if first.State == second.State {
			t.Fatalf("the same position %s was asked again after a right answer", first.State)
		}
		if err := k.Verify(ctx, db, acct, stored(), first, codes[pos(first)-1]); !errors.Is(err, keys.ErrCodeExpired) {
			t.Errorf("superseded challenge: %v, want ErrCodeExpired", err)
		}
		if err := k.Verify(ctx, db, acct, stored(), second, codes[pos(second)-1]); err != nil {
			t.Errorf("current challenge: %v", err)
		}
	})
}

// eachStore runs fn in parallel on SQLite and PostgreSQL, each with a fresh store.
func eachStore(t *testing.T, fn func(t *testing.T, db *sqlstore.DB)) {
	t.Helper()
	sqltest.Each(t, func(t *testing.T, db *sqlstore.DB) {
		t.Parallel()
		fn(t, db)
	})
}
