package tokencard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/secrets"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Positions is the number of codes on a card; positions are numbered 1 to Positions.
const Positions = 24

// CodeLength is the number of digits of every card code.
const CodeLength = 6

// hashDomain separates card-code hashes from every other use of the hasher.
const hashDomain = "tokencard"

// Kind is the tokencard key kind.
type Kind struct {
	hasher *secrets.Hasher
	rand   io.Reader
}

var (
	_ keys.Kind       = (*Kind)(nil)
	_ keys.Challenger = (*Kind)(nil)
	_ keys.CodeAsker  = (*Kind)(nil)
)

// New returns the tokencard kind. h hashes card codes (the same key as at import); rand picks
// the positions asked (crypto/rand.Reader in production).
func New(h *secrets.Hasher, rand io.Reader) (*Kind, error) {
	if h == nil {
		return nil, errors.New("tokencard: hasher is nil")
	}
	if rand == nil {
		return nil, errors.New("tokencard: random source is nil")
	}
	return &Kind{hasher: h, rand: rand}, nil
}

// Name returns "tokencard".
func (*Kind) Name() string { return keys.TokenCard }

// Level returns keys.LevelSubstantial.
func (*Kind) Level() keys.Level { return keys.LevelSubstantial }

// AMR returns ["pwd", "otp", "mfa"] (RFC 8176): password plus a one-time code.
func (*Kind) AMR() []string { return []string{"pwd", "otp", "mfa"} }

// CodeLength returns CodeLength.
func (*Kind) CodeLength() int { return CodeLength }

// positionStore is what choosing a position takes, inside one transaction.
type positionStore interface {
	LockAccount(ctx context.Context, id int64) error
	GetKey(ctx context.Context, id int64) (store.Key, error)
	SetKeyCounter(ctx context.Context, id int64, counter int64) error
}

var _ positionStore = store.Store(nil)

// asked is what the key's counter records: the position asked last, whether it was answered
// right, and how many positions were drawn (so the counter only grows and AdvanceKeyCounter can
// mark exactly this draw answered). The counter is draw<<6 | answered<<5 | position. The
// counter of an earlier release (the bare position) reads as draw 0, its position still
// pending: at worst one more logon is asked that position again.
type asked struct {
	draw     int64
	answered bool
	pos      int
}

func decodeAsked(counter int64) asked {
	if counter < 0 {
		return asked{}
	}
	return asked{draw: counter >> 6, answered: counter&(1<<5) != 0, pos: int(counter & 0x1f)}
}

func (a asked) counter() int64 {
	c := a.draw<<6 | int64(a.pos)
	if a.answered {
		c |= 1 << 5
	}
	return c
}

// pending reports whether a position was asked and not yet answered right.
func (a asked) pending() bool { return !a.answered && a.pos >= 1 && a.pos <= Positions }

// Begin asks the position a previous logon asked and nobody answered right yet — to every new
// logon, on every node, until it is answered right — and otherwise draws a uniformly random
// position other than the one asked last. Restarting the logon therefore never shows another
// position to someone who holds one stolen code: only a right answer moves the card on. The
// challenge of a position asked again says so (Repeated), for the audit log.
func (k *Kind) Begin(ctx context.Context, st keys.Store, acct store.Account, key store.Key) (keys.Challenge, error) {
	var pos int
	repeated := false
	err := store.InTx(ctx, st, func(tx positionStore) error {
		// Lock, then read the counter again: key may have been loaded before another logon
		// asked a position, and two logons at once must not both draw from the same state.
		if err := tx.LockAccount(ctx, acct.ID); err != nil {
			return err
		}
		cur, err := tx.GetKey(ctx, key.ID)
		if err != nil {
			return err
		}
		last := decodeAsked(cur.Counter)
		if last.pending() {
			pos, repeated = last.pos, true
			return nil
		}
		if pos, err = nextPosition(k.rand, int64(last.pos)); err != nil {
			return err
		}
		return tx.SetKeyCounter(ctx, key.ID, asked{draw: last.draw + 1, pos: pos}.counter())
	})
	if err != nil {
		return keys.Challenge{}, fmt.Errorf("tokencard begin: %w", err)
	}
	p := strconv.Itoa(pos)
	return keys.Challenge{Prompt: "login.tokencard.prompt", Args: []string{p}, State: p, Repeated: repeated}, nil
}

// nextPosition draws a position in 1..Positions uniformly among those different from last (a
// last outside that range excludes nothing).
func nextPosition(rand io.Reader, last int64) (int, error) {
	if last < 1 || last > Positions {
		n, err := secrets.Uniform(rand, Positions)
		return int(n) + 1, err
	}
	n, err := secrets.Uniform(rand, Positions-1)
	if err != nil {
		return 0, err
	}
	pos := int(n) + 1
	if int64(pos) >= last {
		pos++ // skip last: the 23 remaining positions stay equally likely
	}
	return pos, nil
}

// Verify checks answer against the code at the position in ch. Spaces and dashes are ignored
// (keys.NormalizeCode); anything but exactly 6 ASCII digits is simply wrong. A paper code is not
// single use: the same position may be asked again in a later logon (never in the next one
// after a right answer). Only the position asked last is answerable: a challenge superseded by
// a newer draw gives ErrCodeExpired. A right answer marks the position answered (st must be the
// store then), so the next logon draws a new one.
func (k *Kind) Verify(ctx context.Context, st keys.Store, acct store.Account, key store.Key, ch keys.Challenge, answer string) error {
	pos, err := strconv.Atoi(ch.State)
	if err != nil || pos < 1 || pos > Positions {
		return fmt.Errorf("tokencard verify: challenge position %q is not 1..%d", ch.State, Positions)
	}
	last := decodeAsked(key.Counter)
	if last.pos != pos {
		return keys.ErrCodeExpired
	}
	hashes, err := decodeData(key.Data)
	if err != nil {
		return fmt.Errorf("tokencard verify key %d: %w", key.ID, err)
	}
	code, err := keys.NormalizeCode(answer, CodeLength)
	if err != nil {
		return keys.ErrWrongCode // not a code at all: simply wrong, nothing compared
	}
	if !k.hasher.Equal(k.hasher.Sum(hashDomain, key.Serial, strconv.Itoa(pos), code), hashes[pos-1]) {
		return keys.ErrWrongCode
	}
	if !last.answered {
		// Only this draw: when a concurrent logon marked it already, or a newer logon drew
		// another position meanwhile, the counter is not below and nothing changes.
		done := last
		done.answered = true
		if _, err := st.AdvanceKeyCounter(ctx, key.ID, done.counter()); err != nil {
			return fmt.Errorf("tokencard verify key %d: mark position answered: %w", key.ID, err)
		}
	}
	return nil
}

// data is the JSON stored in Key.Data: one keyed hash per position, position 1 first.
type data struct {
	Version int      `json:"v"`
	Hashes  [][]byte `json:"codes"`
}

func decodeData(raw []byte) ([][]byte, error) {
	var d data
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("card data: %w", err)
	}
	if d.Version != 1 || len(d.Hashes) != Positions {
		return nil, fmt.Errorf("card data: version %d with %d codes, want version 1 with %d", d.Version, len(d.Hashes), Positions)
	}
	return d.Hashes, nil
}

// NewKey returns an active tokencard key (not yet stored) for the card serial with codes, its
// codes replaced by keyed hashes. Import uses it; so does the demo.
func NewKey(h *secrets.Hasher, accountID int64, serial string, codes [Positions]string, now time.Time) (store.Key, error) {
	d := data{Version: 1, Hashes: make([][]byte, Positions)}
	for i, c := range codes {
		if !keys.IsCode(c, CodeLength) {
			return store.Key{}, fmt.Errorf("card %s: code %d is not %d digits", serial, i+1, CodeLength)
		}
		d.Hashes[i] = h.Sum(hashDomain, serial, strconv.Itoa(i+1), c)
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return store.Key{}, fmt.Errorf("card %s: %w", serial, err)
	}
	return store.Key{
		AccountID:   accountID,
		Kind:        keys.TokenCard,
		Status:      store.KeyActive,
		Serial:      serial,
		Data:        raw,
		CreatedAt:   now,
		ActivatedAt: now,
	}, nil
}
