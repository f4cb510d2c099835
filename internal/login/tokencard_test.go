package login_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/sleutelbos/sleutelbos/internal/audit"
	"github.com/sleutelbos/sleutelbos/internal/keys"
	"github.com/sleutelbos/sleutelbos/internal/login"
	"github.com/sleutelbos/sleutelbos/internal/login/logintest"
	"github.com/sleutelbos/sleutelbos/internal/store"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore"
	"github.com/sleutelbos/sleutelbos/internal/store/sqlstore/sqltest"
)

// TestCardPositionStaysUntilAnswered: restarting the logon never shows another card position
// before the one asked is answered right — across logon transactions and across nodes (two
// services on one store) — and every restart that gets the pending position again is in the
// audit log. Only after a right answer does the next logon get another position; a logon still
// holding the old one can then no longer answer it.
func TestCardPositionStaysUntilAnswered(t *testing.T) {
	sqltest.EachParallel(t, func(t *testing.T, db *sqlstore.DB) {
		ctx := context.Background()
		nodes := []*logintest.World{logintest.New(t, db, logintest.Options{}), logintest.New(t, db, logintest.Options{})}
		c := login.Client{IP: "192.0.2.1"}
		begin := func(w *logintest.World) *login.Transaction {
			t.Helper()
			tx := w.Service.Start(keys.LevelSubstantial, "/")
			if err := w.Service.Choose(tx, keys.TokenCard); err != nil {
				t.Fatal(err)
			}
			if err := w.Service.SubmitPassword(ctx, tx, "jan", nodes[0].Citizen.Password, c); err != nil || tx.Step != login.StepCode {
				t.Fatalf("SubmitPassword: %v at %s", err, tx.Step)
			}
			return tx
		}
		asked := func(tx *login.Transaction) int {
			t.Helper()
			p, err := strconv.Atoi(tx.Challenge.Args[0])
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		repeats := func() []store.AuditEvent {
			t.Helper()
			evs, err := db.ListAudit(ctx, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			var out []store.AuditEvent
			for _, e := range evs {
				if e.Type == audit.ChallengeRepeated {
					out = append(out, e)
				}
			}
			return out
		}
		codes := nodes[0].CardCodes

		first := begin(nodes[0])
		pos := asked(first)
		var txs []*login.Transaction
		for i := range 30 {
			w := nodes[(i+1)%2]
			tx := begin(w)
			if got := asked(tx); got != pos {
				t.Fatalf("restart %d (node %d): position %d asked, want the unanswered %d again", i+1, (i+1)%2, got, pos)
			}
			if i%10 == 0 {
				// A wrong answer does not move the card on either (a few: the throttle is not the point here).
				if err := w.Service.SubmitCode(ctx, tx, wrong(codes[pos-1]), c); !keys.IsRetryable(err) {
					t.Fatalf("wrong answer: %v", err)
				}
			}
			txs = append(txs, tx)
		}
		evs := repeats()
		if len(evs) != 30 {
			t.Fatalf("%d %s events, want 30 (one per restart that got the pending position)", len(evs), audit.ChallengeRepeated)
		}
		for _, e := range evs {
			if e.AccountID != nodes[0].Account.ID || e.KeyKind != keys.TokenCard || e.KeyID != first.KeyID || e.Detail["asked"] != strconv.Itoa(pos) || e.IP != c.IP {
				t.Fatalf("audit event %+v, want account %d, key %d, asked %d", e, nodes[0].Account.ID, first.KeyID, pos)
			}
		}

		// Answered right on one node, the position is done: the next logon, on the other node,
		// gets another one and is no repeat.
		if err := nodes[1].Service.SubmitCode(ctx, txs[len(txs)-1], codes[pos-1], c); err != nil {
			t.Fatalf("right answer: %v", err)
		}
		next := begin(nodes[0])
		if got := asked(next); got == pos {
			t.Fatalf("after the right answer the same position %d was asked again", pos)
		}
		if n := len(repeats()); n != 30 {
			t.Errorf("%d %s events after a fresh draw, want still 30", n, audit.ChallengeRepeated)
		}
		// Only the position asked last is answerable.
		if err := nodes[0].Service.SubmitCode(ctx, first, codes[pos-1], c); !errors.Is(err, keys.ErrCodeExpired) {
			t.Errorf("the old position after a new draw: %v, want %v", err, keys.ErrCodeExpired)
		}
		if err := nodes[1].Service.SubmitCode(ctx, next, codes[asked(next)-1], c); err != nil {
			t.Errorf("the new position: %v", err)
		}
	})
}
