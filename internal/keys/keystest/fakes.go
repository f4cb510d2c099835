package keystest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"github.com/sleutelbos/sleutelbos/internal/clock"
	mrand "math/rand/v2"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/sleutelbos/sleutelbos/internal/mail"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Clock is the shared manual clock (internal/clock); its Now method is the clock a kind takes.
type Clock = clock.Fake

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return clock.NewFake(t) }

// Start returns a fixed instant to start test clocks at (15 January 2024 09:30:00 UTC, during
// the seed's phase-out campaign), at the beginning of a 30-second step.
func Start() time.Time { return time.Date(2024, 1, 15, 9, 30, 0, 0, time.UTC) }

// Sent is one message recorded by Mailer.
type Sent struct {
	To       mail.Recipient
	Template string
	Data     map[string]any
}

// Mailer is a recording fake of the mailer the kinds consume. Enqueue records the call and
// writes a minimal message (template name, "Code: …" and "Minutes: …" lines) to the outbox it
// is given, so it commits or rolls back with the caller's transaction like the real composer.
type Mailer struct {
	mu   sync.Mutex
	sent []Sent
	// Err, when set, is returned by Enqueue instead of writing anything.
	Err error
}

// Enqueue records the message and writes it to ob.
func (m *Mailer) Enqueue(ctx context.Context, ob mail.Outbox, to mail.Recipient, template string, data map[string]any) error {
	if m.Err != nil {
		return m.Err
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	msg := store.Message{
		MessageID: "<" + hex.EncodeToString(id[:]) + "@keystest.invalid>",
		AccountID: to.AccountID,
		Template:  template,
		Language:  to.Language,
		ToAddress: to.Address,
		ToName:    to.Name,
		Subject:   template,
		TextBody:  fmt.Sprintf("%s\nCode: %v\nMinutes: %v\n", template, data["Code"], data["Minutes"]),
		State:     store.MessageHeld,
	}
	if err := ob.Enqueue(ctx, &msg); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, Sent{To: to, Template: template, Data: data})
	return nil
}

// Sent returns the recorded messages, oldest first. A message whose transaction rolled back is
// still recorded here but not in the outbox.
func (m *Mailer) Sent() []Sent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Sent(nil), m.sent...)
}

var codeLine = regexp.MustCompile(`(?m)^Code: ([0-9]{6})$`)

// MessageLister lists the outbox, newest first (store.Store implements it).
type MessageLister interface {
	ListMessages(ctx context.Context, limit int) ([]store.Message, error)
}

// OutboxCode returns the code in the newest outbox message written by Mailer to address, failing
// the test when there is none.
func OutboxCode(t testing.TB, ob MessageLister, address string) string {
	t.Helper()
	msgs, err := ob.ListMessages(context.Background(), 100)
	if err != nil {
		t.Fatalf("list outbox: %v", err)
	}
	for _, m := range msgs {
		if m.ToAddress != address {
			continue
		}
		if sub := codeLine.FindStringSubmatch(m.TextBody); sub != nil {
			return sub[1]
		}
	}
	t.Fatalf("no code e-mailed to %s in the outbox (%d messages)", address, len(msgs))
	return ""
}

// NewAccount creates an account called username (e-mail username@example.test, language en).
func NewAccount(t testing.TB, st interface {
	CreateAccount(ctx context.Context, a *store.Account) error
}, username string) store.Account {
	t.Helper()
	a := store.Account{
		Username:     username,
		Name:         "Test " + username,
		Email:        username + "@example.test",
		Language:     "en",
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		CreatedAt:    Start(),
		UpdatedAt:    Start(),
	}
	if err := st.CreateAccount(context.Background(), &a); err != nil {
		t.Fatalf("create account %s: %v", username, err)
	}
	return a
}

// Rand is a deterministic random source for tests (ChaCha8 from seed), safe for concurrent use.
type Rand struct {
	mu sync.Mutex
	r  *mrand.ChaCha8
}

// NewRand returns a deterministic random source seeded with seed.
func NewRand(seed uint64) *Rand {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return &Rand{r: mrand.NewChaCha8(s)}
}

// Read fills p with pseudo-random bytes; it never fails.
func (r *Rand) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.r.Read(p)
}
