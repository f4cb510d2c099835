package recovery

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sleutelbos/sleutelbos/internal/i18n"
	"github.com/sleutelbos/sleutelbos/internal/store"
)

// ProvenRecoveryCode is Reset.Proven after a helpdesk recovery code: it stands for every key
// (the helpdesk checked the citizen's identity).
const ProvenRecoveryCode = "recovery_code"

// ReasonRecoveryCode is the Reason of a ResetFailure whose recovery code was wrong, used,
// expired or tried too often.
const ReasonRecoveryCode = "recovery_code"

// RecoveryTries is how many wrong answers one recovery code takes before it stops working.
const RecoveryTries = 5

// ErrRecoveryCode is the one answer to an unknown username and to a wrong, used, expired or
// exhausted recovery code: nothing tells them apart.
var ErrRecoveryCode = i18n.NewError("recovery.error.recovery_code")

// Errors of the recovery code form's shape (nothing is counted).
var (
	ErrUsernameEmpty = i18n.NewError("recovery.error.username_empty")
	ErrCodeShape     = i18n.NewError("recovery.error.code_shape")
)

// RecoveryCodes reads typed recovery codes and hashes them as the helpdesk stored them
// (internal/helpdesk: NormalizeRecoveryCode, RecoveryHash).
type RecoveryCodes interface {
	Normalize(typed string) (string, bool)
	Hash(accountID int64, code string) []byte
}

// RedeemCode checks the recovery code a helpdesk agent gave the citizen username and returns
// the reset it opens: no key is asked (the helpdesk checked the citizen), the new password is
// next. Requests count against the client address (this page's own count); each try counts
// against the code before it is compared, and the code stops working after RecoveryTries
// wrong ones.
// Errors: *InvalidError (a field empty or not the shape of a code: nothing counted),
// ErrRecoveryCode, *attempts.ThrottledError.
func (s *Service) RedeemCode(ctx context.Context, username, typed string, c Client) (*Reset, error) {
	if s.d.RecoveryCodes == nil {
		return nil, ErrRecoveryCode
	}
	username = strings.TrimSpace(username)
	var fields []FieldError
	if username == "" {
		fields = append(fields, FieldError{FieldUsername, ErrUsernameEmpty})
	}
	code, ok := s.d.RecoveryCodes.Normalize(typed)
	if !ok {
		fields = append(fields, FieldError{FieldCode, ErrCodeShape})
	}
	if len(fields) > 0 {
		return nil, invalid(fields...)
	}
	// Only the client address is counted here, on this page's own count: a per-username count
	// would let a stranger shut the citizen out by typing the username, as the mail pages'
	// counts did when this page shared them. The code's wrong tries bound the guessing.
	if err := s.d.AddressQuota.Take(ctx, addressScope(pageRedeem, c)); err != nil {
		return nil, err
	}
	fail := func(accountID int64) (*Reset, error) {
		s.record(ctx, store.AuditEvent{Type: ResetFailure, AccountID: accountID, Reason: ReasonRecoveryCode, IP: c.IP})
		return nil, ErrRecoveryCode
	}
	acct, err := s.d.Store.GetAccountByUsername(ctx, username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		_ = s.d.RecoveryCodes.Hash(0, code) // the same work
		return fail(0)
	case err != nil:
		return nil, fmt.Errorf("redeem recovery code: %w", err)
	}
	rc, err := s.d.Store.LatestCode(ctx, acct.ID, store.CodeRecovery)
	switch {
	case errors.Is(err, store.ErrNotFound):
		_ = s.d.RecoveryCodes.Hash(acct.ID, code)
		return fail(acct.ID)
	case err != nil:
		return nil, fmt.Errorf("redeem recovery code: %w", err)
	}
	now := s.d.Now()
	if !rc.UsedAt.IsZero() || !now.Before(rc.ExpiresAt) || rc.Attempts >= RecoveryTries {
		return fail(acct.ID)
	}
	// Count the try before comparing: parallel guesses each get their own count.
	n, err := s.d.Store.AddCodeAttempt(ctx, rc.ID)
	if err != nil {
		return nil, fmt.Errorf("redeem recovery code: %w", err)
	}
	if n > RecoveryTries || !s.d.Hasher.Equal(s.d.RecoveryCodes.Hash(acct.ID, code), rc.Hash) {
		return fail(acct.ID)
	}
	// A code issued before the account got a role (granting one voids it too) opens nothing:
	// the helpdesk may not act on operators and helpdesk agents.
	for _, role := range []string{store.RoleOperator, store.RoleHelpdesk} {
		held, err := s.d.Store.HasRole(ctx, acct.ID, role)
		if err != nil {
			return nil, fmt.Errorf("redeem recovery code: %w", err)
		}
		if held {
			return fail(acct.ID)
		}
	}
	expires := rc.ExpiresAt
	if t := now.Add(s.cfg.ResetValidity); t.Before(expires) {
		expires = t
	}
	return &Reset{AccountID: acct.ID, CodeID: rc.ID, Purpose: store.CodeRecovery, ExpiresAt: expires,
		Proven: ProvenRecoveryCode}, nil
}
