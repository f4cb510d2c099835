package login

import (
	"context"
	"errors"
	"fmt"

	"github.com/sleutelbos/sleutelbos/internal/keys"
)

// ErrNotAFactor: BeginFactor was asked for a kind that asks no security code (the password).
var ErrNotAFactor = errors.New("login: the kind asks no security code")

// BeginFactor starts the code step of kind for the account accountID without a password step:
// the account was identified another way — a password reset link proved its mailbox
// (internal/recovery) — and must now prove a key it holds. The returned transaction is bound
// to the account and at the code step, or the error says why not, exactly as after a right
// password (NoKeyError, KeyLockedError, a resend limit). Its answers go through SubmitCode, so
// the throttles, the lockout and the audit events are the logon's own. A transaction from
// BeginFactor proves the key; it is not a logon and must never be Completed.
func (s *Service) BeginFactor(ctx context.Context, accountID int64, kind string, c Client) (*Transaction, error) {
	k, ok := s.kinds.Get(kind)
	if !ok {
		return nil, ErrUnknownKind
	}
	if _, ok := k.(keys.Challenger); !ok {
		return nil, ErrNotAFactor
	}
	acct, err := s.st.GetAccount(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("begin factor: %w", err)
	}
	tx := s.StartFor(k.Level(), "", acct.ID)
	tx.Step, tx.Kind, tx.AccountID = StepPassword, kind, acct.ID
	return tx, s.challenge(ctx, tx, acct, c)
}
