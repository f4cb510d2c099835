package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sleutelbos/sleutelbos/internal/store"
)

// Run runs the conformance suite against the backend that newStore makes. Every subtest gets a
// fresh, empty, migrated store from newStore; newStore is expected to release it when its test
// ends (t.Cleanup). Tests that race goroutines against each other are kept under "Concurrent".
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	groups := []struct {
		name  string
		tests []test
	}{
		{"Accounts", accountTests},
		{"Keys", keyTests},
		{"Codes", codeTests},
		{"Sessions", sessionTests},
		{"Attempts", attemptTests},
		{"Audit", auditTests},
		{"Tx", txTests},
		{"Outbox", outboxTests},
		{"AuthRequests", authRequestTests},
		{"Clients", clientTests},
		{"SigningKeys", signingKeyTests},
		{"Citizens", citizenTests},
		{"Signups", signupTests},
		{"Phaseout", phaseoutTests},
		{"Concurrent", concurrentTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.fn(t, newStore(t))
				})
			}
		})
	}
}

// test is one subtest of the suite.
type test struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// t0 is the suite's fixed clock: a time with microsecond precision, the precision stores keep.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 123456000, time.UTC)

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// ctxOf returns the test's context.
func ctxOf(t *testing.T) context.Context { return t.Context() }

// diff compares want and got: times by Equal, nil and empty slices and maps alike.
func diff(want, got any) string {
	return cmp.Diff(want, got, cmpopts.EquateEmpty())
}

// must fails the test at once when err is not nil.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr checks that err matches target with errors.Is.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

// newAccount creates an account with username and returns it.
func newAccount(t *testing.T, s store.Store, username string) store.Account {
	t.Helper()
	a := store.Account{
		Username:     username,
		Name:         "Citizen " + username,
		Email:        username + "@example.be",
		Language:     "nl",
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA",
		CreatedAt:    t0,
		UpdatedAt:    t0,
	}
	must(t, s.CreateAccount(ctxOf(t), &a))
	return a
}

// newKey creates an active key of kind for the account and returns it.
func newKey(t *testing.T, s store.Store, accountID int64, kind, serial string) store.Key {
	t.Helper()
	k := store.Key{
		AccountID:   accountID,
		Kind:        kind,
		Status:      store.KeyActive,
		Serial:      serial,
		Data:        []byte("data of " + kind + serial),
		CreatedAt:   t0,
		ActivatedAt: t0,
	}
	must(t, s.CreateKey(ctxOf(t), &k))
	return k
}

// newMessage returns a message to enqueue, numbered n.
func newMessage(n int, next time.Time) store.Message {
	return store.Message{
		MessageID:     fmt.Sprintf("<%d@sleutelbos.test>", n),
		AccountID:     0,
		Template:      "logon_code",
		Language:      "nl",
		ToAddress:     fmt.Sprintf("citizen%d@example.be", n),
		ToName:        fmt.Sprintf("Citizen %d", n),
		Subject:       "Uw code",
		TextBody:      "Uw code is 123456",
		HTMLBody:      "<p>Uw code is 123456</p>",
		NextAttemptAt: next,
		CreatedAt:     t0,
	}
}

// enqueue enqueues m and returns it as stored.
func enqueue(t *testing.T, s store.Store, m store.Message) store.Message {
	t.Helper()
	must(t, s.Enqueue(ctxOf(t), &m))
	return m
}

// ids returns the IDs of msgs in order.
func ids(msgs []store.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}
